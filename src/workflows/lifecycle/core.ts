import type { FaultBook } from '../../domain/alerts';
import type { ClassifiedFailure } from '../../domain/failurePolicy';
import type { RepaymentPlan } from '../../domain/plan';
import type { LifecyclePolicy } from '../../domain/policy';
import type { CarriedState, StopRequest } from '../../domain/status';
import type { LenderEvents } from './lenderEvents';

/** What the lifecycle's step modules (signing, installments, termination, visibility) share with the workflow. */

export type ActionKind = 'signing' | 'contract' | 'schedule' | 'poll' | 'bill';

export interface LifecycleCore {
  readonly plan: RepaymentPlan;
  readonly policy: LifecyclePolicy;
  readonly state: CarriedState;
  /**
   * The lifecycle began before "terminate only on evidence" (patch `evidence-only-failures`): it keeps the rules it
   * began with, so that its history replays (src/workflows/lifecycle/legacy.ts).
   */
  readonly legacy: boolean;
  readonly faults: FaultBook;
  /** What the lender's backend is told (lenderEvents.ts): each step reports its transitions here. */
  readonly events: LenderEvents;
  /** Runs an API action in the background, keyed (one per key at a time); the loop wakes when it settles. */
  launch(key: string, kind: ActionKind, action: () => Promise<void>): void;
  busy(key: string): boolean;
  requestStop(stop: StopRequest): void;
  /**
   * Sorts a failed activity call (src/domain/failurePolicy.ts). Rethrows cancellations and anything that is not a
   * failed call, such as a bug in the workflow's own code, so that it fails the workflow task instead of a contract.
   */
  classify(error: unknown): ClassifiedFailure;
  /** Continues as new when the history has grown past the limit (only at a point where that is safe). */
  continueAsNewIfDue(): Promise<void>;
}
