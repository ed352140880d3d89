import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { PayloadDecryptionError } from './payloadEncryption';

/**
 * The Temporal codec-server protocol over the project's payload codec, so that the Web UI and the `temporal` CLI
 * show decoded payloads while the server's history holds ciphertext: `POST /decode` and `POST /encode` (also under
 * a namespace segment, `/{namespace}/decode`, as the CLI's endpoint templating produces), each taking and
 * returning `{"payloads":[…]}` in proto JSON (metadata values and data base64).
 *
 * Browsers: only the configured origins (the Web UI's) get CORS headers; any other origin is refused. The UI sends
 * `Content-Type` and `X-Namespace`, plus `Authorization` when "pass access token" is on and cookies when "include
 * cross-origin credentials" is on, so the preflight allows those headers and credentials. With tokens configured,
 * every POST must carry `Authorization: Bearer <token>`.
 */

export interface CodecServerOptions {
  codec: PayloadCodec;
  host: string;
  /** 0 = any free port. */
  port: number;
  /** Exact origins (scheme://host[:port]) allowed to call from a browser. */
  allowedOrigins: readonly string[];
  /** Accepted bearer tokens; none = no authentication (loopback only, enforced by the configuration). */
  tokens?: readonly string[];
  tls?: { cert: Buffer; key: Buffer };
  logger?: { warn(message: string, meta?: Record<string, unknown>): void };
}

export interface RunningCodecServer {
  /** Base URL to give the Web UI (`--ui-codec-endpoint`) and the CLI (`--codec-endpoint`). */
  url: string;
  close(): Promise<void>;
}

/** The UI batches a whole history page into one request; Temporal payloads are at most 2 MiB each. */
const MAX_BODY_BYTES = 16 * 1024 * 1024;
const ROUTE = /^(?:\/[^/]+)?\/(encode|decode)$/;
const ALLOWED_HEADERS = 'Content-Type, X-Namespace, Authorization';

interface JsonPayload {
  metadata?: Record<string, string> | null;
  data?: string | null;
}

class HttpProblem extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function startCodecServer(options: CodecServerOptions): Promise<RunningCodecServer> {
  const origins = new Set(options.allowedOrigins);
  const tokens = (options.tokens ?? []).map(digest);
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((err: unknown) => {
      const problem = err instanceof HttpProblem ? err : undefined;
      if (!problem) options.logger?.warn('codec server: request failed', { error: (err as Error).message });
      reply(res, problem?.status ?? 500, { error: problem?.message ?? 'internal error' });
    });
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const origin = req.headers.origin;
    if (origin !== undefined) {
      if (!origins.has(origin)) throw new HttpProblem(403, `origin ${origin} is not allowed`);
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Vary', 'Origin');
    }
    const route = ROUTE.exec(new URL(req.url ?? '/', 'http://codec').pathname)?.[1];
    if (!route) throw new HttpProblem(404, 'not found: POST /encode or /decode');
    if (req.method === 'OPTIONS') {
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', ALLOWED_HEADERS);
      res.setHeader('Access-Control-Max-Age', '600');
      // A public UI calling a codec server on a private network (Chrome's Private Network Access).
      if (req.headers['access-control-request-private-network'] === 'true') {
        res.setHeader('Access-Control-Allow-Private-Network', 'true');
      }
      res.writeHead(204).end();
      return;
    }
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST, OPTIONS');
      throw new HttpProblem(405, 'method not allowed');
    }
    if (tokens.length > 0 && !authorized(req.headers.authorization, tokens)) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      throw new HttpProblem(401, 'a valid Authorization: Bearer token is required');
    }
    const payloads = parseBody(await readBody(req));
    try {
      const converted =
        route === 'decode' ? await options.codec.decode(payloads) : await options.codec.encode(payloads);
      reply(res, 200, { payloads: converted.map(toJson) });
    } catch (err) {
      // A payload of another key or a tampered one: say so, never echo the payload.
      if (err instanceof PayloadDecryptionError) throw new HttpProblem(400, err.message);
      throw err;
    }
  }

  const server: Server = options.tls
    ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, handler)
    : createHttpServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `${options.tls ? 'https' : 'http'}://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Compared as SHA-256 digests: constant time, whatever the lengths. */
function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

function authorized(header: string | undefined, tokens: readonly Buffer[]): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!match?.[1]) return false;
  const given = digest(match[1]);
  return tokens.reduce((ok, token) => timingSafeEqual(token, given) || ok, false);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpProblem(413, `body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function parseBody(body: Buffer): Payload[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpProblem(400, 'the body is not JSON');
  }
  // Proto JSON leaves an empty repeated field out: the CLI sends `{}` for a query without arguments.
  const object = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed);
  const payloads = object ? ((parsed as { payloads?: unknown }).payloads ?? []) : undefined;
  if (!Array.isArray(payloads) || Object.keys(parsed as object).some((key) => key !== 'payloads')) {
    throw new HttpProblem(400, 'the body must be {"payloads":[…]}');
  }
  return payloads.map((p, i) => fromJson(p, i));
}

function fromJson(value: unknown, index: number): Payload {
  const { metadata, data } = (value ?? {}) as JsonPayload;
  const strings = Object.entries(metadata ?? {});
  if (typeof value !== 'object' || strings.some(([, v]) => typeof v !== 'string') || !isOptionalString(data)) {
    throw new HttpProblem(400, `payloads[${index}]: metadata values and data must be base64 strings`);
  }
  return {
    metadata: Object.fromEntries(strings.map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    data: Buffer.from(data ?? '', 'base64'),
  };
}

function toJson(payload: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')]),
    ),
    data: Buffer.from(payload.data ?? []).toString('base64'),
  };
}

function isOptionalString(value: unknown): boolean {
  return value === undefined || value === null || typeof value === 'string';
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
}
