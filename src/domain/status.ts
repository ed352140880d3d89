import type { Installment } from './plan';

/** Types of the lifecycle's state, as carried across continue-as-new and shown by the `status` query. */

export type LifecyclePhase =
  'AWAITING_SIGNATURE' | 'SCHEDULING' | 'MONITORING' | 'COMPLETED' | 'TERMINATING' | 'TERMINATED' | 'CANCELLED';

export const FINAL_PHASES: readonly LifecyclePhase[] = ['COMPLETED', 'TERMINATED', 'CANCELLED'];

export type InstallmentStateName = 'WAITING' | 'SCHEDULED' | 'POLLING' | 'DUE' | 'SETTLED' | 'FAILED';

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

export interface StopRequest {
  kind: 'failure' | 'cancel';
  reason: string;
}

/** Everything a run hands to the next one on continue-as-new. */
export interface CarriedState {
  signed: boolean;
  signedTime?: string;
  signingStartedAt: string;
  nextSigningPollAt?: string;
  installments: InstallmentRecord[];
  compensationBills: CompensationBillRecord[];
  stop?: StopRequest;
  termination?: TerminationRecord;
  continuedAsNewCount: number;
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
  termination?: TerminationRecord;
  /** The last error of the terminate call while it is being retried. */
  terminationError?: string;
  compensationBills: CompensationBillRecord[];
  continuedAsNewCount: number;
}

export function isFinalInstallment(record: Pick<InstallmentRecord, 'state'>): boolean {
  return record.state === 'SETTLED' || record.state === 'FAILED';
}

export function isFinalBill(record: Pick<CompensationBillRecord, 'state'>): boolean {
  return record.state !== 'REPORTED' && record.state !== 'TRACKING';
}
