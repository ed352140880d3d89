import { ApplicationFailure } from '@temporalio/common';
import {
  WechatPayApiError,
  WechatPayTransportError,
  WechatPayValidationError,
  WechatPayVerificationError,
} from '../wechatpay/errors';

/**
 * Maps the client's typed errors to Temporal failures, following the digest's retry table:
 * the failure type is the WeChat Pay error code, `nonRetryable` is the opposite of `retryable`.
 * The retry policies themselves (timeouts, budgets) live in src/workflows/activityPolicies.ts.
 */

/** An answer that fails verification is retried this many times in total, then fails for good. */
export const VERIFICATION_ATTEMPTS = 3;
/** Ceiling of the backoff after a 429 (the activity's own retry policy may cap lower). */
const RATE_LIMIT_MAX_DELAY_MS = 60_000;

/** The `details[0]` of every failure an activity raises for a WeChat Pay error. */
export interface WechatPayFailureDetails {
  httpStatus: number;
  requestId?: string;
  /** `detail.issue` of the error body (e.g. DUPLICATE), when WeChat Pay gave one. */
  issue?: string;
  /** For transport errors: the request may have been executed. */
  outcomeUnknown?: boolean;
  /** For verification failures: why the answer was not trusted. */
  verification?: string;
}

export function toActivityFailure(error: unknown, attempt: number): unknown {
  if (error instanceof WechatPayApiError) {
    const details: WechatPayFailureDetails = {
      httpStatus: error.httpStatus,
      ...optional('requestId', error.requestId),
      ...optional('issue', issueOf(error.detail)),
    };
    return ApplicationFailure.create({
      type: error.code,
      message: error.message,
      nonRetryable: !error.retryable,
      details: [details],
      // 429: the answer asks us to slow down; grow the delay per attempt, with jitter so workers spread out.
      ...(error.httpStatus === 429 ? { nextRetryDelay: rateLimitDelayMs(attempt) } : {}),
    });
  }
  if (error instanceof WechatPayVerificationError) {
    return ApplicationFailure.create({
      type: error.code,
      message: error.message,
      nonRetryable: attempt >= VERIFICATION_ATTEMPTS,
      details: [{ httpStatus: error.httpStatus, verification: error.reason } satisfies WechatPayFailureDetails],
    });
  }
  if (error instanceof WechatPayTransportError) {
    return ApplicationFailure.create({
      type: error.code,
      message: error.message,
      nonRetryable: false,
      details: [{ httpStatus: 0, outcomeUnknown: error.outcomeUnknown } satisfies WechatPayFailureDetails],
    });
  }
  if (error instanceof WechatPayValidationError) {
    return ApplicationFailure.create({
      type: error.code,
      message: error.message,
      nonRetryable: true,
      details: [{ httpStatus: 0 }],
    });
  }
  return error;
}

function rateLimitDelayMs(attempt: number): number {
  const base = Math.min(RATE_LIMIT_MAX_DELAY_MS, 1000 * 2 ** Math.min(attempt, 16));
  return Math.round(base / 2 + Math.random() * (base / 2));
}

function issueOf(detail: unknown): string | undefined {
  if (detail && typeof detail === 'object' && 'issue' in detail && typeof detail.issue === 'string')
    return detail.issue;
  return undefined;
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return value === undefined ? {} : ({ [key]: value } as { [P in K]?: V });
}
