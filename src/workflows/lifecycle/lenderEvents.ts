import { log, workflowInfo } from '@temporalio/workflow';
import type { ScheduledRecord } from '../../activities';
import type { FaultChange } from '../../domain/alerts';
import {
  LENDER_EVENT_SCHEMA_VERSION,
  scrubbed,
  type EventTermination,
  type LenderEvent,
  type LenderEventData,
  type LenderEventOutbox,
  type LenderEventType,
} from '../../domain/lenderEvents';
import type { InstallmentRecord } from '../../domain/status';
import type { LifecycleCore } from './core';
import { EventDelivery } from './lenderEventDelivery';

export { EVENTS_KEY } from './lenderEventDelivery';

/**
 * Tells the lender's backend what happened (README "Lender events"), without ever slowing the lifecycle down:
 * - each transition appends one event to an outbox in the carried state, with the next sequence number of the
 *   lifecycle and an id derived from it (the same on every retry and replay);
 * - lenderEventDelivery.ts delivers the outbox beside the main loop, which never waits for it;
 * - continue-as-new carries the outbox (after stopping the delivery in flight), and a lifecycle that has ended
 *   closes only once the receiver has every event.
 * Only runs that began with patch `lender-events` emit; the worker says once per run (a local activity) whether
 * events are on and on which task queue.
 */

export const LENDER_EVENTS_PATCH = 'lender-events';
type ClosedPhase = NonNullable<LenderEventOutbox['closed']>;

const nowIso = (): string => new Date(Date.now()).toISOString();

export class LenderEvents {
  private readonly delivery: EventDelivery;
  /** The worker said events are off for this run. */
  private off = false;
  /** Events this run emitted (before the worker said whether events are on). */
  private emitted = 0;

  /**
   * `patchedRun`: the run began with patch `lender-events`; otherwise nothing is ever emitted. `wake`: the `events`
   * fault changed (the lifecycle publishes its alert state); `bug`: the delivery coroutine failed on a bug.
   */
  constructor(
    private readonly core: LifecycleCore,
    patchedRun: boolean,
    hooks: { wake(): void; bug(error: unknown): void },
  ) {
    this.delivery = new EventDelivery(core, hooks);
    if (patchedRun) core.state.events ??= { nextSequence: 1, pending: [] };
  }

  /** Asks the worker whether events are on and starts delivering; off, what is pending is dropped (logged). */
  async start(): Promise<void> {
    const outbox = this.core.state.events;
    if (!outbox || (await this.delivery.start(outbox))) return;
    const carried = outbox.pending.length - this.emitted;
    if (carried > 0) log.warn('lender events are off on this worker: undelivered events dropped', { count: carried });
    outbox.pending = [];
    this.off = true;
  }

  /** The final event was emitted by an earlier run: this run only delivers what is pending. */
  closedAs(): ClosedPhase | undefined {
    return this.core.state.events?.closed;
  }

  // ---- the transitions -----------------------------------------------------------------------------------

  lifecycleStarted(): void {
    const { plan, policy, state } = this.core;
    const deadline = Date.parse(state.signingStartedAt) + policy.signingDeadlineHours * 3_600_000;
    this.emit('LIFECYCLE_STARTED', {
      signatureMode: plan.signature.mode,
      ...(state.signed ? {} : { signingDeadline: new Date(deadline).toISOString() }),
      installments: state.installments.map(installmentOf),
    });
  }

  contractSigned(signedTime: string): void {
    this.emit('CONTRACT_SIGNED', { signedTime });
  }

  installmentScheduled(record: InstallmentRecord, stored: ScheduledRecord): void {
    const { outRecordId, contractId, repaymentAmount, minRepaymentAmount, repaymentDate } = stored;
    this.emit(
      'INSTALLMENT_SCHEDULED',
      {
        scheduledAt: record.scheduledAt ?? nowIso(),
        record: { outRecordId, contractId, repaymentAmount, minRepaymentAmount, repaymentDate },
      },
      record.outRecordId,
    );
  }

  installmentDue(record: InstallmentRecord): void {
    this.emit(
      'INSTALLMENT_DUE',
      { ...installmentOf(record), resultExpectedBy: record.nextActionAt ?? nowIso() },
      record.outRecordId,
    );
  }

  /** The lender's result was applied (SETTLED or FAILED). */
  installmentResult(record: InstallmentRecord): void {
    const result = record.result;
    if (!result) return;
    const facts = {
      ...(result.amount ? { amount: result.amount } : {}),
      ...(result.transactionId ? { transactionId: result.transactionId } : {}),
      reportedAt: result.reportedAt,
    };
    if (result.outcome === 'SUCCESS') this.emit('INSTALLMENT_SETTLED', facts, record.outRecordId);
    else {
      const reason = record.failureReason ?? 'repayment failed';
      this.emit('INSTALLMENT_FAILED', { source: 'LENDER', reason, ...facts }, record.outRecordId);
    }
  }

  /** WeChat Pay verifiably refused the record (evidence). */
  installmentRefused(record: InstallmentRecord): void {
    const reason = record.failureReason ?? 'refused by WeChat Pay';
    this.emit('INSTALLMENT_FAILED', { source: 'WECHATPAY', reason }, record.outRecordId);
  }

  installmentSkipped(record: InstallmentRecord, reason: string | undefined): void {
    this.emit('INSTALLMENT_SKIPPED', reason ? { reason } : {}, record.outRecordId);
  }

  /** The receiver's own failures (step `events`) are not told to the receiver. */
  alertsChanged(change: FaultChange): void {
    for (const fault of change.raised) {
      if (fault.step === 'events') continue;
      const { key, step, kind, errorClass, lastError, since, raisedAt } = fault;
      this.emit(
        'ALERT_RAISED',
        {
          alert: key,
          step,
          kind,
          ...(errorClass ? { errorClass } : {}),
          message: lastError,
          since,
          raisedAt: raisedAt ?? nowIso(),
        },
        fault.outRecordId,
      );
    }
    for (const fault of change.cleared) {
      if (fault.step === 'events') continue;
      const { key, step, kind, raisedAt } = fault;
      this.emit(
        'ALERT_CLEARED',
        { alert: key, step, kind, raisedAt: raisedAt ?? fault.since, clearedAt: nowIso() },
        fault.outRecordId,
      );
    }
  }

  /** The lifecycle's last event; nothing is emitted after it (also not by a later run). */
  lifecycleClosed(phase: ClosedPhase): void {
    const { state } = this.core;
    if (!state.events || state.events.closed) return;
    const termination: { termination?: EventTermination } = state.termination
      ? { termination: { ...state.termination } }
      : {};
    const reason = state.stop?.reason ?? '';
    if (phase === 'COMPLETED') {
      this.emit('LIFECYCLE_COMPLETED', {
        installments: state.installments.map(({ outRecordId, state: s }) => ({ outRecordId, state: s })),
        compensationBills: state.compensationBills.map(({ outBillNo, state: s, amount }) => ({
          outBillNo,
          state: s,
          ...(amount ? { amount } : {}),
        })),
      });
    } else if (phase === 'CANCELLED') {
      this.emit('LIFECYCLE_CANCELLED', { reason, ...termination });
    } else {
      this.emit('CONTRACT_TERMINATED', {
        ...(state.stop?.evidence ? { evidence: state.stop.evidence } : {}),
        reason,
        ...termination,
      });
    }
    state.events.closed = phase;
  }

  // ---- delivery (lenderEventDelivery.ts) ---------------------------------------------------------------

  /** At the end of the lifecycle: returns once the receiver has every event (see EventDelivery.flush). */
  async flush(publish: () => void, continueAsNewIfDue: () => Promise<void>): Promise<void> {
    const outbox = this.core.state.events;
    if (outbox && !this.off) await this.delivery.flush(outbox, publish, continueAsNewIfDue);
    publish();
  }

  pause(): Promise<void> {
    return this.delivery.pause();
  }

  private emit<T extends LenderEventType>(type: T, data: LenderEventData[T], outRecordId?: string): void {
    const outbox = this.core.state.events;
    if (!outbox || this.off || outbox.closed) return;
    const { plan } = this.core;
    const lifecycleId = workflowInfo().firstExecutionRunId;
    const sequence = outbox.nextSequence++;
    this.emitted += 1;
    outbox.pending.push({
      schemaVersion: LENDER_EVENT_SCHEMA_VERSION,
      id: `${plan.outContractCode}:${lifecycleId}:${sequence}`,
      lifecycleId,
      sequence,
      type,
      occurredAt: nowIso(),
      outContractCode: plan.outContractCode,
      contractId: plan.contractId,
      ...(outRecordId ? { outRecordId } : {}),
      // Failure texts may echo request fields: the openid never leaves in an event.
      data: scrubbed(data, plan.openid),
    } as LenderEvent);
  }
}

function installmentOf(record: InstallmentRecord) {
  const { outRecordId, repaymentAmount, minRepaymentAmount, repaymentDate } = record;
  return { outRecordId, repaymentAmount, minRepaymentAmount, repaymentDate };
}
