/** Failure types shared by the activities (which raise them) and the workflow (which reacts to them). */

/** A verified answer that does not answer the request: its outcome is unknown, so the workflow reconciles. */
export const UNEXPECTED_ANSWER = 'UNEXPECTED_ANSWER';
/** An answer whose signature did not verify (WechatPayVerificationError's code). */
export const RESPONSE_VERIFICATION_FAILED = 'RESPONSE_VERIFICATION_FAILED';
