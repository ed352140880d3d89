import { ApplicationFailure, log, metricMeter, setHandler } from '@temporalio/workflow';
import { faultKey } from '../../domain/alerts';
import { shanghaiDateOf } from '../../domain/calendar';
import { applyResult } from '../../domain/installments';
import { applyModification, checkModification, type CheckedModification } from '../../domain/modification';
import { checkResolution, type CheckedResolution } from '../../domain/operatorActions';
import { issuesOf, PlanValidationError } from '../../domain/plan';
import { checkRepaymentResult, type CheckedResult } from '../../domain/repaymentResults';
import {
  CancelRequestSchema,
  CompensationBillOutcomeSchema,
  CompensationBillReportedSchema,
  ContractSignedSchema,
} from '../../domain/signals';
import { isFinalBill, type LifecyclePhase, type LifecycleStatus } from '../../domain/status';
import {
  cancelSignal,
  compensationBillFinishedSignal,
  compensationBillReportedSignal,
  contractSignedSignal,
  INVALID_MODIFICATION,
  INVALID_RESOLUTION,
  INVALID_RESULT,
  modifyPlanUpdate,
  reportRepaymentResultUpdate,
  repaymentResultSignal,
  resolveAlertUpdate,
  statusQuery,
} from '../definitions';
import type { LifecycleCore } from './core';
import { EVENTS_KEY } from './lenderEvents';
import type { SigningStep } from './signing';
import type { TerminationSaga } from './terminationSaga';

/**
 * The lifecycle's messages, beside the workflow: the `status` query, the lender's and the operator's signals, and
 * the updates with their validators (`reportRepaymentResult`, `modifyPlan`, `resolveAlert`). Validators refuse bad
 * input before it enters history; signals, which cannot be refused, are checked with the same rules and logged.
 */

/** What the handlers need of the lifecycle beyond the step modules' core. */
export interface MessageHost extends LifecycleCore {
  readonly signing: SigningStep;
  readonly termination: TerminationSaga;
  /** The final phase once the lifecycle has ended. */
  endedAs(): LifecyclePhase | undefined;
  phase(): LifecyclePhase;
  status(): LifecycleStatus;
  wakeLoop(): void;
  /** An update's answer once the loop has acted on it (see Lifecycle.answerAfterLoopTurn). */
  answerAfterLoopTurn(): LifecycleStatus | Promise<LifecycleStatus>;
}

/** Workflow metrics (emitted by the worker's runtime, not on replay); made on use: only a workflow may make them. */
export const count = (name: string, description: string, tags: Record<string, string> = {}): void =>
  metricMeter.createCounter(name, '1', description).add(1, tags);

const nowIso = (): string => new Date(Date.now()).toISOString();

export class LifecycleMessages {
  constructor(private readonly host: MessageHost) {}

  register(): void {
    setHandler(statusQuery, () => this.host.status());

    setHandler(contractSignedSignal, (payload) => {
      const parsed = ContractSignedSchema.safeParse(payload);
      if (!parsed.success) return log.warn('contractSigned ignored: bad payload', { issues: issuesOf(parsed.error) });
      if (parsed.data.contractId && parsed.data.contractId !== this.host.plan.contractId) {
        return log.warn('contractSigned ignored: another contract id', { contractId: parsed.data.contractId });
      }
      this.host.signing.markSigned(parsed.data.signedTime);
      this.host.wakeLoop();
    });

    setHandler(repaymentResultSignal, (payload) => {
      if (this.host.endedAs() || this.host.state.stop) return;
      let checked: CheckedResult;
      try {
        checked = checkRepaymentResult(this.host.state.installments, payload);
      } catch (error) {
        if (!(error instanceof PlanValidationError)) throw error;
        // Signals cannot be refused: counted and logged, never silently dropped (the update refuses instead).
        this.host.state.rejectedResults = (this.host.state.rejectedResults ?? 0) + 1;
        count('repayment_results_rejected', 'Invalid lender repayment results received by signal');
        return log.warn('repaymentResult rejected', { reason: error.message });
      }
      this.applyRepaymentResult(checked);
    });

    setHandler(
      reportRepaymentResultUpdate,
      (payload) => {
        this.applyRepaymentResult(this.checkResult(payload));
        return this.host.answerAfterLoopTurn();
      },
      { validator: (payload) => void this.checkResult(payload) },
    );

    setHandler(compensationBillReportedSignal, (payload) => {
      const parsed = CompensationBillReportedSchema.safeParse(payload);
      if (!parsed.success)
        return log.warn('compensationBillReported ignored: bad payload', { issues: issuesOf(parsed.error) });
      if (this.host.endedAs() || this.host.state.stop) return;
      if (this.host.state.compensationBills.some((b) => b.outBillNo === parsed.data.outBillNo)) return;
      this.host.state.compensationBills.push({
        outBillNo: parsed.data.outBillNo,
        state: 'REPORTED',
        reportedAt: nowIso(),
      });
      this.host.wakeLoop();
    });

    setHandler(compensationBillFinishedSignal, (payload) => {
      const parsed = CompensationBillOutcomeSchema.safeParse(payload);
      if (!parsed.success)
        return log.warn('compensationBillFinished ignored: bad payload', { issues: issuesOf(parsed.error) });
      const outcome = parsed.data;
      const bill = this.host.state.compensationBills.find((b) => b.outBillNo === outcome.outBillNo);
      if (!bill || isFinalBill(bill)) return;
      bill.state = outcome.state;
      bill.finishedAt = outcome.at;
      if (outcome.amount) bill.amount = outcome.amount;
      if (outcome.closeReason) bill.closeReason = outcome.closeReason;
      this.host.wakeLoop();
    });

    setHandler(cancelSignal, (payload) => {
      const parsed = CancelRequestSchema.safeParse(payload);
      // A cancel is never lost to a malformed reason.
      this.host.requestStop({
        kind: 'cancel',
        evidence: 'LENDER_CANCELLED',
        reason: parsed.success ? parsed.data.reason : 'no reason given',
      });
    });

    setHandler(
      modifyPlanUpdate,
      (modification) => {
        const checked = this.checkModification(modification);
        applyModification(this.host.state.installments, checked, this.host.policy);
        // A missed installment moved to a new date is waiting again: its alert is answered.
        for (const change of checked.reschedule) this.host.faults.clear(faultKey('create', change.outRecordId));
        this.host.wakeLoop();
        return this.host.answerAfterLoopTurn();
      },
      { validator: (modification) => void this.checkModification(modification) },
    );

    setHandler(
      resolveAlertUpdate,
      (input) => {
        this.resolve(this.checkResolution(input));
        this.host.wakeLoop();
        return this.host.answerAfterLoopTurn();
      },
      { validator: (input) => void this.checkResolution(input) },
    );
  }

  private applyRepaymentResult({ record, result, repeat }: CheckedResult): void {
    if (repeat) return;
    const { outRecordId, outcome, ...rest } = result;
    if (!applyResult(record, { outcome, ...rest, reportedAt: nowIso() })) return;
    this.host.events.installmentResult(record);
    this.host.faults.clearInstallment(outRecordId);
    if (outcome === 'FAILED' && this.host.policy.onRepaymentFailed === 'terminate') {
      this.host.requestStop({
        kind: 'failure',
        evidence: 'REPAYMENT_FAILED',
        reason: `installment ${outRecordId}: ${record.failureReason ?? 'repayment failed'}`,
      });
    }
    this.host.wakeLoop();
  }

  private checkResult(payload: unknown): CheckedResult {
    this.refuseWhenStopped(INVALID_RESULT, 'no result can be reported');
    try {
      return checkRepaymentResult(this.host.state.installments, payload);
    } catch (error) {
      if (error instanceof PlanValidationError) throw rejection(INVALID_RESULT, error);
      throw error;
    }
  }

  private checkModification(modification: unknown): CheckedModification {
    this.refuseWhenStopped(INVALID_MODIFICATION, 'its plan can no longer change');
    try {
      return checkModification(this.host.state.installments, modification, {
        outContractCode: this.host.plan.outContractCode,
        today: shanghaiDateOf(Date.now()),
        busy: (outRecordId) => this.host.busy(outRecordId),
      });
    } catch (error) {
      if (error instanceof PlanValidationError) throw rejection(INVALID_MODIFICATION, error);
      throw error;
    }
  }

  private checkResolution(input: unknown): CheckedResolution {
    // An ended lifecycle only delivers its lender events: retrying them is all that is left to decide.
    const delivering = this.host.endedAs() !== undefined && this.host.faults.get(EVENTS_KEY) !== undefined;
    if (this.host.endedAs() && !delivering)
      this.refuseWhenStopped(INVALID_RESOLUTION, 'there is nothing left to resolve');
    try {
      const checked = checkResolution(this.host.state.faults ?? [], input, {
        stopping: this.host.state.stop !== undefined,
      });
      if (delivering && checked.fault.key !== EVENTS_KEY) {
        this.refuseWhenStopped(INVALID_RESOLUTION, 'only its lender events alert is left to resolve');
      }
      return checked;
    } catch (error) {
      if (error instanceof PlanValidationError) throw rejection(INVALID_RESOLUTION, error);
      throw error;
    }
  }

  private refuseWhenStopped(type: string, what: string): void {
    if (this.host.endedAs() || this.host.state.stop) {
      throw ApplicationFailure.create({
        type,
        message: `the lifecycle is ${this.host.phase()}: ${what}`,
        nonRetryable: true,
      });
    }
  }

  /** Carries out an operator's checked decision. */
  private resolve({ fault, action, reason }: CheckedResolution): void {
    const now = Date.now();
    const record = this.host.state.installments.find((r) => r.outRecordId === fault.outRecordId);
    log.info('operator resolved an alert', { alert: fault.key, action });
    if (action === 'terminate') {
      this.host.requestStop({ kind: 'failure', evidence: 'OPERATOR', reason: `terminated by an operator: ${reason}` });
      return;
    }
    if (action === 'skip' && record) {
      record.state = 'SKIPPED';
      delete record.nextActionAt;
      this.host.faults.clearInstallment(record.outRecordId);
      this.host.events.installmentSkipped(record, reason);
      return;
    }
    // retry
    if (fault.step === 'terminate') {
      this.host.termination.wake();
      return;
    }
    if (fault.kind === 'INFRASTRUCTURE') {
      fault.retryAt = new Date(now).toISOString();
      if (record) record.nextActionAt = fault.retryAt;
      return;
    }
    this.host.faults.clear(fault.key);
    if (!record) return;
    if (fault.kind === 'RESULT_OVERDUE') {
      record.nextActionAt = new Date(now + this.host.policy.resultDeadlineDays * 86_400_000).toISOString();
      return;
    }
    // A refused, changed or missing record: ask WeChat Pay again (query first, then create if it is not there).
    if (fault.step === 'create') record.createOutcomeUnknown = true;
    record.nextActionAt = new Date(now).toISOString();
  }
}

/** A validator's refusal: the failure type says which, `details[0]` the issues (the client names the field). */
export function rejection(type: string, error: PlanValidationError): ApplicationFailure {
  return ApplicationFailure.create({ type, message: error.message, nonRetryable: true, details: [error.issues] });
}
