import {
  CancellationScope,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  log,
  patched,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { FaultBook, type FaultChange } from '../domain/alerts';
import { shanghaiDateOf } from '../domain/calendar';
import { classifyFailure, type ClassifiedFailure } from '../domain/failurePolicy';
import { newInstallmentRecord } from '../domain/installments';
import { parsePlan, PlanValidationError, resolvePolicy, workflowIdFor, type RepaymentPlan } from '../domain/plan';
import { LifecyclePolicySchema, type LifecyclePolicy } from '../domain/policy';
import { OutContractCode, WechatContractId } from '../domain/searchAttributes';
import {
  isFinalBill,
  isFinalInstallment,
  type CarriedState,
  type LifecyclePhase,
  type LifecycleStatus,
  type StopRequest,
} from '../domain/status';
import { INVALID_PLAN, type LifecycleInput } from './definitions';
import { startBillTrackers } from './lifecycle/compensationBills';
import type { ActionKind } from './lifecycle/core';
import { InstallmentScheduler } from './lifecycle/installmentScheduler';
import { EVIDENCE_ONLY_PATCH, legacyActionFailed } from './lifecycle/legacy';
import { LENDER_EVENTS_PATCH, LenderEvents } from './lifecycle/lenderEvents';
import { count, LifecycleMessages, rejection, type MessageHost } from './lifecycle/messages';
import { SigningStep } from './lifecycle/signing';
import { TerminationSaga } from './lifecycle/terminationSaga';
import { Visibility } from './lifecycle/visibility';

/*
 * Versioning convention: this workflow runs for years, so any change to the commands it issues (activities,
 * timers, child workflows, search-attribute upserts) or their order must be guarded with
 * `if (patched('short-change-id')) { new } else { old }`, later `deprecatePatch`, and a new replay history
 * recorded into test/histories/. Patched so far: strict-termination-confirmation, evidence-only-failures
 * (decided once per run, at its start: see lifecycle/legacy.ts), lender-events (likewise: lifecycle/lenderEvents.ts).
 */

const nowIso = (): string => new Date(Date.now()).toISOString();

/** One lifecycle per contract: confirm the signature, schedule each installment in its window, monitor, settle. */
export async function repaymentLifecycle(input: LifecycleInput): Promise<LifecycleStatus> {
  const { plan, policy } = validateStart(input);
  return new Lifecycle(input, plan, policy).run();
}

function validateStart(input: LifecycleInput): { plan: RepaymentPlan; policy: LifecyclePolicy } {
  try {
    // A continued run re-checks the shape only: its dates were checked when the lifecycle began, against the
    // moment it was started (not the moment a worker first ran it).
    const today = input?.carried ? undefined : shanghaiDateOf(workflowInfo().startTime.getTime());
    const plan = parsePlan(input?.plan, today);
    const policy = input.carried?.policy ?? resolvePolicy(input.policy, plan.policy);
    const expectedId = workflowIdFor(plan.outContractCode);
    if (workflowInfo().workflowId !== expectedId) {
      throw new PlanValidationError([
        { path: 'outContractCode', rule: `must match the workflow id (expected ${expectedId})` },
      ]);
    }
    return { plan, policy };
  } catch (error) {
    if (error instanceof PlanValidationError) throw rejection(INVALID_PLAN, error);
    throw error;
  }
}

class Lifecycle implements MessageHost {
  readonly state: CarriedState;
  readonly legacy: boolean;
  readonly faults: FaultBook;
  readonly events: LenderEvents;
  private readonly inFlight = new Map<string, { kind: ActionKind; done: Promise<void> }>();
  /** Every API action runs in this scope, so that a stop cancels what is in flight before terminating. */
  private readonly actions = new CancellationScope();
  readonly signing: SigningStep;
  private readonly scheduler: InstallmentScheduler;
  readonly termination: TerminationSaga;
  private readonly visibility: Visibility;
  private finalPhase: LifecyclePhase | undefined;
  /** A bug (not a failed call) in an action: rethrown by the loop so that it fails the workflow task. */
  private fatal: unknown;
  private wake = false;
  /** Turns of the main loop, and whether it has left for good (completion, continue-as-new, stop). */
  private loopTurns = 0;
  private loopLeft = false;

  constructor(
    private readonly input: LifecycleInput,
    readonly plan: RepaymentPlan,
    readonly policy: LifecyclePolicy,
  ) {
    this.legacy = !patched(EVIDENCE_ONLY_PATCH);
    this.state = input.carried ?? {
      signed: plan.signature.mode === 'none',
      signingStartedAt: nowIso(),
      installments: plan.installments.map((item) => newInstallmentRecord(item, policy)),
      compensationBills: [],
      continuedAsNewCount: 0,
    };
    this.state.faults ??= [];
    if (!this.legacy) this.state.policy = policy;
    this.faults = new FaultBook(this.state.faults, policy, (change) => this.onAlerts(change));
    this.events = new LenderEvents(this, !this.legacy && patched(LENDER_EVENTS_PATCH), {
      wake: () => (this.wake = true),
      bug: (error) => {
        this.fatal = error;
        this.wake = true;
      },
    });
    if (!input.carried) this.events.lifecycleStarted();
    this.signing = new SigningStep(this);
    this.scheduler = new InstallmentScheduler(this, this.signing);
    this.termination = new TerminationSaga(this);
    this.visibility = new Visibility(
      this,
      () => this.phase(),
      () => this.termination.error,
    );
    new LifecycleMessages(this).register();
  }

  async run(): Promise<LifecycleStatus> {
    if (!this.legacy && !this.input.carried && !LifecyclePolicySchema.safeParse(this.input.policy).success) {
      // Started without the whole policy (the lender client always sends it; a raw `temporal workflow start` may
      // not): pin the defaults of today's code in the input of a new run, so that no replay ever re-reads them.
      // Whatever arrived meanwhile (signals, updates) is carried with the state.
      log.info('repayment lifecycle pinning its policy');
      return this.continueAsNew({ policy: this.policy }, false);
    }
    upsertSearchAttributes([
      { key: OutContractCode, value: this.plan.outContractCode },
      { key: WechatContractId, value: this.plan.contractId },
    ]);
    await this.events.start();
    const closed = this.events.closedAs();
    if (closed) return this.finish(closed);
    try {
      return await this.loop();
    } catch (error) {
      // A Temporal cancel request (the Web UI's Cancel, `temporal workflow cancel`) is a cancel like the signal:
      // the contract is terminated before the lifecycle ends, in a scope the request cannot interrupt.
      if (!isCancellation(error) || this.finalPhase) throw error;
      this.requestStop({ kind: 'cancel', evidence: 'LENDER_CANCELLED', reason: 'cancel requested through Temporal' });
      const stop = this.state.stop!;
      return CancellationScope.nonCancellable(() => this.stop(stop));
    }
  }

  private async loop(): Promise<LifecycleStatus> {
    while (!this.state.stop) {
      this.loopTurns += 1;
      if (this.fatal !== undefined) throw this.fatal;
      const now = Date.now();
      if (!this.state.signed) this.signing.step(now);
      else {
        this.scheduler.step(now);
        this.signing.checkContract(now);
      }
      startBillTrackers(this, this.input.compensationTaskQueue);
      if (!this.legacy) this.faults.raiseDue(now);
      this.visibility.publish();
      if (this.state.stop) break;
      if (this.inFlight.size === 0) {
        if (this.isComplete()) return this.complete();
        if (this.shouldContinueAsNew()) return this.continueAsNew();
      }
      const wakeAt = this.nextWakeAt();
      this.wake = false;
      const woken = () => this.wake || this.state.stop !== undefined || this.fatal !== undefined;
      if (wakeAt === undefined) await condition(woken);
      else await condition(woken, Math.max(1, wakeAt - Date.now()), { summary: this.visibility.timerSummary(wakeAt) });
    }
    const stop = this.state.stop;
    // Once stopping, a Temporal cancel request must not interrupt (and so repeat) the termination.
    return this.legacy ? this.stop(stop) : CancellationScope.nonCancellable(() => this.stop(stop));
  }

  // ---- LifecycleCore -------------------------------------------------------------------------------------

  launch(key: string, kind: ActionKind, action: () => Promise<void>): void {
    const done = this.actions
      .run(action)
      .catch((error: unknown) => {
        if (isCancellation(error)) return;
        if (this.legacy) return legacyActionFailed(this, key, kind, error);
        // Every step handles its own failed calls: anything arriving here is a bug, never a contract's failure.
        log.error('bug in the lifecycle: the workflow task fails until a fix is deployed', { key, kind });
        this.fatal = error;
      })
      .finally(() => {
        this.inFlight.delete(key);
        this.wake = true;
      });
    this.inFlight.set(key, { kind, done });
  }

  busy(key: string): boolean {
    return this.inFlight.has(key);
  }

  requestStop(stop: StopRequest): void {
    if (this.state.stop || this.finalPhase) return;
    this.state.stop = stop;
    log.warn('repayment lifecycle stopping', { kind: stop.kind, evidence: stop.evidence, reason: stop.reason });
  }

  classify(error: unknown): ClassifiedFailure {
    if (isCancellation(error)) throw error;
    const failure = classifyFailure(error, this.policy.evidenceCodes);
    if (!failure) throw error;
    log.warn('WeChat Pay call failed', { class: failure.class, errorClass: failure.errorClass, code: failure.code });
    return failure;
  }

  async continueAsNewIfDue(): Promise<void> {
    if (this.shouldContinueAsNew()) await this.continueAsNew();
  }

  // ---- the loop's machinery ------------------------------------------------------------------------------

  private isComplete(): boolean {
    return (
      this.state.signed &&
      this.state.installments.every(isFinalInstallment) &&
      this.state.compensationBills.every(isFinalBill)
    );
  }

  private nextWakeAt(): number | undefined {
    const times = this.signing.wakeTimes();
    if (this.state.signed) times.push(...this.scheduler.wakeTimes());
    if (!this.legacy) {
      const raiseAt = this.faults.nextRaiseAt();
      if (raiseAt !== undefined) times.push(raiseAt);
    }
    return times.length > 0 ? Math.min(...times) : undefined;
  }

  private shouldContinueAsNew(): boolean {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength >= this.policy.continueAsNewAfterEvents;
  }

  /** Continues as new with the whole state carried (`newRun: false` when only the input is being pinned). */
  private async continueAsNew(overrides: Partial<LifecycleInput> = {}, newRun = true): Promise<never> {
    this.loopLeft = true;
    await this.events.pause();
    await condition(allHandlersFinished);
    log.info('repayment lifecycle continuing as new', { historyLength: workflowInfo().historyLength });
    return continueAsNew<typeof repaymentLifecycle>({
      ...this.input,
      ...overrides,
      carried: { ...this.state, continuedAsNewCount: this.state.continuedAsNewCount + (newRun ? 1 : 0) },
    });
  }

  private complete(): Promise<LifecycleStatus> {
    this.loopLeft = true;
    return this.finish('COMPLETED');
  }

  private async stop(stop: StopRequest): Promise<LifecycleStatus> {
    this.loopLeft = true;
    this.visibility.publish();
    this.actions.cancel();
    await Promise.allSettled([...this.inFlight.values()].map((action) => action.done));
    if (this.fatal !== undefined) throw this.fatal;
    // What was failing or waiting for a decision is moot now: only the termination itself can still need a person.
    if (!this.legacy) this.faults.clearAllExcept(['terminate', 'events']);
    await this.termination.run(stop);
    return this.finish(stop.kind === 'cancel' ? 'CANCELLED' : 'TERMINATED');
  }

  /** The lifecycle has ended: the lender is told, and the run closes once the receiver has every event. */
  private async finish(phase: 'COMPLETED' | 'TERMINATED' | 'CANCELLED'): Promise<LifecycleStatus> {
    this.finalPhase = phase;
    this.events.lifecycleClosed(phase);
    this.visibility.publish();
    await CancellationScope.nonCancellable(() =>
      this.events.flush(
        () => this.visibility.publish(),
        () => this.continueAsNewIfDue(),
      ),
    );
    await condition(allHandlersFinished);
    return this.status();
  }

  private onAlerts(change: FaultChange): void {
    for (const fault of change.raised) {
      log.warn('alert raised', { alert: fault.key, kind: fault.kind, errorClass: fault.errorClass });
      count('repayment_alerts_raised', 'Lifecycle alerts raised', { step: fault.step, kind: fault.kind });
    }
    for (const fault of change.cleared) {
      log.info('alert cleared', { alert: fault.key, kind: fault.kind });
      count('repayment_alerts_cleared', 'Lifecycle alerts cleared', { step: fault.step, kind: fault.kind });
    }
    this.events.alertsChanged(change);
  }

  // ---- what the outside sees -----------------------------------------------------------------------------

  phase(): LifecyclePhase {
    if (this.finalPhase) return this.finalPhase;
    if (this.state.stop) return 'TERMINATING';
    if (!this.state.signed) return 'AWAITING_SIGNATURE';
    for (const action of this.inFlight.values()) if (action.kind === 'schedule') return 'SCHEDULING';
    return 'MONITORING';
  }

  status(): LifecycleStatus {
    return this.visibility.status(this.finalPhase !== undefined);
  }

  endedAs(): LifecyclePhase | undefined {
    return this.finalPhase;
  }

  wakeLoop(): void {
    this.wake = true;
  }

  // ---- updates' answers ---------------------------------------------------------------------------------

  /**
   * An update's answer, given once the loop has acted on it: the caller sees the lifecycle as it now is, and the
   * update's completion always follows the commands that acting on it issued, whatever yields an interceptor (the
   * OpenTelemetry one) adds around the handler, so that a history replays with tracing on or off. Lifecycles of the
   * legacy branch answer at once, as they did.
   */
  answerAfterLoopTurn(): LifecycleStatus | Promise<LifecycleStatus> {
    if (this.legacy) return this.status();
    const turn = this.loopTurns;
    this.wake = true;
    return condition(() => this.loopTurns > turn || this.loopLeft).then(() => this.status());
  }
}
