import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import axios, { type AxiosInstance } from 'axios';
import { projectRoot } from '../paths';
import { errorOfAnswer } from './errorAnswer';
import {
  WechatPayApiError,
  WechatPayTransportError,
  WechatPayUnexpectedAnswerError,
  type WechatPayError,
} from './errors';
import { buildAuthorizationAsync, type MerchantSigningKey } from './signer';
import { exchange, type ExchangeBounds } from './transport';
import type { HeaderBag, Verifier } from './verifier';

/**
 * The HTTP layer every endpoint goes through: signs the exact bytes it sends, bounds each attempt in time and
 * answer size (transport.ts), verifies every answer that carries a signature (2xx always; an error answer when
 * it is signed, see errorAnswer.ts) over the exact bytes received before parsing, turns everything else into
 * typed errors, and fails over from the primary to the backup domain.
 *
 * Failover: a request that certainly did not leave (connection refused, DNS) and a 5xx answer go to the other
 * domain; so does a GET whatever its transport failure. A POST whose outcome is unknown (a timeout or a reset
 * after it was sent) is NOT resent inside the same request: WeChat Pay may have executed it, so the error goes
 * to the caller, which queries the record or contract before it sends again.
 */

export interface WechatPayLogger {
  debug(msg: string, meta?: Record<string, unknown>): void;
  warn(msg: string, meta?: Record<string, unknown>): void;
}

export interface WechatPayClientOptions {
  merchant: MerchantSigningKey;
  /** Verifies answers; its preferredSerial goes in the `Wechatpay-Serial` request header. */
  verifier: Verifier;
  baseUrls: { primary: string; backup?: string };
  /** Total deadline of each attempt (connect, send, the whole answer), default 10 000. */
  timeoutMs?: number;
  /** Largest answer body accepted, default 1 MiB; a larger one is ANSWER_TOO_LARGE and is not read. */
  maxAnswerBytes?: number;
  /** Cool-down after a primary failure before the primary is tried first again, default 60 000. */
  failbackAfterMs?: number;
  userAgent?: string;
  logger?: WechatPayLogger;
  /** Called around each HTTP attempt (tracing); it sees method, path and outcome, never the body or headers. */
  observer?: WechatPayAttemptObserver;
}

export interface WechatPayAttemptObserver {
  observe<T>(
    attempt: { method: 'GET' | 'POST'; url: string; baseUrl: string },
    send: () => Promise<WechatPayResponse<T>>,
  ): Promise<WechatPayResponse<T>>;
}

export interface WechatPayRequest {
  method: 'GET' | 'POST';
  /** Absolute path, path parameters already URL-encoded (encodeURIComponent). */
  path: string;
  query?: Record<string, string>;
  body?: unknown;
}

export interface WechatPayResponse<T> {
  httpStatus: number;
  data: T;
  requestId?: string;
  /** The base URL that answered (primary or backup). */
  baseUrl: string;
}

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_ANSWER_BYTES = 1024 * 1024;
export const DEFAULT_FAILBACK_AFTER_MS = 60_000;
/** WeChat Pay closes idle connections at about 8 s; free ours first (the Java SDK uses 7 s). */
export const IDLE_SOCKET_MS = 7_000;

/** Path plus query exactly as sent and signed; the query is encoded like URLSearchParams (space as `+`). */
export function canonicalUrlOf(path: string, query?: Record<string, string>): string {
  if (!query) return path;
  const search = new URLSearchParams(query).toString();
  return search ? `${path}?${search}` : path;
}

export class WechatPayHttpClient {
  private readonly merchant: MerchantSigningKey;
  private readonly verifier: Verifier;
  private readonly primary: string;
  private readonly backup: string | undefined;
  private readonly failbackAfterMs: number;
  private readonly userAgent: string;
  private readonly logger: WechatPayLogger | undefined;
  private readonly observer: WechatPayAttemptObserver | undefined;
  private readonly httpAgent: HttpAgent;
  private readonly httpsAgent: HttpsAgent;
  private readonly http: AxiosInstance;
  private readonly bounds: ExchangeBounds;
  /** Until this time (ms since epoch) the backup is tried first. */
  private primaryDownUntil = 0;

  constructor(options: WechatPayClientOptions) {
    this.merchant = options.merchant;
    this.verifier = options.verifier;
    this.primary = trimSlash(options.baseUrls.primary);
    this.backup = options.baseUrls.backup === undefined ? undefined : trimSlash(options.baseUrls.backup);
    this.failbackAfterMs = options.failbackAfterMs ?? DEFAULT_FAILBACK_AFTER_MS;
    this.userAgent = options.userAgent ?? defaultUserAgent();
    this.logger = options.logger;
    this.observer = options.observer;
    // `timeout` on a keep-alive agent is the idle timeout of its free sockets.
    this.httpAgent = new HttpAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS });
    this.httpsAgent = new HttpsAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS });
    this.bounds = {
      deadlineMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      maxAnswerBytes: options.maxAnswerBytes ?? DEFAULT_MAX_ANSWER_BYTES,
    };
    this.http = axios.create({
      httpAgent: this.httpAgent,
      httpsAgent: this.httpsAgent,
      proxy: false,
      maxRedirects: 0,
      // The body is read by transport.ts, which bounds its size and time.
      responseType: 'stream',
      // Bytes in, bytes out: nothing may re-serialise what was signed or parse what is not yet verified.
      transformRequest: [(data: unknown) => data],
      transformResponse: [(data: unknown) => data],
      validateStatus: () => true,
    });
  }

  async request<T>(req: WechatPayRequest): Promise<WechatPayResponse<T>> {
    const canonicalUrl = canonicalUrlOf(req.path, req.query);
    // Serialised once: these exact bytes are signed and sent, on every attempt.
    const body = req.method === 'POST' ? JSON.stringify(req.body ?? {}) : '';
    const [first, second] = this.baseUrlsInOrder();
    try {
      return await this.observed<T>(first, req.method, canonicalUrl, body);
    } catch (error) {
      if (!shouldFailOver(error)) throw error;
      if (first === this.primary) this.primaryDownUntil = Date.now() + this.failbackAfterMs;
      if (second === undefined) throw error;
      if (req.method === 'POST' && error instanceof WechatPayTransportError && error.outcomeUnknown) {
        this.logger?.warn('wechatpay: outcome unknown, not resent to the other domain', {
          method: req.method,
          path: req.path,
          code: error.code,
        });
        throw error;
      }
      this.logger?.warn('wechatpay: failing over', {
        method: req.method,
        path: req.path,
        from: first,
        to: second,
        code: (error as WechatPayError).code,
      });
      const answer = await this.observed<T>(second, req.method, canonicalUrl, body);
      if (second === this.primary) this.primaryDownUntil = 0;
      return answer;
    }
  }

  /** Frees the keep-alive sockets; the client must not be used afterwards. */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  private observed<T>(baseUrl: string, method: 'GET' | 'POST', url: string, body: string) {
    const send = (): Promise<WechatPayResponse<T>> => this.attempt<T>(baseUrl, method, url, body);
    return this.observer ? this.observer.observe({ method, url, baseUrl }, send) : send();
  }

  private baseUrlsInOrder(): [string, string | undefined] {
    if (this.backup === undefined) return [this.primary, undefined];
    return Date.now() < this.primaryDownUntil ? [this.backup, this.primary] : [this.primary, this.backup];
  }

  private async attempt<T>(
    baseUrl: string,
    method: 'GET' | 'POST',
    canonicalUrl: string,
    body: string,
  ): Promise<WechatPayResponse<T>> {
    // Signed anew per attempt: the host is not signed, a fresh nonce and timestamp are harmless.
    const authorization = await buildAuthorizationAsync(this.merchant, method, canonicalUrl, body);
    const headers: Record<string, string> = {
      Authorization: authorization,
      Accept: 'application/json',
      'User-Agent': this.userAgent,
      'Wechatpay-Serial': this.verifier.preferredSerial,
    };
    if (method === 'POST') headers['Content-Type'] = 'application/json';
    this.logger?.debug('wechatpay: request', { method, url: canonicalUrl, baseUrl });

    const answer = await exchange(this.http, { method, baseUrl, canonicalUrl, headers, body }, this.bounds);
    const { httpStatus, body: raw } = answer;
    const requestId = headerOf(answer.headers, 'request-id');
    if (httpStatus < 200 || httpStatus >= 300) throw errorOfAnswer(this.verifier, answer, requestId);

    this.verifier.verify(answer.headers as HeaderBag, raw, httpStatus);
    let data: unknown;
    if (raw.length > 0) {
      try {
        data = JSON.parse(raw.toString('utf8'));
      } catch {
        throw new WechatPayUnexpectedAnswerError({
          httpStatus,
          message: `${method} ${canonicalUrl}: the verified answer is not JSON`,
          ...(requestId === undefined ? {} : { requestId }),
        });
      }
    }
    return { httpStatus, data: data as T, baseUrl, ...(requestId === undefined ? {} : { requestId }) };
  }
}

/** Connection errors, timeouts and 5xx go to the other domain; 4xx and failed verifications do not. */
function shouldFailOver(error: unknown): boolean {
  if (error instanceof WechatPayTransportError) return true;
  return error instanceof WechatPayApiError && error.httpStatus >= 500;
}

function headerOf(headers: unknown, lowerName: string): string | undefined {
  const value = (headers as Record<string, unknown> | undefined)?.[lowerName];
  return typeof value === 'string' && value ? value : undefined;
}

function trimSlash(url: string): string {
  return url.endsWith('/') ? url.slice(0, -1) : url;
}

let cachedUserAgent: string | undefined;

function defaultUserAgent(): string {
  if (cachedUserAgent === undefined) {
    const pkg = JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as { version?: string };
    cachedUserAgent = `wechatpay-credit-repayment-worker/${pkg.version ?? '0'} (node ${process.versions.node})`;
  }
  return cachedUserAgent;
}
