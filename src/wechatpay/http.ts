import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import { projectRoot } from '../paths';
import {
  WechatPayApiError,
  WechatPayTransportError,
  WechatPayUnexpectedAnswerError,
  type WechatPayError,
} from './errors';
import { buildAuthorizationAsync, type MerchantSigningKey } from './signer';
import type { Verifier } from './verifier';

/**
 * The HTTP layer every endpoint goes through: signs the exact bytes it sends, verifies every 2xx answer over
 * the exact bytes received before parsing, turns everything else into typed errors, and fails over from the
 * primary to the backup domain.
 *
 * Failover and POST: a timeout or a reset after the request was sent leaves the outcome unknown, yet the
 * request is resent once to the backup. That is safe here because every POST of this project carries an
 * idempotent merchant id (`out_record_id`, `out_contract_code`): WeChat Pay executes it at most once.
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
  /** Per request (each attempt), default 10 000. */
  timeoutMs?: number;
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
export const DEFAULT_FAILBACK_AFTER_MS = 60_000;
/** WeChat Pay closes idle connections at about 8 s; free ours first (the Java SDK uses 7 s). */
export const IDLE_SOCKET_MS = 7_000;

/** Errors of a connection that never carried the request: it was certainly not executed. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
]);

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
    this.http = axios.create({
      httpAgent: this.httpAgent,
      httpsAgent: this.httpsAgent,
      timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      transitional: { clarifyTimeoutError: true },
      proxy: false,
      maxRedirects: 0,
      responseType: 'arraybuffer',
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

    let res: AxiosResponse<ArrayBuffer>;
    try {
      res = await this.http.request<ArrayBuffer>({
        method,
        url: baseUrl + canonicalUrl,
        headers,
        ...(method === 'POST' ? { data: body } : {}),
      });
    } catch (error) {
      // Never rethrow the axios error: its config carries the Authorization header and the body.
      throw transportErrorOf(error, method, canonicalUrl, baseUrl);
    }

    const raw = Buffer.from(res.data);
    const requestId = headerOf(res.headers, 'request-id');
    const httpStatus = res.status;
    if (httpStatus < 200 || httpStatus >= 300) throw apiErrorOf(httpStatus, raw, requestId);

    this.verifier.verify(res.headers as Record<string, string>, raw, httpStatus);
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

function apiErrorOf(httpStatus: number, raw: Buffer, requestId: string | undefined): WechatPayApiError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const fields = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  const code = typeof fields.code === 'string' && fields.code ? fields.code : `HTTP_${httpStatus}`;
  const message =
    typeof fields.message === 'string'
      ? fields.message
      : parsed === undefined
        ? `error answer without a JSON body (${raw.length} bytes)`
        : 'error answer without a message';
  return new WechatPayApiError({
    httpStatus,
    code,
    message,
    ...(fields.detail === undefined ? {} : { detail: fields.detail }),
    ...(requestId === undefined ? {} : { requestId }),
  });
}

/** Builds our own error from an axios failure, keeping only the error code and whether the request left. */
function transportErrorOf(
  error: unknown,
  method: string,
  canonicalUrl: string,
  baseUrl: string,
): WechatPayTransportError {
  const code = transportCode(error);
  const outcomeUnknown = !NOT_SENT_CODES.has(code) && requestWasSent(error);
  const what = code === 'ETIMEDOUT' ? 'timed out' : `failed (${code})`;
  return new WechatPayTransportError(
    code,
    `${method} ${canonicalUrl} to ${baseUrl} ${what}${outcomeUnknown ? '; the outcome is unknown' : ''}`,
    outcomeUnknown,
  );
}

function transportCode(error: unknown): string {
  const record = typeof error === 'object' && error !== null ? (error as { code?: unknown; cause?: unknown }) : {};
  const cause = typeof record.cause === 'object' && record.cause !== null ? (record.cause as { code?: unknown }) : {};
  // axios reports its own code (ERR_NETWORK…) and keeps the system one on the cause.
  for (const candidate of [cause.code, record.code]) {
    if (typeof candidate === 'string' && /^E[A-Z_]+$/.test(candidate) && !candidate.startsWith('ERR_')) {
      return candidate;
    }
  }
  return 'TRANSPORT_ERROR';
}

/** Whether the request was written out completely, from the node ClientRequest axios attaches to its error. */
function requestWasSent(error: unknown): boolean {
  const request = typeof error === 'object' && error !== null ? (error as { request?: unknown }).request : undefined;
  if (typeof request !== 'object' || request === null) return true;
  const { writableFinished } = request as { writableFinished?: unknown };
  return typeof writableFinished === 'boolean' ? writableFinished : true;
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
