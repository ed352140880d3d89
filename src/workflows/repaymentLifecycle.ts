import {
  ApplicationFailure,
  CancellationScope,
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { MainQueueActivities, ScheduledRecord } from '../activities';
import { RESPONSE_VERIFICATION_FAILED, UNEXPECTED_ANSWER } from '../domain/failureTypes';
import { shanghaiDateOf, shanghaiMidnight } from '../domain/calendar';
import {
  actionDue,
  applyResult,
  markDue,
  markFailed,
  markPolled,
  markScheduled,
  newInstallmentRecord,
  recordMismatches,
} from '../domain/installments';
import { applyModification, checkModification, type CheckedModification } from '../domain/modification';
import {
  issuesOf,
  parsePlan,
  PlanValidationError,
  resolvePolicy,
  workflowIdFor,
  type RepaymentPlan,
} from '../domain/plan';
import type { LifecyclePolicy } from '../domain/policy';
import { NextRepaymentDate, OutContractCode, RepaymentPhase, WechatContractId } from '../domain/searchAttributes';
import {
  CancelRequestSchema,
  CompensationBillOutcomeSchema,
  CompensationBillReportedSchema,
  ContractSignedSchema,
  RepaymentResultSignalSchema,
} from '../domain/signals';
import {
  isFinalBill,
  isFinalInstallment,
  type CarriedState,
  type InstallmentRecord,
  type LifecyclePhase,
  type LifecycleStatus,
  type StopRequest,
} from '../domain/status';
import { terminationRemark } from '../domain/termination';
import {
  DEFAULT_COMPENSATION_TASK_QUEUE,
  QUERY_OPTIONS,
  SCHEDULE_OPTIONS,
  TERMINATE_OPTIONS,
} from './activityPolicies';
import { compensationBillTracker } from './compensationBillTracker';
import {
  cancelSignal,
  compensationBillFinishedSignal,
  compensationBillReportedSignal,
  contractSignedSignal,
  INVALID_MODIFICATION,
  INVALID_PLAN,
  modifyPlanUpdate,
  repaymentResultSignal,
  statusQuery,
  type LifecycleInput,
} from './definitions';
import { applicationCause, describeFailure, failureDetails } from './failureText';

/*
 * Versioning convention: this workflow runs for years, so any change to the commands it issues (activities,
 * timers, child workflows, search-attribute upserts) or their order must be guarded with
 * `if (patched('short-change-id')) { new } else { old }`, later `deprecatePatch`, and a new replay history
 * recorded into test/histories/. Patched so far: strict-termination-confirmation.
 */

const { querySigning, queryScheduleRecord } = proxyActivities<MainQueueActivities>(QUERY_OPTIONS);
const { createScheduleRecord } = proxyActivities<MainQueueActivities>(SCHEDULE_OPTIONS);
const { terminateContract } = proxyActivities<MainQueueActivities>(TERMINATE_OPTIONS);

/** A create whose outcome is unknown or "duplicate" is reconciled by a query at most this many times. */
const MAX_RECONCILE_ROUNDS = 3;
const SIGNING_KEY = 'signing';
const STRICT_TERMINATION_CONFIRMATION = 'strict-termination-confirmation';
/** WeChat Pay's "no such resource" codes (digest: 404 NOT_FOUND, ORDER_NOT_EXIST, RESOURCE_NOT_EXISTS). */
const NOT_FOUND_TYPES = new Set(['NOT_FOUND', 'ORDER_NOT_EXIST', 'RESOURCE_NOT_EXISTS']);

type ActionKind = 'signing' | 'schedule' | 'poll' | 'bill';

const nowIso = (): string => new Date(Date.now()).toISOString();

/** One lifecycle per contract: confirm the signature, schedule each installment in its window, monitor, settle. */
export async function repaymentLifecycle(input: LifecycleInput): Promise<LifecycleStatus> {
  const { plan, policy } = validateStart(input);
  return new Lifecycle(input, plan, policy).run();
}

function validateStart(input: LifecycleInput): { plan: RepaymentPlan; policy: LifecyclePolicy } {
  try {
    // A continued run re-checks the shape only: its dates were checked when the lifecycle began.
    const plan = parsePlan(input?.plan, input?.carried ? undefined : shanghaiDateOf(Date.now()));
    const policy = resolvePolicy(input.policy, plan.policy);
    const expectedId = workflowIdFor(plan.outContractCode);
    if (workflowInfo().workflowId !== expectedId) {
      throw new PlanValidationError([
        { path: 'outContractCode', rule: `must match the workflow id (expected ${expectedId})` },
      ]);
    }
    return { plan, policy };
  } catch (error) {
    if (error instanceof PlanValidationError) {
      throw ApplicationFailure.create({
        type: INVALID_PLAN,
        message: error.message,
        nonRetryable: true,
        details: [error.issues],
      });
    }
    throw error;
  }
}

class Lifecycle {
  private readonly state: CarriedState;
  private readonly inFlight = new Map<string, { kind: ActionKind; done: Promise<void> }>();
  /** Every API action runs in this scope, so that a stop cancels what is in flight before terminating. */
  private readonly actions = new CancellationScope();
  private finalPhase: LifecyclePhase | undefined;
  private terminationError: string | undefined;
  private wake = false;
  private published: { phase?: string; next?: number | null } = {};

  constructor(
    private readonly input: LifecycleInput,
    private readonly plan: RepaymentPlan,
    private readonly policy: LifecyclePolicy,
  ) {
    this.state = input.carried ?? {
      signed: plan.signature.mode === 'none',
      signingStartedAt: nowIso(),
      installments: plan.installments.map((item) => newInstallmentRecord(item, policy)),
      compensationBills: [],
      continuedAsNewCount: 0,
    };
    this.registerHandlers();
  }

  async run(): Promise<LifecycleStatus> {
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
      this.requestStop({ kind: 'cancel', reason: 'cancel requested through Temporal' });
      const stop = this.state.stop!;
      return CancellationScope.nonCancellable(() => this.stop(stop));
    }
  }

  private async loop(): Promise<LifecycleStatus> {
    while (!this.state.stop) {
      const now = Date.now();
      if (!this.state.signed) this.stepSigning(now);
      else this.stepInstallments(now);
      this.startBillTrackers();
      this.publish();
      if (this.state.stop) break;
      if (this.inFlight.size === 0) {
        if (this.isComplete()) return this.complete();
        if (this.shouldContinueAsNew()) return this.continueAsNew();
      }
      const wakeAt = this.nextWakeAt();
      this.wake = false;
      const woken = () => this.wake || this.state.stop !== undefined;
      if (wakeAt === undefined) await condition(woken);
      else await condition(woken, Math.max(1, wakeAt - Date.now()));
    }
    return this.stop(this.state.stop);
  }

  // ---- the signature -------------------------------------------------------------------------------------

  private signingDeadline(): number {
    return Date.parse(this.state.signingStartedAt) + this.policy.signingDeadlineHours * 3_600_000;
  }

  private stepSigning(now: number): void {
    if (now >= this.signingDeadline()) {
      this.requestStop({
        kind: 'failure',
        reason: `contract not signed within ${this.policy.signingDeadlineHours} hours`,
      });
      return;
    }
    const next = this.state.nextSigningPollAt;
    if (
      this.plan.signature.mode === 'poll' &&
      !this.inFlight.has(SIGNING_KEY) &&
      (next === undefined || Date.parse(next) <= now)
    ) {
      this.launch(SIGNING_KEY, 'signing', () => this.pollSigning());
    }
  }

  private async pollSigning(): Promise<void> {
    const answer = await querySigning({ outContractCode: this.plan.outContractCode, appid: this.plan.appid });
    this.state.nextSigningPollAt = new Date(Date.now() + this.policy.signingPollIntervalSeconds * 1000).toISOString();
    if (answer.found && answer.authState === 'AUTHORIZED') this.markSigned(answer.signedTime);
  }

  private markSigned(signedTime: string | undefined): void {
    if (this.state.signed) return;
    this.state.signed = true;
    this.state.signedTime = signedTime ?? nowIso();
    delete this.state.nextSigningPollAt;
  }

  // ---- installments --------------------------------------------------------------------------------------

  private stepInstallments(now: number): void {
    for (const record of this.state.installments) {
      if (this.inFlight.has(record.outRecordId)) continue;
      switch (actionDue(record, now)) {
        case 'schedule':
          this.launch(record.outRecordId, 'schedule', () => this.schedule(record));
          break;
        case 'poll':
          this.launch(record.outRecordId, 'poll', () => this.poll(record));
          break;
        case 'due':
          markDue(record, this.policy);
          break;
        case 'result-overdue':
          this.failInstallment(
            record,
            `no repayment result within ${this.policy.resultDeadlineDays} days of ${record.repaymentDate}`,
          );
          break;
        case undefined:
          break;
      }
    }
  }

  private scheduleRequest(record: InstallmentRecord) {
    return {
      contractId: this.plan.contractId,
      appid: this.plan.appid,
      openid: this.plan.openid,
      ...(this.plan.subMchid ? { subMchid: this.plan.subMchid } : {}),
      ...(this.plan.subAppid ? { subAppid: this.plan.subAppid } : {}),
      item: {
        outRecordId: record.outRecordId,
        repaymentAmount: record.repaymentAmount,
        minRepaymentAmount: record.minRepaymentAmount,
        repaymentDate: record.repaymentDate,
        ...(record.description ? { description: record.description } : {}),
        ...(record.attach ? { attach: record.attach } : {}),
      },
    };
  }

  private async schedule(record: InstallmentRecord): Promise<void> {
    if (record.repaymentDate <= shanghaiDateOf(Date.now())) {
      this.failInstallment(
        record,
        `repayment date ${record.repaymentDate} passed before the record could be scheduled`,
      );
      return;
    }
    for (let round = 1; ; round++) {
      let stored: ScheduledRecord | undefined;
      try {
        stored = await createScheduleRecord(this.scheduleRequest(record));
      } catch (error) {
        if (!isUnknownCreateOutcome(error) || round >= MAX_RECONCILE_ROUNDS) throw error;
        // "Duplicate" or an answer we could not trust: what WeChat Pay holds decides.
        const lookup = await queryScheduleRecord({ outRecordId: record.outRecordId, contractId: this.plan.contractId });
        if (!lookup.found) continue; // not created: create again with the same out_record_id
        stored = lookup.record;
      }
      if (isFinalInstallment(record)) return; // settled by a signal meanwhile
      const differences = recordMismatches(record, this.plan.contractId, stored);
      if (differences.length > 0) {
        this.failInstallment(record, `WeChat Pay holds the record with a different ${differences.join(', ')}`);
      } else {
        markScheduled(record, Date.now(), this.policy);
      }
      return;
    }
  }

  private async poll(record: InstallmentRecord): Promise<void> {
    const lookup = await queryScheduleRecord({ outRecordId: record.outRecordId, contractId: this.plan.contractId });
    if (isFinalInstallment(record)) return;
    const now = Date.now();
    if (!lookup.found) {
      markPolled(record, now, 'MISSING', this.policy);
      this.failInstallment(record, 'scheduled record vanished at WeChat Pay (not found)');
      return;
    }
    const differences = recordMismatches(record, this.plan.contractId, lookup.record);
    if (differences.length > 0) {
      markPolled(record, now, 'MISMATCH', this.policy);
      this.failInstallment(record, `scheduled record changed at WeChat Pay: ${differences.join(', ')} differ`);
      return;
    }
    markPolled(record, now, 'MATCHES', this.policy);
  }

  private failInstallment(record: InstallmentRecord, reason: string): void {
    markFailed(record, reason);
    this.requestStop({ kind: 'failure', reason: `installment ${record.outRecordId}: ${reason}` });
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

  private launch(key: string, kind: ActionKind, action: () => Promise<void>): void {
    const done = this.actions
      .run(action)
      .catch((error: unknown) => {
        if (isCancellation(error)) return;
        const what =
          kind === 'signing'
            ? 'signing query'
            : kind === 'bill'
              ? `compensation bill ${key.slice(5)}`
              : `${kind} of ${key}`;
        const reason = `${what} failed: ${describeFailure(error)}`;
        const record = this.state.installments.find((r) => r.outRecordId === key);
        if (record && !isFinalInstallment(record))
          this.failInstallment(record, `${kind} failed: ${describeFailure(error)}`);
        else this.requestStop({ kind: 'failure', reason });
      })
      .finally(() => {
        this.inFlight.delete(key);
        this.wake = true;
      });
    this.inFlight.set(key, { kind, done });
  }

  private requestStop(stop: StopRequest): void {
    if (this.state.stop || this.finalPhase) return;
    this.state.stop = stop;
    log.warn('repayment lifecycle stopping', { kind: stop.kind, reason: stop.reason });
  }

  private isComplete(): boolean {
    return (
      this.state.signed &&
      this.state.installments.every(isFinalInstallment) &&
      this.state.compensationBills.every(isFinalBill)
    );
  }

  private nextWakeAt(): number | undefined {
    const times: number[] = [];
    if (!this.state.signed) {
      times.push(this.signingDeadline());
      if (this.state.nextSigningPollAt && !this.inFlight.has(SIGNING_KEY))
        times.push(Date.parse(this.state.nextSigningPollAt));
    } else {
      for (const record of this.state.installments) {
        if (record.nextActionAt && !this.inFlight.has(record.outRecordId)) times.push(Date.parse(record.nextActionAt));
      }
    }
    return times.length > 0 ? Math.min(...times) : undefined;
  }

  private shouldContinueAsNew(): boolean {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength >= this.policy.continueAsNewAfterEvents;
  }

  private async continueAsNew(): Promise<never> {
    await condition(allHandlersFinished);
    log.info('repayment lifecycle continuing as new', { historyLength: workflowInfo().historyLength });
    return continueAsNew<typeof repaymentLifecycle>({
      ...this.input,
      carried: { ...this.state, continuedAsNewCount: this.state.continuedAsNewCount + 1 },
    });
  }

  private async complete(): Promise<LifecycleStatus> {
    this.finalPhase = 'COMPLETED';
    this.publish();
    await condition(allHandlersFinished);
    return this.status();
  }

  private async stop(stop: StopRequest): Promise<LifecycleStatus> {
    this.publish();
    this.actions.cancel();
    await Promise.allSettled([...this.inFlight.values()].map((action) => action.done));
    await this.terminate(stop);
    this.finalPhase = stop.kind === 'cancel' ? 'CANCELLED' : 'TERMINATED';
    this.publish();
    await condition(allHandlersFinished);
    return this.status();
  }

  /**
   * Terminates the contract once per lifecycle (the record of it is carried across continue-as-new). Retryable
   * errors are retried by the activity without limit. After a non-retryable refusal, only evidence counts as
   * "already terminated": a business-state refusal (INVALID_REQUEST) while the signing query finds the contract no
   * longer authorized, or "no such contract" from both endpoints. Anything else (a bad parameter, no permission)
   * is retried after a long wait and shown in `status`, so that a contract is never left in force unnoticed.
   */
  private async terminate(stop: StopRequest): Promise<void> {
    if (this.state.termination) return;
    const remark = terminationRemark(
      stop.kind === 'cancel' ? `Cancelled by the lender: ${stop.reason}` : `Repayment lifecycle failed: ${stop.reason}`,
    );
    // Before this patch any refusal was followed by the signing query and a non-authorized answer counted as done.
    const strict = patched(STRICT_TERMINATION_CONFIRMATION);
    for (;;) {
      let refusal: string | undefined;
      try {
        await terminateContract({ outContractCode: this.plan.outContractCode, remark });
        this.state.termination = { remark, at: nowIso(), alreadyTerminated: false };
        this.terminationError = undefined;
        return;
      } catch (error) {
        this.terminationError = describeFailure(error);
        refusal = applicationCause(error)?.type ?? undefined;
        log.warn('contract termination refused', { error: this.terminationError });
      }
      const mayBeDone = !strict || refusal === 'INVALID_REQUEST' || NOT_FOUND_TYPES.has(refusal ?? '');
      if (mayBeDone) {
        try {
          const signing = await querySigning({ outContractCode: this.plan.outContractCode, appid: this.plan.appid });
          const confirmed = !strict
            ? !signing.found || signing.authState !== 'AUTHORIZED'
            : refusal === 'INVALID_REQUEST'
              ? signing.found && signing.authState !== 'AUTHORIZED'
              : !signing.found;
          if (confirmed) {
            this.state.termination = { remark, at: nowIso(), alreadyTerminated: true };
            this.terminationError = undefined;
            return;
          }
        } catch (error) {
          log.warn('signing query failed while reconciling termination', { error: describeFailure(error) });
        }
      }
      await sleep(this.policy.terminationRetryMinutes * 60_000);
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

  /** Keeps RepaymentPhase and NextRepaymentDate current, upserting only on change. */
  private publish(): void {
    const phase = this.phase();
    const unsettled = this.state.installments.filter((r) => !isFinalInstallment(r)).map((r) => r.repaymentDate);
    const next = unsettled.length > 0 ? shanghaiMidnight(unsettled.reduce((a, b) => (a < b ? a : b))) : null;
    const updates = [];
    if (phase !== this.published.phase) updates.push({ key: RepaymentPhase, value: phase });
    if (next !== this.published.next)
      updates.push({ key: NextRepaymentDate, value: next === null ? null : new Date(next) });
    if (updates.length === 0) return;
    upsertSearchAttributes(updates);
    this.published = { phase, next };
  }

  private nextPollAt(): string | undefined {
    if (!this.state.signed) {
      return this.plan.signature.mode === 'poll' ? (this.state.nextSigningPollAt ?? nowIso()) : undefined;
    }
    const polls = this.state.installments
      .filter((r) => (r.state === 'SCHEDULED' || r.state === 'POLLING') && r.nextActionAt)
      .map((r) => r.nextActionAt as string);
    return polls.length > 0 ? polls.reduce((a, b) => (a < b ? a : b)) : undefined;
  }

  private status(): LifecycleStatus {
    const stop = this.state.stop;
    const nextPollAt = this.finalPhase || stop ? undefined : this.nextPollAt();
    return {
      phase: this.phase(),
      outContractCode: this.plan.outContractCode,
      contractId: this.plan.contractId,
      signed: this.state.signed,
      installments: this.state.installments,
      ...(nextPollAt ? { nextPollAt } : {}),
      ...(stop?.kind === 'failure' ? { failureReason: stop.reason } : {}),
      ...(stop?.kind === 'cancel' ? { cancelReason: stop.reason } : {}),
      ...(this.state.termination ? { termination: this.state.termination } : {}),
      ...(this.terminationError ? { terminationError: this.terminationError } : {}),
      compensationBills: this.state.compensationBills,
      continuedAsNewCount: this.state.continuedAsNewCount,
    };
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
      this.markSigned(parsed.data.signedTime);
      this.wake = true;
    });

    setHandler(repaymentResultSignal, (payload) => {
      const parsed = RepaymentResultSignalSchema.safeParse(payload);
      if (!parsed.success) return log.warn('repaymentResult ignored: bad payload', { issues: issuesOf(parsed.error) });
      const { outRecordId, outcome, ...rest } = parsed.data;
      const record = this.state.installments.find((r) => r.outRecordId === outRecordId);
      if (!record) return log.warn('repaymentResult ignored: unknown record', { outRecordId });
      if (this.finalPhase || this.state.stop) return;
      if (!applyResult(record, { outcome, ...rest, reportedAt: nowIso() })) return; // a duplicate
      if (outcome === 'FAILED' && this.policy.onRepaymentFailed === 'terminate') {
        this.requestStop({
          kind: 'failure',
          reason: `installment ${outRecordId}: ${record.failureReason ?? 'repayment failed'}`,
        });
      }
      this.wake = true;
    });

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
      this.requestStop({ kind: 'cancel', reason: parsed.success ? parsed.data.reason : 'no reason given' });
    });

    setHandler(
      modifyPlanUpdate,
      (modification) => {
        applyModification(this.state.installments, this.checkModification(modification), this.policy);
        this.wake = true;
        return this.status();
      },
      { validator: (modification) => void this.checkModification(modification) },
    );
  }

  private checkModification(modification: unknown): CheckedModification {
    if (this.finalPhase || this.state.stop) {
      throw ApplicationFailure.create({
        type: INVALID_MODIFICATION,
        message: `the lifecycle is ${this.phase()}: its plan can no longer change`,
        nonRetryable: true,
      });
    }
    try {
      return checkModification(this.state.installments, modification, {
        outContractCode: this.plan.outContractCode,
        today: shanghaiDateOf(Date.now()),
        busy: (outRecordId) => this.inFlight.has(outRecordId),
      });
    } catch (error) {
      if (!(error instanceof PlanValidationError)) throw error;
      throw ApplicationFailure.create({
        type: INVALID_MODIFICATION,
        message: error.message,
        nonRetryable: true,
        details: [error.issues],
      });
    }
  }
}

/** A create answered "duplicate", or whose answer could not be trusted: it may have been executed. */
function isUnknownCreateOutcome(error: unknown): boolean {
  const cause = applicationCause(error);
  if (!cause) return false;
  if (cause.type === RESPONSE_VERIFICATION_FAILED || cause.type === UNEXPECTED_ANSWER) return true;
  return failureDetails(error)?.issue === 'DUPLICATE' || (cause.type ?? '').includes('DUPLICATE');
}
