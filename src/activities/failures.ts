import { ApplicationFailure } from '@temporalio/common';
import type { WechatPayFailureDetails } from '../domain/failureTypes';
import {
  WechatPayApiError,
  WechatPayTransportError,
  WechatPayValidationError,
  WechatPayVerificationError,
} from '../wechatpay/errors';

/**
 * Maps the client's typed errors to Temporal failures: the failure type is the WeChat Pay error code,
 * `nonRetryable` is the opposite of the client's `retryable`, and `details[0]` carries the facts the workflow's
 * failure policy (src/domain/failurePolicy.ts) sorts by: where the failure came from, whether the answer verified,
 * whether the call may have been executed. The retry policies (timeouts, budgets) live in
 * src/workflows/activityPolicies.ts; past a budget the workflow retries on its own timer and raises alerts.
 */

/** Ceiling of the backoff after a 429 (the activity's own retry policy may cap lower). */
const RATE_LIMIT_MAX_DELAY_MS = 60_000;

export function toActivityFailure(error: unknown, attempt: number, stateChanging = false): unknown {
  if (error instanceof WechatPayApiError) {
    const details: WechatPayFailureDetails = {
      source: 'answer',
      httpStatus: error.httpStatus,
      verified: error.verified,
      ...optional('requestId', error.requestId),
      ...optional('issue', issueOf(error.detail)),
      // A 5xx or an unsigned answer to a POST may hide an execution; a verified refusal says it was not executed.
      ...(stateChanging && (!error.verified || error.httpStatus >= 500) ? { outcomeUnknown: true } : {}),
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
      nonRetryable: false,
      details: [
        {
          source: 'verification',
          httpStatus: error.httpStatus,
          verification: error.reason,
          outcomeUnknown: stateChanging,
        } satisfies WechatPayFailureDetails,
      ],
    });
  }
  if (error instanceof WechatPayTransportError) {
    return ApplicationFailure.create({
      type: error.code,
      message: error.message,
      nonRetryable: false,
      details: [
        { source: 'transport', httpStatus: 0, outcomeUnknown: error.outcomeUnknown } satisfies WechatPayFailureDetails,
      ],
    });
  }
  if (error instanceof WechatPayValidationError) {
    return ApplicationFailure.create({
      type: error.code,
      message: error.message,
      nonRetryable: true,
      details: [{ source: 'edge', httpStatus: 0 } satisfies WechatPayFailureDetails],
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
