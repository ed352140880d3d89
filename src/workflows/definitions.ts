import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { PlanModificationInput } from '../domain/modification';
import type { ResolveAlertInput } from '../domain/operatorActions';
import type { RepaymentPlanInput } from '../domain/plan';
import type { PartialLifecyclePolicy } from '../domain/policy';
import type { CancelRequest, CompensationBillReported, ContractSigned, RepaymentResultSignal } from '../domain/signals';
import type { CarriedState, CompensationBillState, LifecycleStatus } from '../domain/status';

/**
 * The lifecycle's messages: what the lender's client and the operator may send and ask.
 * Importable from Node (the client) as well as from workflow code.
 */

export interface LifecycleInput {
  plan: RepaymentPlanInput;
  /**
   * The policy: the whole of it, resolved by the lender client at start (defaults, temporal.yaml's `lifecycle:`, the
   * start's overrides; the plan's own `policy` still wins). A partial one (a raw start) is resolved by the first run
   * and pinned into the input of a second, so that no replay ever re-reads the code's defaults.
   */
  policy?: PartialLifecyclePolicy;
  /** Set by continue-as-new only: the previous run's state. Its installments replace the plan's. */
  carried?: CarriedState;
  /** The task queue of the compensation-bill query activity (rate-limited); defaults to `credit-repayment-compensation` (as temporal.yaml does). */
  compensationTaskQueue?: string;
}

/** Failure type of a start whose plan breaks a rule (non-retryable; nothing was called). */
export const INVALID_PLAN = 'InvalidPlan';
/** Failure type of a rejected modifyPlan update. */
export const INVALID_MODIFICATION = 'InvalidModification';
/** Failure type of a rejected reportRepaymentResult update (unknown record, settled installment, bad amount). */
export const INVALID_RESULT = 'InvalidRepaymentResult';
/** Failure type of a rejected resolveAlert update. */
export const INVALID_RESOLUTION = 'InvalidResolution';

export const contractSignedSignal = defineSignal<[ContractSigned]>('contractSigned');
export const repaymentResultSignal = defineSignal<[RepaymentResultSignal]>('repaymentResult');
export const compensationBillReportedSignal = defineSignal<[CompensationBillReported]>('compensationBillReported');
export const cancelSignal = defineSignal<[CancelRequest]>('cancel');

export const statusQuery = defineQuery<LifecycleStatus>('status');

/** Adds or reschedules installments; the validator rejects bad input before it enters history. */
export const modifyPlanUpdate = defineUpdate<LifecycleStatus, [PlanModificationInput]>('modifyPlan');

/**
 * The lender's repayment result, refused to the caller when it names no installment, contradicts a settled one or
 * carries a bad amount (the `repaymentResult` signal stays for compatibility). The same result twice is accepted.
 */
export const reportRepaymentResultUpdate = defineUpdate<LifecycleStatus, [RepaymentResultSignal]>(
  'reportRepaymentResult',
);

/** An operator's decision on an alert: retry, skip the installment, or terminate (with a reason). */
export const resolveAlertUpdate = defineUpdate<LifecycleStatus, [ResolveAlertInput]>('resolveAlert');

/** What the compensation-bill tracker reports to the lifecycle when the bill reaches a final state. */
export interface CompensationBillOutcome {
  outBillNo: string;
  state: Exclude<CompensationBillState, 'REPORTED' | 'TRACKING'>;
  amount?: string;
  closeReason?: string;
  /** Why tracking stopped without a final state (QUERY_FAILED). */
  error?: string;
  at: string;
}
export const compensationBillFinishedSignal = defineSignal<[CompensationBillOutcome]>('compensationBillFinished');

export interface CompensationBillTrackerInput {
  outBillNo: string;
  parentWorkflowId: string;
  activityTaskQueue: string;
  pollIntervalSeconds: number;
  notFoundHours: number;
  /** Kept across the tracker's own continue-as-new. */
  startedAt?: string;
}
