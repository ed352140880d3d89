/**
 * Typed errors of the WeChat Pay client. Every error carries `code`, `httpStatus` (0 when no HTTP
 * answer was received) and `retryable`, so that callers (activities) can classify without parsing
 * messages. No error ever carries an Authorization header, a key or a full request body.
 */

export abstract class WechatPayError extends Error {
  abstract readonly code: string;
  abstract readonly httpStatus: number;
  abstract readonly retryable: boolean;
}

/**
 * Whether a verified error answer is worth retrying: 429 and 5xx (digest's retry table), and 401, which means our
 * own signature or clock is wrong (a merchant key rotation, clock drift): infrastructure, never evidence.
 */
export function isRetryableStatus(httpStatus: number): boolean {
  return httpStatus === 401 || httpStatus === 429 || httpStatus >= 500;
}

/** The digest's "no such record" codes of a 404 answer. */
export const NOT_FOUND_CODES: readonly string[] = ['NOT_FOUND', 'ORDER_NOT_EXIST', 'RESOURCE_NOT_EXISTS'];

/**
 * An error answer (non-2xx). `verified` says whether WeChat Pay's signature over it verified: only a verified
 * answer is evidence of anything. An unsigned one (a proxy's page, WeChat Pay's own 401 to a request whose
 * signature it refused) keeps its code for the record but is always retryable, and its `detail` is dropped.
 */
export class WechatPayApiError extends WechatPayError {
  override readonly name: string = 'WechatPayApiError';
  readonly code: string;
  readonly httpStatus: number;
  readonly retryable: boolean;
  readonly verified: boolean;
  readonly detail: unknown;
  readonly requestId: string | undefined;

  constructor(init: {
    httpStatus: number;
    code: string;
    message: string;
    verified: boolean;
    detail?: unknown;
    requestId?: string;
  }) {
    super(
      init.verified
        ? `WeChat Pay answered ${init.httpStatus} ${init.code}: ${init.message}`
        : `unsigned ${init.httpStatus} ${init.code} answer, not signed by WeChat Pay (not trusted): ${init.message}`,
    );
    this.httpStatus = init.httpStatus;
    this.code = init.code;
    this.verified = init.verified;
    this.detail = init.verified ? init.detail : undefined;
    this.requestId = init.requestId;
    this.retryable = init.verified ? isRetryableStatus(init.httpStatus) : true;
  }
}

/**
 * True only for a verified 404 with one of NOT_FOUND_CODES: the one answer that proves a record does not exist.
 * Any other 404 (unsigned, an HTML page, another code) is infrastructure.
 */
export function isVerifiedNotFound(error: unknown): boolean {
  return (
    error instanceof WechatPayApiError &&
    error.verified &&
    error.httpStatus === 404 &&
    NOT_FOUND_CODES.includes(error.code)
  );
}

/**
 * A verified 2xx answer that is not what the endpoint documents (not JSON, a required field missing).
 * It did come from WeChat Pay, so for a call that changes state the outcome is unknown: callers
 * reconcile by querying rather than retrying blindly. Code `UNEXPECTED_ANSWER`, not retryable.
 */
export class WechatPayUnexpectedAnswerError extends WechatPayApiError {
  override readonly name: string = 'WechatPayUnexpectedAnswerError';

  constructor(init: { httpStatus: number; message: string; requestId?: string }) {
    super({ ...init, code: 'UNEXPECTED_ANSWER', verified: true });
  }
}

export type VerificationFailure =
  'MISSING_HEADER' | 'STALE_TIMESTAMP' | 'UNKNOWN_SERIAL' | 'SIGNTEST_PROBE' | 'BAD_SIGNATURE';

/**
 * An answer (2xx or an error that carries signature headers) whose signature did not verify. Its body is never
 * returned. Retryable: it may be a proxy or a key rotation. For a call that changes state the outcome is unknown
 * (WeChat Pay may have executed it), so callers reconcile by querying.
 */
export class WechatPayVerificationError extends WechatPayError {
  override readonly name = 'WechatPayVerificationError';
  readonly code = 'RESPONSE_VERIFICATION_FAILED';
  readonly retryable = true;
  readonly httpStatus: number;
  readonly reason: VerificationFailure;
  readonly serial: string | undefined;

  constructor(reason: VerificationFailure, message: string, httpStatus = 0, serial?: string) {
    super(`WeChat Pay answer failed verification (${reason}): ${message}`);
    this.reason = reason;
    this.httpStatus = httpStatus;
    this.serial = serial;
  }
}

/**
 * No usable HTTP answer: connection refused or reset, DNS failure, the attempt's deadline, an answer larger than
 * allowed (`ANSWER_TOO_LARGE`).
 */
export class WechatPayTransportError extends WechatPayError {
  override readonly name = 'WechatPayTransportError';
  readonly code: string;
  readonly httpStatus = 0;
  readonly retryable = true;
  /** True when the request may have reached WeChat Pay (timeout after sending, reset mid-answer). */
  readonly outcomeUnknown: boolean;

  constructor(code: string, message: string, outcomeUnknown: boolean) {
    super(message);
    this.code = code;
    this.outcomeUnknown = outcomeUnknown;
  }
}

/** Bad input caught before anything was sent: names the field and the rule. */
export class WechatPayValidationError extends WechatPayError {
  override readonly name = 'WechatPayValidationError';
  readonly code = 'PARAM_ERROR';
  readonly httpStatus = 0;
  readonly retryable = false;
  readonly field: string;
  readonly rule: string;

  constructor(field: string, rule: string) {
    super(`${field}: ${rule}`);
    this.field = field;
    this.rule = rule;
  }
}
