/** Failure types shared by the activities (which raise them) and the workflow (which reacts to them). */

/** A verified answer that does not answer the request: its outcome is unknown, so the workflow reconciles. */
export const UNEXPECTED_ANSWER = 'UNEXPECTED_ANSWER';
/** An answer whose signature did not verify (WechatPayVerificationError's code). */
export const RESPONSE_VERIFICATION_FAILED = 'RESPONSE_VERIFICATION_FAILED';

/** Where a WeChat Pay failure came from, as the activity saw it. */
export type FailureSource =
  /** An error answer (non-2xx). `verified` says whether its signature verified. */
  | 'answer'
  /** An answer (any status) that carried a signature which did not verify. */
  | 'verification'
  /** No usable answer: connection refused or reset, timeout, oversized answer. */
  | 'transport'
  /** Refused by the client before anything was sent (its own validation). */
  | 'edge';

/** The `details[0]` of every failure an activity raises for a WeChat Pay error. */
export interface WechatPayFailureDetails {
  source: FailureSource;
  httpStatus: number;
  /** For `answer`: the answer's signature verified, so its code is WeChat Pay's word (evidence). */
  verified?: boolean;
  requestId?: string;
  /** `detail.issue` of the error body, when WeChat Pay gave one (for the record only: never decides anything). */
  issue?: string;
  /** The request may have been executed (timeout after sending, reset mid-answer, unverifiable answer). */
  outcomeUnknown?: boolean;
  /** For verification failures: why the answer was not trusted. */
  verification?: string;
}
