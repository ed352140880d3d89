import type { StopEvidence } from './status';

/**
 * The events the lender's backend is told (README "Lender events"): one JSON object per HTTP request, signed by the
 * worker (src/client/lenderEventSignature.ts). Plain data, shared by the workflow that emits them, the delivery
 * activity and the lender's client that verifies them. Never the openid nor anything secret; amounts are fen as
 * decimal strings; times are RFC 3339.
 */

export const LENDER_EVENT_SCHEMA_VERSION = 1;

export const LENDER_EVENT_TYPES = [
  'LIFECYCLE_STARTED',
  'CONTRACT_SIGNED',
  'INSTALLMENT_SCHEDULED',
  'INSTALLMENT_DUE',
  'INSTALLMENT_SETTLED',
  'INSTALLMENT_FAILED',
  'INSTALLMENT_SKIPPED',
  'ALERT_RAISED',
  'ALERT_CLEARED',
  'CONTRACT_TERMINATED',
  'LIFECYCLE_COMPLETED',
  'LIFECYCLE_CANCELLED',
] as const;
export type LenderEventType = (typeof LENDER_EVENT_TYPES)[number];

/** An installment as the plan holds it. */
export interface EventInstallment {
  outRecordId: string;
  repaymentAmount: string;
  minRepaymentAmount: string;
  repaymentDate: string;
}

/** The schedule record as WeChat Pay holds it (its answer to the create, or to the reconciling query). */
export interface EventScheduleRecord extends EventInstallment {
  contractId: string;
}

export interface EventTermination {
  /** The remark WeChat Pay was sent (at most 128 bytes). */
  remark: string;
  at: string;
  /** WeChat Pay already had the contract terminated (e.g. by the user): nothing was sent. */
  alreadyTerminated: boolean;
}

export interface LenderEventData {
  LIFECYCLE_STARTED: {
    signatureMode: 'poll' | 'signal' | 'none';
    /** Absent for signature mode `none` (the lender declared the contract signed). */
    signingDeadline?: string;
    installments: EventInstallment[];
  };
  /** Not emitted for signature mode `none`. */
  CONTRACT_SIGNED: { signedTime: string };
  INSTALLMENT_SCHEDULED: { scheduledAt: string; record: EventScheduleRecord };
  INSTALLMENT_DUE: EventInstallment & {
    /** Past this moment without a result, the lifecycle raises a RESULT_OVERDUE alert. */
    resultExpectedBy: string;
  };
  INSTALLMENT_SETTLED: { amount?: string; transactionId?: string; reportedAt: string };
  INSTALLMENT_FAILED: {
    /** LENDER: the lender reported the repayment failed; WECHATPAY: WeChat Pay verifiably refused the record. */
    source: 'LENDER' | 'WECHATPAY';
    reason: string;
    amount?: string;
    transactionId?: string;
    reportedAt?: string;
  };
  /** An operator resolved an alert with "skip". */
  INSTALLMENT_SKIPPED: { reason?: string };
  ALERT_RAISED: {
    /** The alert's key (`create:R…`, `signing`, …) as `status` and `resolveAlert` name it. */
    alert: string;
    step: string;
    kind: string;
    errorClass?: string;
    message: string;
    since: string;
    raisedAt: string;
  };
  ALERT_CLEARED: { alert: string; step: string; kind: string; raisedAt: string; clearedAt: string };
  CONTRACT_TERMINATED: { evidence?: StopEvidence; reason: string; termination?: EventTermination };
  LIFECYCLE_COMPLETED: {
    installments: Array<{ outRecordId: string; state: string }>;
    compensationBills: Array<{ outBillNo: string; state: string; amount?: string }>;
  };
  LIFECYCLE_CANCELLED: { reason: string; termination?: EventTermination };
}

export interface LenderEventEnvelope {
  schemaVersion: typeof LENDER_EVENT_SCHEMA_VERSION;
  /** `<outContractCode>:<lifecycleId>:<sequence>`: the same on every retry and replay; de-duplicate on it. */
  id: string;
  /** The lifecycle (the first run id of its workflow): a contract started again gets a new one. */
  lifecycleId: string;
  /** 1, 2, 3, … per lifecycle, in the order of the transitions; events arrive in this order. */
  sequence: number;
  /** RFC 3339: when the transition happened (workflow time). */
  occurredAt: string;
  outContractCode: string;
  /** WeChat Pay's contract id. */
  contractId: string;
  /** The installment, for the INSTALLMENT_* events and an installment's alerts. */
  outRecordId?: string;
}

export type LenderEvent = {
  [T in LenderEventType]: LenderEventEnvelope & { type: T; data: LenderEventData[T] };
}[LenderEventType];

/** The undelivered events of a lifecycle, carried across continue-as-new. */
export interface LenderEventOutbox {
  nextSequence: number;
  /** Oldest first; removed only once the receiver has answered 2xx. */
  pending: LenderEvent[];
  /** The lifecycle's last event was emitted: the lifecycle only delivers what is pending, then closes. */
  closed?: 'COMPLETED' | 'TERMINATED' | 'CANCELLED';
}

/** Replaces every occurrence of `secret` in the strings of `value` (error texts may echo request fields). */
export function scrubbed<T>(value: T, secret: string): T {
  if (!secret) return value;
  if (typeof value === 'string') return value.split(secret).join('[redacted]') as T;
  if (Array.isArray(value)) return value.map((v: unknown) => scrubbed(v, secret)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrubbed(v, secret)])) as T;
  }
  return value;
}
