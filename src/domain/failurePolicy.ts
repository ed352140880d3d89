import { ActivityFailure, ApplicationFailure, TemporalFailure, TimeoutFailure } from '@temporalio/common';
import { NOT_FOUND_CODES } from '../wechatpay/errors';
import type { WechatPayFailureDetails } from './failureTypes';

/**
 * The one failure policy of the lifecycle: every failed WeChat Pay call is sorted into exactly one class.
 *
 * - evidence: WeChat Pay verifiably said no. Only a signed answer that verified can be evidence, and only a
 *   refusal whose code the lifecycle policy lists (`evidenceCodes`) or a documented "not found". What such
 *   evidence means is the step's decision (a refused create may terminate as the plan's policy says; a record
 *   reported not found is re-created or raises an alert; "no such contract" at the signing deadline means unsigned).
 * - infrastructure: everything else. Retried with capped backoff while retrying can help, raised as an alert
 *   past the threshold, never a reason to terminate a contract. When in doubt, it is infrastructure.
 *
 * | outcome                                              | error class       | class          | why |
 * |------------------------------------------------------|-------------------|----------------|-----|
 * | verified 4xx, code in `evidenceCodes` (PARAM_ERROR, INVALID_REQUEST by default) | REFUSED | evidence | WeChat Pay signed its refusal |
 * | verified 404 NOT_FOUND / ORDER_NOT_EXIST / RESOURCE_NOT_EXISTS | NOT_FOUND   | evidence       | signed "no such resource" |
 * | verified 4xx with any other code (e.g. 403 NO_AUTH)  | REFUSED           | infrastructure | not documented as a refusal of this contract: NO_AUTH is a permission of the merchant, it would refuse every contract at once |
 * | 401 (SIGN_ERROR), signed or not                      | AUTH              | infrastructure | our own signature, clock or merchant serial |
 * | 429 FREQUENCY_LIMITED / RATELIMIT_EXCEEDED           | RATE_LIMITED      | infrastructure | not accepted: slow down and retry |
 * | 5xx                                                  | SERVER_ERROR      | infrastructure | WeChat Pay's fault; retried with the same ids |
 * | connection error, reset, timeout, oversized answer   | TRANSPORT         | infrastructure | no answer to trust |
 * | activity timed out (worker lost, call hung)          | TIMEOUT           | infrastructure | no answer at all |
 * | answer without signature, or signature not verified (any status, HTML pages from proxies) | UNVERIFIED | infrastructure | anyone could have sent it |
 * | verified 2xx not in the documented shape             | UNEXPECTED_ANSWER | infrastructure | the outcome is unknown: reconciled by a query |
 * | refused by our own client before sending             | REJECTED_AT_EDGE  | infrastructure | WeChat Pay never saw it: our data or our bug |
 * | any other error (a TypeError in an activity, missing key file) | BUG     | infrastructure | the worker's own fault |
 */

export type FailureClass = 'evidence' | 'infrastructure';

export type ErrorClass =
  | 'REFUSED'
  | 'NOT_FOUND'
  | 'AUTH'
  | 'RATE_LIMITED'
  | 'SERVER_ERROR'
  | 'TRANSPORT'
  | 'TIMEOUT'
  | 'UNVERIFIED'
  | 'UNEXPECTED_ANSWER'
  | 'REJECTED_AT_EDGE'
  | 'BUG';

export interface ClassifiedFailure {
  class: FailureClass;
  errorClass: ErrorClass;
  /** WeChat Pay's code (or the error's type). */
  code: string;
  httpStatus: number;
  /** The call may have been executed (a state-changing call must be reconciled by a query before a resend). */
  outcomeUnknown: boolean;
  /** Short text for status, alerts and termination remarks. */
  message: string;
}

/** The default `evidenceCodes`: the business refusals the seeds document for these endpoints (400). */
export const DEFAULT_EVIDENCE_CODES: readonly string[] = ['PARAM_ERROR', 'INVALID_REQUEST'];

/**
 * Sorts the failure of a WeChat Pay activity. `error` is what the workflow caught (ActivityFailure, normally);
 * returns undefined for errors that are not failures of a call at all (cancellation, or a bug in the workflow
 * itself), which the caller must rethrow.
 */
export function classifyFailure(error: unknown, evidenceCodes: readonly string[]): ClassifiedFailure | undefined {
  if (!(error instanceof ActivityFailure)) return undefined;
  const cause = error.cause;
  if (cause instanceof TimeoutFailure) {
    return infra('TIMEOUT', 'ACTIVITY_TIMEOUT', 0, true, `no answer in time (${cause.timeoutType ?? 'timeout'})`);
  }
  if (!(cause instanceof ApplicationFailure)) {
    const text = cause instanceof TemporalFailure ? cause.message : String(cause);
    return infra('BUG', 'ACTIVITY_ERROR', 0, true, text);
  }
  const code = cause.type ?? 'Error';
  const details = wechatpayDetails(cause);
  const message = `${code}: ${cause.message}`;
  if (!details) return infra('BUG', code, 0, true, message);
  const unknown = details.outcomeUnknown === true;
  switch (details.source) {
    case 'edge':
      return infra('REJECTED_AT_EDGE', code, 0, false, message);
    case 'transport':
      return infra('TRANSPORT', code, 0, unknown, message);
    case 'verification':
      return infra('UNVERIFIED', code, details.httpStatus, true, message);
    case 'answer':
      break;
  }
  const status = details.httpStatus;
  // WeChat Pay does not sign its 401: our own signature, clock or serial was refused, whoever answered.
  if (status === 401) return infra('AUTH', code, status, false, message);
  if (!details.verified) return infra('UNVERIFIED', code, status, unknown, `${message} (answer not signed)`);
  if (code === 'UNEXPECTED_ANSWER') return infra('UNEXPECTED_ANSWER', code, status, true, message);
  if (status === 429) return infra('RATE_LIMITED', code, status, false, message);
  if (status >= 500) return infra('SERVER_ERROR', code, status, unknown, message);
  if (status === 404 && NOT_FOUND_CODES.includes(code)) return evidence('NOT_FOUND', code, status, message);
  if (status >= 400 && status < 500 && evidenceCodes.includes(code)) return evidence('REFUSED', code, status, message);
  return infra('REFUSED', code, status, false, message);
}

/** True when a failure is WeChat Pay's verified word that the resource does not exist. */
export function isVerifiedNotFound(failure: ClassifiedFailure | undefined): boolean {
  return failure?.class === 'evidence' && failure.errorClass === 'NOT_FOUND';
}

function wechatpayDetails(cause: ApplicationFailure): WechatPayFailureDetails | undefined {
  const detail = cause.details?.[0];
  if (!detail || typeof detail !== 'object' || !('source' in detail)) return undefined;
  return detail as WechatPayFailureDetails;
}

function infra(
  errorClass: ErrorClass,
  code: string,
  httpStatus: number,
  outcomeUnknown: boolean,
  message: string,
): ClassifiedFailure {
  return { class: 'infrastructure', errorClass, code, httpStatus, outcomeUnknown, message };
}

function evidence(errorClass: ErrorClass, code: string, httpStatus: number, message: string): ClassifiedFailure {
  return { class: 'evidence', errorClass, code, httpStatus, outcomeUnknown: false, message };
}
