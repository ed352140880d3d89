import type { ErrorClass } from './failurePolicy';
import type { LenderEventOutbox } from './lenderEvents';
import type { Installment } from './plan';
import type { LifecyclePolicy } from './policy';

/** Types of the lifecycle's state, as carried across continue-as-new and shown by the `status` query. */

export type LifecyclePhase =
  'AWAITING_SIGNATURE' | 'SCHEDULING' | 'MONITORING' | 'COMPLETED' | 'TERMINATING' | 'TERMINATED' | 'CANCELLED';

export const FINAL_PHASES: readonly LifecyclePhase[] = ['COMPLETED', 'TERMINATED', 'CANCELLED'];

/**
 * MISSED: the window closed with no record created; waits for an operator (reschedule, skip or terminate).
 * SKIPPED: an operator decided to leave the installment out (final, like SETTLED and FAILED).
 */
export type InstallmentStateName =
  'WAITING' | 'SCHEDULED' | 'POLLING' | 'DUE' | 'SETTLED' | 'FAILED' | 'MISSED' | 'SKIPPED';

/** What the last poll of the record (seed 000) found. */
export type PollResult = 'MATCHES' | 'MISSING' | 'MISMATCH';

export interface RepaymentResult {
  outcome: 'SUCCESS' | 'FAILED';
  amount?: string;
  transactionId?: string;
  reason?: string;
  /** RFC 3339, workflow time when the lender's signal was applied. */
  reportedAt: string;
}

export interface InstallmentRecord extends Installment {
  state: InstallmentStateName;
  /** All times are RFC 3339 strings so that carried state and query answers read well in the Web UI. */
  scheduledAt?: string;
  lastPollAt?: string;
  lastPollResult?: PollResult;
  pollCount: number;
  nextActionAt?: string;
  result?: RepaymentResult;
  failureReason?: string;
  /** A create whose outcome is unknown (timeout, reset, unverifiable answer): query before any resend. */
  createOutcomeUnknown?: boolean;
}

export type CompensationBillState =
  'REPORTED' | 'TRACKING' | 'SUCCESS' | 'CLOSED' | 'CANCELLED' | 'NOT_FOUND' | 'QUERY_FAILED';

export interface CompensationBillRecord {
  outBillNo: string;
  state: CompensationBillState;
  reportedAt: string;
  finishedAt?: string;
  amount?: string;
  closeReason?: string;
}

export interface TerminationRecord {
  remark: string;
  at: string;
  /** The contract was already terminated (e.g. by the user) when the lifecycle tried. */
  alreadyTerminated: boolean;
}

/** What a lifecycle ends on. Only evidence ends a contract (README: "When is a contract terminated?"). */
export type StopEvidence =
  /** WeChat Pay verifiably refused to schedule an installment. */
  | 'SCHEDULE_REFUSED'
  /** No verified "signed" answer by the signing deadline (judged from the last verified answer after it). */
  | 'NOT_SIGNED'
  /** The signing query verifiably says the signed contract is no longer authorized. */
  | 'USER_TERMINATED'
  /** The lender reported a failed repayment and the policy says terminate. */
  | 'REPAYMENT_FAILED'
  /** The lender cancelled (signal, update or a Temporal cancel request). */
  | 'LENDER_CANCELLED'
  /** An operator resolved an alert with "terminate". */
  | 'OPERATOR'
  /** A lifecycle that began before this rule existed (any failure ended it then). */
  | 'LEGACY';

export interface StopRequest {
  kind: 'failure' | 'cancel';
  reason: string;
  /** Absent on lifecycles stopped before evidence was recorded. */
  evidence?: StopEvidence;
}

/** `events`: delivering lender events (README "Lender events"); the contract itself is not affected. */
export type LifecycleStep = 'signing' | 'contract' | 'create' | 'poll' | 'result' | 'terminate' | 'events';

/**
 * What needs an operator:
 * INFRASTRUCTURE: a step failing on infrastructure longer than the threshold (retried meanwhile, cleared by itself);
 * the others are decisions (raised at once, resolved by an operator or by a later event).
 */
export type AlertKind =
  | 'INFRASTRUCTURE'
  | 'MISSED_WINDOW'
  | 'RECORD_MISSING'
  | 'RECORD_MISMATCH'
  | 'SCHEDULE_REFUSED'
  | 'RESULT_OVERDUE'
  | 'TERMINATION_REFUSED';

/** A step that is failing (retried automatically) or waits for a decision; an alert once `raisedAt` is set. */
export interface StepFault {
  /** `signing`, `contract`, `terminate`, or `<step>:<outRecordId>`. */
  key: string;
  step: LifecycleStep;
  outRecordId?: string;
  kind: AlertKind;
  /** For INFRASTRUCTURE: the class of the last error (failurePolicy.ts). */
  errorClass?: ErrorClass;
  lastError: string;
  /** RFC 3339: first failure of this step since it last succeeded. */
  since: string;
  failures: number;
  /** RFC 3339: the next automatic retry (infrastructure). */
  retryAt?: string;
  /** RFC 3339: when it became an alert. */
  raisedAt?: string;
}

/** Everything a run hands to the next one on continue-as-new. */
export interface CarriedState {
  signed: boolean;
  signedTime?: string;
  signingStartedAt: string;
  nextSigningPollAt?: string;
  /** RFC 3339: the last verified "not signed" answer (the signing deadline is judged from it). */
  lastSigningAnswerAt?: string;
  installments: InstallmentRecord[];
  compensationBills: CompensationBillRecord[];
  stop?: StopRequest;
  termination?: TerminationRecord;
  /** A terminate call's outcome is unknown: the next one asks the signing query first. */
  terminationOutcomeUnknown?: boolean;
  continuedAsNewCount: number;
  /** The policy resolved when the lifecycle began, pinned for every later run (absent on older lifecycles). */
  policy?: LifecyclePolicy;
  /** A verified answer said AUTHORIZED at least once: a later UNAUTHORIZED means the user terminated. */
  authorizedSeen?: boolean;
  /** RFC 3339: the next check of the contract's state while monitoring. */
  nextContractCheckAt?: string;
  faults?: StepFault[];
  /** Invalid lender results received by signal (accepted for compatibility, logged and counted). */
  rejectedResults?: number;
  /** Lender events not yet delivered (patch `lender-events`). */
  events?: LenderEventOutbox;
}

export interface LifecycleStatus {
  phase: LifecyclePhase;
  outContractCode: string;
  contractId: string;
  signed: boolean;
  installments: InstallmentRecord[];
  /** The earliest pending poll (signing or record), RFC 3339. */
  nextPollAt?: string;
  failureReason?: string;
  cancelReason?: string;
  /** What the lifecycle stopped on (absent while it runs). */
  evidence?: StopEvidence;
  termination?: TerminationRecord;
  /** The last error of the terminate call while it is being retried. */
  terminationError?: string;
  compensationBills: CompensationBillRecord[];
  continuedAsNewCount: number;
  /** Raised alerts: what an operator must look at (`resolveAlert` update). */
  alerts: StepFault[];
  /** Steps failing on infrastructure, retried automatically, not (yet) alerts. */
  retrying: StepFault[];
  /** Invalid lender results received by signal since the lifecycle began. */
  rejectedResults: number;
}

export function isFinalInstallment(record: Pick<InstallmentRecord, 'state'>): boolean {
  return record.state === 'SETTLED' || record.state === 'FAILED' || record.state === 'SKIPPED';
}

export function isFinalBill(record: Pick<CompensationBillRecord, 'state'>): boolean {
  return record.state !== 'REPORTED' && record.state !== 'TRACKING';
}
