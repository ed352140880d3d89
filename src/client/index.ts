/** The lender's client library: start and drive repayment lifecycles from the lender's backend. */
export {
  connectRepaymentClient,
  RepaymentClient,
  type ConnectedRepaymentClient,
  type ConnectOptions,
  type LifecycleSummary,
  type ListOptions,
  type RepaymentClientOptions,
  type StartOptions,
  type StartResult,
} from './lenderClient';
export {
  LifecycleConflictError,
  LifecycleNotFoundError,
  ModificationRejectedError,
  PlanValidationError,
  type PlanIssue,
} from './errors';
export { buildListQuery, LIFECYCLE_PHASES, quoteVisibilityString, type LifecycleFilter } from './visibilityQuery';
export { demoPlan, type DemoPlanOptions } from './demoPlan';
export type { RepaymentPlanInput } from '../domain/plan';
export type { PlanModificationInput } from '../domain/modification';
export type { ContractSigned, RepaymentResultSignal } from '../domain/signals';
export type { LifecycleStatus, LifecyclePhase } from '../domain/status';
export {
  DEFAULT_TOLERANCE_SECONDS,
  LENDER_EVENT_SIGNATURE_HEADER,
  LenderEventVerificationError,
  verifyLenderEvent,
  type LenderEventVerificationCode,
  type VerifyLenderEventInput,
} from './lenderEventSignature';
export {
  LENDER_EVENT_SCHEMA_VERSION,
  LENDER_EVENT_TYPES,
  type LenderEvent,
  type LenderEventData,
  type LenderEventType,
} from '../domain/lenderEvents';
