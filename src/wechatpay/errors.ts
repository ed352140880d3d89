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

/** Classification of an answer's HTTP status, from the digest's retry table. */
export function isRetryableStatus(httpStatus: number): boolean {
  return httpStatus === 429 || httpStatus >= 500;
}

/** An error answer (non-2xx) from WeChat Pay, with the fields of its JSON error body. */
export class WechatPayApiError extends WechatPayError {
  override readonly name: string = 'WechatPayApiError';
  readonly code: string;
  readonly httpStatus: number;
  readonly retryable: boolean;
  readonly detail: unknown;
  readonly requestId: string | undefined;

  constructor(init: { httpStatus: number; code: string; message: string; detail?: unknown; requestId?: string }) {
    super(`WeChat Pay answered ${init.httpStatus} ${init.code}: ${init.message}`);
    this.httpStatus = init.httpStatus;
    this.code = init.code;
    this.detail = init.detail;
    this.requestId = init.requestId;
    this.retryable = isRetryableStatus(init.httpStatus);
  }
}

/**
 * A verified 2xx answer that is not what the endpoint documents (not JSON, a required field missing).
 * It did come from WeChat Pay, so for a call that changes state the outcome is unknown: callers
 * reconcile by querying rather than retrying blindly. Code `UNEXPECTED_ANSWER`, not retryable.
 */
export class WechatPayUnexpectedAnswerError extends WechatPayApiError {
  override readonly name: string = 'WechatPayUnexpectedAnswerError';

  constructor(init: { httpStatus: number; message: string; requestId?: string }) {
    super({ ...init, code: 'UNEXPECTED_ANSWER' });
  }
}

export type VerificationFailure =
  'MISSING_HEADER' | 'STALE_TIMESTAMP' | 'UNKNOWN_SERIAL' | 'SIGNTEST_PROBE' | 'BAD_SIGNATURE';

/**
 * A 2xx answer whose signature did not verify. Its body is never returned. For a call that changes
 * state the outcome is unknown (WeChat Pay may have executed it), so callers reconcile by querying.
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

/** No usable HTTP answer: connection refused or reset, DNS failure, timeout. */
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
