import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { AnswerSender, sendText } from './answers';
import type { RequestAuthenticator } from './auth';
import type { PrimarySwitch, SandboxControl } from './control';
import { checkControlAccess } from './controlAccess';
import { handleControlRequest } from './controlRoutes';
import { matchEndpoint, type EndpointContext } from './endpoints';
import { paramError, SandboxError } from './errors';
import { faultAnswer, refusesExecution, type Fault, type FaultQueue } from './faults';
import { inventionsIn } from './inventions';
import type { SandboxKeys } from './keys';
import type { SlidingWindowLimiter } from './rateLimiter';
import type { RequestLog } from './requestLog';

/**
 * The two HTTP listeners (primary and backup, same behaviour) and the request pipeline: `/sandbox/…` goes to the
 * control API (unsigned JSON, loopback callers or a token: controlAccess.ts); everything else is an APIv3 request: authenticated, routed to one of the five
 * endpoints, rate-limited (compensation query), subjected to any injected fault, logged, and answered (answers.ts:
 * signed, labelled where it invents, sabotaged by the fault).
 */

export type ListenerName = 'primary' | 'backup';

export interface SandboxServerDeps {
  host: string;
  primaryPort: number;
  backupPort: number;
  authenticator: RequestAuthenticator;
  keys: SandboxKeys;
  faults: FaultQueue;
  log: RequestLog;
  compensationLimiter: SlidingWindowLimiter;
  endpoints: EndpointContext;
  logger: (line: string) => void;
  /** When set, every control call must carry it as a Bearer token; when not, only loopback callers may call. */
  controlToken?: string;
  /** The clock of answer timestamps (the authenticator has the same one): moved by a clock-drift episode. */
  authNowMs?: () => number;
}

const MAX_BODY_BYTES = 1024 * 1024;
/** WeChat Pay closes idle keep-alive connections after about 8 s; so does the sandbox. */
const KEEP_ALIVE_TIMEOUT_MS = 8_000;

export class SandboxServer implements PrimarySwitch {
  private control: SandboxControl | undefined;
  private readonly servers = new Map<ListenerName, Server>();
  private readonly sockets = new Map<ListenerName, Set<Socket>>([
    ['primary', new Set()],
    ['backup', new Set()],
  ]);
  /** Sockets serving a control request right now: they survive the primary going down until they answer. */
  private readonly controlSockets = new Set<Socket>();
  private readonly answers: AnswerSender;
  private ports: Record<ListenerName, number>;
  private up = true;
  private closed = false;

  constructor(private readonly deps: SandboxServerDeps) {
    this.ports = { primary: deps.primaryPort, backup: deps.backupPort };
    this.answers = new AnswerSender(deps.keys, deps.authNowMs);
  }

  /** The control API is served by this server but also needs it (primary switch): wired after construction. */
  attachControl(control: SandboxControl): void {
    this.control = control;
  }

  async start(): Promise<void> {
    await this.listen('primary');
    await this.listen('backup');
  }

  url(name: ListenerName): string {
    return `http://${this.deps.host}:${this.ports[name]}`;
  }

  get primaryUp(): boolean {
    return this.up;
  }

  async setPrimaryUp(up: boolean): Promise<void> {
    if (up === this.up || this.closed) return;
    if (up) {
      await this.listen('primary');
      this.up = true;
      return;
    }
    this.up = false;
    this.servers.get('primary')?.close();
    this.servers.delete('primary');
    for (const socket of this.sockets.get('primary') ?? []) {
      if (!this.controlSockets.has(socket)) socket.destroy();
    }
    // Let the listening handle close before the caller connects again.
    await new Promise((resolve) => setImmediate(resolve));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.answers.close();
    const closing = [...this.servers.values()].map((server) => new Promise((resolve) => server.close(resolve)));
    for (const set of this.sockets.values()) for (const socket of set) socket.destroy();
    this.servers.clear();
    await Promise.all(closing);
  }

  private async listen(name: ListenerName): Promise<void> {
    const server = createServer((req, res) => void this.handle(name, req, res));
    server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    server.on('connection', (socket) => {
      const set = this.sockets.get(name) as Set<Socket>;
      set.add(socket);
      socket.on('close', () => set.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.ports[name], this.deps.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.ports[name] = (server.address() as AddressInfo).port;
    this.servers.set(name, server);
  }

  private async handle(listener: ListenerName, req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (listener === 'primary' && !this.up) {
      req.socket.destroy();
      return;
    }
    const requestId = randomBytes(16).toString('hex').toUpperCase();
    res.setHeader('Request-ID', requestId);
    let raw: string;
    try {
      raw = await readBody(req);
    } catch {
      sendJson(res, 400, { code: 'INVALID_REQUEST', message: `request body larger than ${MAX_BODY_BYTES} bytes` });
      req.socket.destroy();
      return;
    }
    const url = req.url ?? '/';
    const { pathname, searchParams } = new URL(url, 'http://sandbox.invalid');
    try {
      if (pathname === '/sandbox' || pathname.startsWith('/sandbox/')) {
        await this.handleControl(listener, req, res, pathname, searchParams, raw);
      } else {
        await this.handleApi(listener, req, res, url, pathname, searchParams, raw);
      }
    } catch (err) {
      // Only a bug gets here; the answer must still go out.
      this.deps.logger(`sandbox: internal error on ${req.method} ${pathname}: ${(err as Error).message}`);
      if (!res.headersSent) sendJson(res, 500, { code: 'SYSTEM_ERROR', message: 'sandbox internal error' });
    }
  }

  private async handleControl(
    listener: ListenerName,
    req: IncomingMessage,
    res: ServerResponse,
    pathname: string,
    query: URLSearchParams,
    raw: string,
  ): Promise<void> {
    if (!this.control) throw new Error('control API not attached');
    const refusal = checkControlAccess(req.socket.remoteAddress, req.headers.authorization, this.deps.controlToken);
    if (refusal) {
      this.deps.logger(`sandbox ${listener}: control ${req.method} ${pathname} refused (${refusal.status})`);
      for (const [name, value] of Object.entries(refusal.headers)) res.setHeader(name, value);
      sendJson(res, refusal.status, refusal.body);
      return;
    }
    this.controlSockets.add(req.socket);
    try {
      const answer = await handleControlRequest(this.control, req.method ?? 'GET', pathname, query, raw);
      // A primary that just went down answers this last request, then closes the connection.
      if (listener === 'primary' && !this.up) res.setHeader('Connection', 'close');
      sendJson(res, answer.status, answer.body);
    } finally {
      this.controlSockets.delete(req.socket);
    }
  }

  private async handleApi(
    listener: ListenerName,
    req: IncomingMessage,
    res: ServerResponse,
    url: string,
    pathname: string,
    query: URLSearchParams,
    raw: string,
  ): Promise<void> {
    const method = req.method ?? 'GET';
    const route = matchEndpoint(method, pathname);
    const parsedBody = parseJsonOrUndefined(raw);
    let fault: Fault | undefined;
    let status = 200;
    let answer: unknown;
    try {
      this.deps.authenticator.authenticate(method, url, req.headers, raw);
      if (!route) throw new SandboxError(404, 'NOT_FOUND', `${method} ${pathname}: 接口不存在 (no such API)`);
      if (route.endpoint === 'compensation-query' && !this.deps.compensationLimiter.tryAcquire()) {
        throw new SandboxError(429, 'FREQUENCY_LIMITED', '频率超限 (more than the allowed calls per second)');
      }
      fault = this.deps.faults.take(route.endpoint);
      if (fault && refusesExecution(fault.kind)) throw faultAnswer(fault.kind);
      if (method === 'POST' && parsedBody === undefined) {
        throw paramError('body', 'INVALID_JSON', '不是有效的 JSON (not valid JSON)');
      }
      answer = await route.run(this.deps.endpoints, query, parsedBody);
    } catch (err) {
      if (!(err instanceof SandboxError)) throw err;
      status = err.httpStatus;
      answer = err.toBody();
    }
    const invented = inventionsIn(answer);
    this.deps.log.append({
      listener,
      method,
      path: url,
      endpoint: route?.endpoint ?? 'unknown',
      status,
      ...(fault ? { fault: fault.kind } : {}),
      ...(invented.length > 0 ? { invented } : {}),
      ...(parsedBody === undefined ? {} : { body: parsedBody }),
    });
    this.deps.logger(`sandbox ${listener}: ${method} ${pathname} → ${status}${fault ? ` (fault ${fault.kind})` : ''}`);
    const requestedSerial = headerValue(req.headers['wechatpay-serial']);
    // WeChat Pay does not sign its answer to a request whose signature it refused (401 SIGN_ERROR).
    const certificateDownload = route?.endpoint === 'certificates';
    this.answers.send(
      res,
      {
        status,
        body: answer,
        signed: status !== 401,
        requestedSerial,
        certificateDownload,
        invented,
        ...(route ? { endpoint: route.endpoint } : {}),
      },
      fault,
    );
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('body too large'));
        req.removeAllListeners('data');
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseJsonOrUndefined(raw: string): unknown {
  if (raw.length === 0) return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return undefined;
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  sendText(res, status, body === undefined ? '' : JSON.stringify(body));
}
