import type { Readable } from 'node:stream';
import type { AxiosInstance, AxiosResponse } from 'axios';
import { WechatPayTransportError } from './errors';

/**
 * One HTTP exchange within two bounds, with every failure turned into a WechatPayTransportError that says whether
 * the request may have been executed:
 * - a total deadline for the attempt (connect, send, headers and every byte of the body). axios' `timeout` on Node
 *   is a socket idle timeout, which an answer trickling one byte a second never trips;
 * - a maximum answer size: refused from its Content-Length before a byte of the body is read, or as soon as the
 *   bytes read pass it (the connection is destroyed: nothing more is read).
 */

export interface ExchangeRequest {
  method: 'GET' | 'POST';
  baseUrl: string;
  /** Path and query exactly as signed. */
  canonicalUrl: string;
  headers: Record<string, string>;
  /** The exact bytes signed (POST); ignored for GET. */
  body: string;
}

export interface ExchangeBounds {
  deadlineMs: number;
  maxAnswerBytes: number;
}

export interface RawAnswer {
  httpStatus: number;
  /** Header names in lower case. */
  headers: Record<string, unknown>;
  /** The body exactly as received (after any Content-Encoding is undone), never decoded. */
  body: Buffer;
}

export const ANSWER_TOO_LARGE = 'ANSWER_TOO_LARGE';

/** Errors of a connection that never carried the request: it was certainly not executed. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
]);

class AnswerTooLarge extends Error {}

export async function exchange(http: AxiosInstance, req: ExchangeRequest, bounds: ExchangeBounds): Promise<RawAnswer> {
  const controller = new AbortController();
  let expired = false;
  const timer = setTimeout(() => {
    expired = true;
    controller.abort();
  }, bounds.deadlineMs);
  let res: AxiosResponse<Readable> | undefined;
  try {
    res = await http.request<Readable>({
      method: req.method,
      url: req.baseUrl + req.canonicalUrl,
      headers: req.headers,
      signal: controller.signal,
      ...(req.method === 'POST' ? { data: req.body } : {}),
    });
    const body = await readBounded(res.data, res.headers['content-length'], bounds.maxAnswerBytes);
    return { httpStatus: res.status, headers: res.headers as Record<string, unknown>, body };
  } catch (error) {
    controller.abort(); // whatever failed, the connection must not go back to the keep-alive pool half read
    // Never rethrow the axios error: its config carries the Authorization header and the body.
    throw transportErrorOf(error, req, { expired, answered: res !== undefined, deadlineMs: bounds.deadlineMs });
  } finally {
    clearTimeout(timer);
  }
}

async function readBounded(stream: Readable, contentLength: unknown, maxBytes: number): Promise<Buffer> {
  if (Number(contentLength) > maxBytes) {
    stream.destroy();
    throw new AnswerTooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  // Leaving the loop by a throw destroys the stream (and its socket).
  for await (const chunk of stream) {
    const bytes = chunk as Buffer;
    size += bytes.length;
    if (size > maxBytes) throw new AnswerTooLarge();
    chunks.push(bytes);
  }
  return Buffer.concat(chunks, size);
}

function transportErrorOf(
  error: unknown,
  req: ExchangeRequest,
  state: { expired: boolean; answered: boolean; deadlineMs: number },
): WechatPayTransportError {
  const where = `${req.method} ${req.canonicalUrl} to ${req.baseUrl}`;
  if (error instanceof AnswerTooLarge) {
    return new WechatPayTransportError(
      ANSWER_TOO_LARGE,
      `${where}: the answer is larger than allowed and was not read; the outcome is unknown`,
      true,
    );
  }
  // Once an answer has begun, the request was certainly received: whatever failed next, the outcome is unknown.
  const code = state.expired ? 'ETIMEDOUT' : transportCode(error);
  const outcomeUnknown = state.answered || (!NOT_SENT_CODES.has(code) && requestWasSent(error));
  const what = state.expired ? `timed out (deadline ${state.deadlineMs} ms)` : `failed (${code})`;
  return new WechatPayTransportError(
    code,
    `${where} ${what}${outcomeUnknown ? '; the outcome is unknown' : ''}`,
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
