import {
  ApplicationFailure,
  CancellationScope,
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  log,
  metricMeter,
  patched,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { FaultBook, faultKey, type FaultChange } from '../domain/alerts';
import { shanghaiDateOf } from '../domain/calendar';
import { classifyFailure, type ClassifiedFailure } from '../domain/failurePolicy';
import { applyResult, newInstallmentRecord } from '../domain/installments';
import { applyModification, checkModification, type CheckedModification } from '../domain/modification';
import { checkResolution, type CheckedResolution } from '../domain/operatorActions';
import {
  issuesOf,
  parsePlan,
  PlanValidationError,
  resolvePolicy,
  workflowIdFor,
  type RepaymentPlan,
} from '../domain/plan';
import { LifecyclePolicySchema, type LifecyclePolicy } from '../domain/policy';
import { checkRepaymentResult, type CheckedResult } from '../domain/repaymentResults';
import { OutContractCode, WechatContractId } from '../domain/searchAttributes';
import {
  CancelRequestSchema,
  CompensationBillOutcomeSchema,
  CompensationBillReportedSchema,
  ContractSignedSchema,
} from '../domain/signals';
import {
  isFinalBill,
  isFinalInstallment,
  type CarriedState,
  type LifecyclePhase,
  type LifecycleStatus,
  type StopRequest,
} from '../domain/status';
import { DEFAULT_COMPENSATION_TASK_QUEUE } from './activityPolicies';
import { compensationBillTracker } from './compensationBillTracker';
import {
  cancelSignal,
  compensationBillFinishedSignal,
  compensationBillReportedSignal,
  contractSignedSignal,
  INVALID_MODIFICATION,
  INVALID_PLAN,
  INVALID_RESOLUTION,
  INVALID_RESULT,
  modifyPlanUpdate,
  reportRepaymentResultUpdate,
  repaymentResultSignal,
  resolveAlertUpdate,
  statusQuery,
  type LifecycleInput,
} from './definitions';
import type { ActionKind, LifecycleCore } from './lifecycle/core';
import { InstallmentScheduler } from './lifecycle/installmentScheduler';
import { EVIDENCE_ONLY_PATCH, legacyActionFailed } from './lifecycle/legacy';
import { SigningStep } from './lifecycle/signing';
import { TerminationSaga } from './lifecycle/terminationSaga';
import { Visibility } from './lifecycle/visibility';

/*
 * Versioning convention: this workflow runs for years, so any change to the commands it issues (activities,
 * timers, child workflows, search-attribute upserts) or their order must be guarded with
 * `if (patched('short-change-id')) { new } else { old }`, later `deprecatePatch`, and a new replay history
 * recorded into test/histories/. Patched so far: strict-termination-confirmation, evidence-only-failures
 * (decided once per run, at its start: see lifecycle/legacy.ts).
 */

/** Workflow metrics (emitted by the worker's runtime, not on replay); made on use: only a workflow may make them. */
const count = (name: string, description: string, tags: Record<string, string> = {}): void =>
  metricMeter.createCounter(name, '1', description).add(1, tags);

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

class Lifecycle implements LifecycleCore {
  readonly state: CarriedState;
  readonly legacy: boolean;
  readonly faults: FaultBook;
  private readonly inFlight = new Map<string, { kind: ActionKind; done: Promise<void> }>();
  /** Every API action runs in this scope, so that a stop cancels what is in flight before terminating. */
  private readonly actions = new CancellationScope();
  private readonly signing: SigningStep;
  private readonly scheduler: InstallmentScheduler;
  private readonly termination: TerminationSaga;
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
    this.signing = new SigningStep(this);
    this.scheduler = new InstallmentScheduler(this, this.signing);
    this.termination = new TerminationSaga(this);
    this.visibility = new Visibility(
      this,
      () => this.phase(),
      () => this.termination.error,
    );
    this.registerHandlers();
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
      this.startBillTrackers();
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
      else await condition(woken, Math.max(1, wakeAt - Date.now()));
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

  // ---- compensation bills --------------------------------------------------------------------------------

  private startBillTrackers(): void {
    for (const bill of this.state.compensationBills) {
      const key = `bill:${bill.outBillNo}`;
      if (bill.state !== 'REPORTED' || this.inFlight.has(key)) continue;
      this.launch(key, 'bill', async () => {
        // Not cancellable: the tracker outlives this run (continue-as-new) and even a terminated lifecycle.
        await CancellationScope.nonCancellable(async () => {
          try {
            await startChild(compensationBillTracker, {
              workflowId: `${workflowInfo().workflowId}-bill-${bill.outBillNo}`,
              parentClosePolicy: ParentClosePolicy.ABANDON,
              args: [
                {
                  outBillNo: bill.outBillNo,
                  parentWorkflowId: workflowInfo().workflowId,
                  activityTaskQueue: this.input.compensationTaskQueue ?? DEFAULT_COMPENSATION_TASK_QUEUE,
                  pollIntervalSeconds: this.policy.compensationPollIntervalSeconds,
                  notFoundHours: this.policy.compensationNotFoundHours,
                },
              ],
            });
          } catch (error) {
            if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
          }
        });
        if (bill.state === 'REPORTED') bill.state = 'TRACKING';
      });
    }
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
    await condition(allHandlersFinished);
    log.info('repayment lifecycle continuing as new', { historyLength: workflowInfo().historyLength });
    return continueAsNew<typeof repaymentLifecycle>({
      ...this.input,
      ...overrides,
      carried: { ...this.state, continuedAsNewCount: this.state.continuedAsNewCount + (newRun ? 1 : 0) },
    });
  }

  private async complete(): Promise<LifecycleStatus> {
    this.loopLeft = true;
    this.finalPhase = 'COMPLETED';
    this.visibility.publish();
    await condition(allHandlersFinished);
    return this.status();
  }

  private async stop(stop: StopRequest): Promise<LifecycleStatus> {
    this.loopLeft = true;
    this.visibility.publish();
    this.actions.cancel();
    await Promise.allSettled([...this.inFlight.values()].map((action) => action.done));
    if (this.fatal !== undefined) throw this.fatal;
    // What was failing or waiting for a decision is moot now: only the termination itself can still need a person.
    if (!this.legacy) this.faults.clearAllExcept('terminate');
    await this.termination.run(stop);
    this.finalPhase = stop.kind === 'cancel' ? 'CANCELLED' : 'TERMINATED';
    this.visibility.publish();
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
  }

  // ---- what the outside sees -----------------------------------------------------------------------------

  private phase(): LifecyclePhase {
    if (this.finalPhase) return this.finalPhase;
    if (this.state.stop) return 'TERMINATING';
    if (!this.state.signed) return 'AWAITING_SIGNATURE';
    for (const action of this.inFlight.values()) if (action.kind === 'schedule') return 'SCHEDULING';
    return 'MONITORING';
  }

  private status(): LifecycleStatus {
    return this.visibility.status(this.finalPhase !== undefined);
  }

  // ---- signals, queries, updates -------------------------------------------------------------------------

  private registerHandlers(): void {
    setHandler(statusQuery, () => this.status());

    setHandler(contractSignedSignal, (payload) => {
      const parsed = ContractSignedSchema.safeParse(payload);
      if (!parsed.success) return log.warn('contractSigned ignored: bad payload', { issues: issuesOf(parsed.error) });
      if (parsed.data.contractId && parsed.data.contractId !== this.plan.contractId) {
        return log.warn('contractSigned ignored: another contract id', { contractId: parsed.data.contractId });
      }
      this.signing.markSigned(parsed.data.signedTime);
      this.wake = true;
    });

    setHandler(repaymentResultSignal, (payload) => {
      if (this.finalPhase || this.state.stop) return;
      let checked: CheckedResult;
      try {
        checked = checkRepaymentResult(this.state.installments, payload);
      } catch (error) {
        if (!(error instanceof PlanValidationError)) throw error;
        // Signals cannot be refused: counted and logged, never silently dropped (the update refuses instead).
        this.state.rejectedResults = (this.state.rejectedResults ?? 0) + 1;
        count('repayment_results_rejected', 'Invalid lender repayment results received by signal');
        return log.warn('repaymentResult rejected', { reason: error.message });
      }
      this.applyRepaymentResult(checked);
    });

    setHandler(
      reportRepaymentResultUpdate,
      (payload) => {
        this.applyRepaymentResult(this.checkResult(payload));
        return this.answerAfterLoopTurn();
      },
      { validator: (payload) => void this.checkResult(payload) },
    );

    setHandler(compensationBillReportedSignal, (payload) => {
      const parsed = CompensationBillReportedSchema.safeParse(payload);
      if (!parsed.success)
        return log.warn('compensationBillReported ignored: bad payload', { issues: issuesOf(parsed.error) });
      if (this.finalPhase || this.state.stop) return;
      if (this.state.compensationBills.some((b) => b.outBillNo === parsed.data.outBillNo)) return;
      this.state.compensationBills.push({ outBillNo: parsed.data.outBillNo, state: 'REPORTED', reportedAt: nowIso() });
      this.wake = true;
    });

    setHandler(compensationBillFinishedSignal, (payload) => {
      const parsed = CompensationBillOutcomeSchema.safeParse(payload);
      if (!parsed.success)
        return log.warn('compensationBillFinished ignored: bad payload', { issues: issuesOf(parsed.error) });
      const outcome = parsed.data;
      const bill = this.state.compensationBills.find((b) => b.outBillNo === outcome.outBillNo);
      if (!bill || isFinalBill(bill)) return;
      bill.state = outcome.state;
      bill.finishedAt = outcome.at;
      if (outcome.amount) bill.amount = outcome.amount;
      if (outcome.closeReason) bill.closeReason = outcome.closeReason;
      this.wake = true;
    });

    setHandler(cancelSignal, (payload) => {
      const parsed = CancelRequestSchema.safeParse(payload);
      // A cancel is never lost to a malformed reason.
      this.requestStop({
        kind: 'cancel',
        evidence: 'LENDER_CANCELLED',
        reason: parsed.success ? parsed.data.reason : 'no reason given',
      });
    });

    setHandler(
      modifyPlanUpdate,
      (modification) => {
        const checked = this.checkModification(modification);
        applyModification(this.state.installments, checked, this.policy);
        // A missed installment moved to a new date is waiting again: its alert is answered.
        for (const change of checked.reschedule) this.faults.clear(faultKey('create', change.outRecordId));
        this.wake = true;
        return this.answerAfterLoopTurn();
      },
      { validator: (modification) => void this.checkModification(modification) },
    );

    setHandler(
      resolveAlertUpdate,
      (input) => {
        this.resolve(this.checkResolution(input));
        this.wake = true;
        return this.answerAfterLoopTurn();
      },
      { validator: (input) => void this.checkResolution(input) },
    );
  }

  /**
   * An update's answer, given once the loop has acted on it: the caller sees the lifecycle as it now is, and the
   * update's completion always follows the commands that acting on it issued, whatever yields an interceptor (the
   * OpenTelemetry one) adds around the handler, so that a history replays with tracing on or off. Lifecycles of the
   * legacy branch answer at once, as they did.
   */
  private answerAfterLoopTurn(): LifecycleStatus | Promise<LifecycleStatus> {
    if (this.legacy) return this.status();
    const turn = this.loopTurns;
    this.wake = true;
    return condition(() => this.loopTurns > turn || this.loopLeft).then(() => this.status());
  }

  private applyRepaymentResult({ record, result, repeat }: CheckedResult): void {
    if (repeat) return;
    const { outRecordId, outcome, ...rest } = result;
    if (!applyResult(record, { outcome, ...rest, reportedAt: nowIso() })) return;
    this.faults.clearInstallment(outRecordId);
    if (outcome === 'FAILED' && this.policy.onRepaymentFailed === 'terminate') {
      this.requestStop({
        kind: 'failure',
        evidence: 'REPAYMENT_FAILED',
        reason: `installment ${outRecordId}: ${record.failureReason ?? 'repayment failed'}`,
      });
    }
    this.wake = true;
  }

  private checkResult(payload: unknown): CheckedResult {
    this.refuseWhenStopped(INVALID_RESULT, 'no result can be reported');
    try {
      return checkRepaymentResult(this.state.installments, payload);
    } catch (error) {
      if (error instanceof PlanValidationError) throw rejection(INVALID_RESULT, error);
      throw error;
    }
  }

  private checkModification(modification: unknown): CheckedModification {
    this.refuseWhenStopped(INVALID_MODIFICATION, 'its plan can no longer change');
    try {
      return checkModification(this.state.installments, modification, {
        outContractCode: this.plan.outContractCode,
        today: shanghaiDateOf(Date.now()),
        busy: (outRecordId) => this.inFlight.has(outRecordId),
      });
    } catch (error) {
      if (error instanceof PlanValidationError) throw rejection(INVALID_MODIFICATION, error);
      throw error;
    }
  }

  private checkResolution(input: unknown): CheckedResolution {
    if (this.finalPhase) this.refuseWhenStopped(INVALID_RESOLUTION, 'there is nothing left to resolve');
    try {
      return checkResolution(this.state.faults ?? [], input, { stopping: this.state.stop !== undefined });
    } catch (error) {
      if (error instanceof PlanValidationError) throw rejection(INVALID_RESOLUTION, error);
      throw error;
    }
  }

  private refuseWhenStopped(type: string, what: string): void {
    if (this.finalPhase || this.state.stop) {
      throw ApplicationFailure.create({
        type,
        message: `the lifecycle is ${this.phase()}: ${what}`,
        nonRetryable: true,
      });
    }
  }

  /** Carries out an operator's checked decision. */
  private resolve({ fault, action, reason }: CheckedResolution): void {
    const now = Date.now();
    const record = this.state.installments.find((r) => r.outRecordId === fault.outRecordId);
    log.info('operator resolved an alert', { alert: fault.key, action });
    if (action === 'terminate') {
      this.requestStop({ kind: 'failure', evidence: 'OPERATOR', reason: `terminated by an operator: ${reason}` });
      return;
    }
    if (action === 'skip' && record) {
      record.state = 'SKIPPED';
      delete record.nextActionAt;
      this.faults.clearInstallment(record.outRecordId);
      return;
    }
    // retry
    if (fault.step === 'terminate') {
      this.termination.wake();
      return;
    }
    if (fault.kind === 'INFRASTRUCTURE') {
      fault.retryAt = new Date(now).toISOString();
      if (record) record.nextActionAt = fault.retryAt;
      return;
    }
    this.faults.clear(fault.key);
    if (!record) return;
    if (fault.kind === 'RESULT_OVERDUE') {
      record.nextActionAt = new Date(now + this.policy.resultDeadlineDays * 86_400_000).toISOString();
      return;
    }
    // A refused, changed or missing record: ask WeChat Pay again (query first, then create if it is not there).
    if (fault.step === 'create') record.createOutcomeUnknown = true;
    record.nextActionAt = new Date(now).toISOString();
  }
}

function rejection(type: string, error: PlanValidationError): ApplicationFailure {
  return ApplicationFailure.create({ type, message: error.message, nonRetryable: true, details: [error.issues] });
}
