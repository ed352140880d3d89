import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import type { WechatPayFailureDetails } from '../domain/failureTypes';

/** Short, human-readable descriptions of activity failures, for `status` and the termination remark. */

export function describeFailure(error: unknown): string {
  if (error instanceof ActivityFailure) {
    const cause = error.cause;
    const last =
      cause instanceof ApplicationFailure
        ? `${cause.type ?? 'Error'}: ${cause.message}`
        : (cause?.message ?? error.message);
    if (error.retryState === RetryState.MAXIMUM_ATTEMPTS_REACHED || error.retryState === RetryState.TIMEOUT) {
      return `retry budget exhausted (${last})`;
    }
    return last;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

export function applicationCause(error: unknown): ApplicationFailure | undefined {
  if (error instanceof ActivityFailure && error.cause instanceof ApplicationFailure) return error.cause;
  return undefined;
}

export function failureDetails(error: unknown): WechatPayFailureDetails | undefined {
  const detail = applicationCause(error)?.details?.[0];
  return detail && typeof detail === 'object' ? (detail as WechatPayFailureDetails) : undefined;
}
