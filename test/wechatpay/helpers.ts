import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WechatPayHttpClient, type WechatPayClientOptions, type WechatPayLogger } from '../../src/wechatpay/http';
import {
  newNonce,
  parseAuthorization,
  requestSignMessage,
  responseSignMessage,
  signMessage,
  unixSeconds,
  verifyMessage,
} from '../../src/wechatpay/signer';
import { Verifier } from '../../src/wechatpay/verifier';

/** Test-only helpers: RSA keys made at test time and a loopback server that signs its answers. */

export interface TestKeys {
  mchid: string;
  merchantSerial: string;
  merchantPrivate: KeyObject;
  merchantPublic: KeyObject;
  platformSerial: string;
  platformPrivate: KeyObject;
  platformPublic: KeyObject;
}

export function makeKeys(): TestKeys {
  const merchant = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const platform = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    mchid: '1900000109',
    merchantSerial: '3775B6A45ACD588826D15E583A95F5DD00000001',
    merchantPrivate: merchant.privateKey,
    merchantPublic: merchant.publicKey,
    platformSerial: 'PUB_KEY_ID_0114232134912410000000000000001',
    platformPrivate: platform.privateKey,
    platformPublic: platform.publicKey,
  };
}

export interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export type Handler = (req: Received, res: ServerResponse, raw: IncomingMessage) => void;

export interface TestServer {
  url: string;
  received: Received[];
  sockets: Socket[];
  handle(handler: Handler): void;
  close(): Promise<void>;
}

/** A node:http server on 127.0.0.1, port 0, recording every request; the handler can be swapped per test. */
export async function startServer(initial: Handler): Promise<TestServer> {
  let handler = initial;
  const received: Received[] = [];
  const sockets: Socket[] = [];
  const server: Server = createServer((raw, res) => {
    const chunks: Buffer[] = [];
    raw.on('data', (c: Buffer) => chunks.push(c));
    raw.on('end', () => {
      const req = {
        method: raw.method ?? '',
        url: raw.url ?? '',
        headers: raw.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      received.push(req);
      handler(req, res, raw);
    });
  });
  server.on('connection', (s: Socket) => sockets.push(s));
  // Longer than the client's idle timeout, so that the client, not the server, closes idle connections.
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    sockets,
    handle(next) {
      handler = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on (bound then released). */
export async function closedPortUrl(): Promise<string> {
  const server = await startServer(() => undefined);
  const url = server.url;
  await server.close();
  return url;
}

export interface SignOverrides {
  timestamp?: string;
  nonce?: string;
  signature?: string;
  serial?: string;
  omit?: string[];
  /** The body actually sent, when it should differ from the one signed (tampering). */
  sentBody?: string | Buffer;
  headers?: Record<string, string>;
}

/** The four Wechatpay-* headers for a body, signed with the platform key. */
export function signedHeaders(keys: TestKeys, body: string | Buffer, o: SignOverrides = {}): Record<string, string> {
  const timestamp = o.timestamp ?? unixSeconds();
  const nonce = o.nonce ?? newNonce();
  const headers: Record<string, string> = {
    'Wechatpay-Timestamp': timestamp,
    'Wechatpay-Nonce': nonce,
    'Wechatpay-Signature':
      o.signature ?? signMessage(keys.platformPrivate, responseSignMessage(timestamp, nonce, body)),
    'Wechatpay-Serial': o.serial ?? keys.platformSerial,
  };
  for (const name of o.omit ?? []) delete headers[name];
  return headers;
}

export function answer(
  res: ServerResponse,
  keys: TestKeys,
  status: number,
  body: string | Buffer,
  o: SignOverrides = {},
): void {
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Request-ID': 'req-0001',
    ...signedHeaders(keys, body, o),
    ...o.headers,
  });
  res.end(o.sentBody ?? body);
}

/** An answer without any signature header (a proxy's page, or WeChat Pay's 401 to a request it refused). */
export function unsignedAnswer(
  res: ServerResponse,
  status: number,
  body: string,
  contentType = 'application/json',
): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Request-ID': 'req-err-1' });
  res.end(body);
}

/** The server-side check the sandbox does: the Authorization header signs exactly this request. */
export function requestSignatureValid(keys: TestKeys, req: Received): boolean {
  const auth = parseAuthorization(String(req.headers.authorization ?? ''));
  if (!auth || auth.mchid !== keys.mchid || auth.serial_no !== keys.merchantSerial) return false;
  const message = requestSignMessage(req.method, req.url, auth.timestamp, auth.nonce_str, req.body);
  return verifyMessage(keys.merchantPublic, message, auth.signature);
}

export interface LogLine {
  level: 'debug' | 'warn';
  msg: string;
  meta?: Record<string, unknown>;
}

export function recordingLogger(lines: LogLine[]): WechatPayLogger {
  return {
    debug: (msg, meta) => lines.push({ level: 'debug', msg, ...(meta ? { meta } : {}) }),
    warn: (msg, meta) => lines.push({ level: 'warn', msg, ...(meta ? { meta } : {}) }),
  };
}

export function makeClient(
  keys: TestKeys,
  baseUrls: WechatPayClientOptions['baseUrls'],
  extra: Partial<WechatPayClientOptions> = {},
): WechatPayHttpClient {
  return new WechatPayHttpClient({
    merchant: { mchid: keys.mchid, serialNo: keys.merchantSerial, privateKey: keys.merchantPrivate },
    verifier: new Verifier({ [keys.platformSerial]: keys.platformPublic }),
    baseUrls,
    ...extra,
  });
}

/** Resolves with the error a promise rejects with; fails the test if it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  let value: unknown;
  try {
    value = await promise;
  } catch (error) {
    return error;
  }
  throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
}

/** Everything an error exposes: message, stack and every own property, serialised. */
export function everythingIn(error: unknown): string {
  if (!(error instanceof Error)) return JSON.stringify(error);
  const props: Record<string, unknown> = {};
  for (const name of Object.getOwnPropertyNames(error))
    props[name] = (error as unknown as Record<string, unknown>)[name];
  return `${error.message}\n${error.stack ?? ''}\n${JSON.stringify(props)}`;
}

export interface ServerPair {
  readonly primary: TestServer;
  readonly backup: TestServer;
  /** A client of these keys; closed after the test. */
  client(baseUrls: WechatPayClientOptions['baseUrls'], extra?: Partial<WechatPayClientOptions>): WechatPayHttpClient;
}

/**
 * Registers beforeEach/afterEach hooks: a fresh primary and backup server per test, both answering `okBody` signed,
 * and every client made through the pair closed afterwards.
 */
export function useServerPair(keys: TestKeys, okBody: string): ServerPair {
  let primary: TestServer | undefined;
  let backup: TestServer | undefined;
  const clients: WechatPayHttpClient[] = [];
  beforeEach(async () => {
    primary = await startServer((_req, res) => answer(res, keys, 200, okBody));
    backup = await startServer((_req, res) => answer(res, keys, 200, okBody));
  });
  afterEach(async () => {
    clients.splice(0).forEach((c) => c.close());
    await Promise.all([primary?.close(), backup?.close()]);
  });
  return {
    get primary() {
      return primary as TestServer;
    },
    get backup() {
      return backup as TestServer;
    },
    client(baseUrls, extra = {}) {
      const c = makeClient(keys, baseUrls, extra);
      clients.push(c);
      return c;
    },
  };
}
