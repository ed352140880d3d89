import {
  ActivityCancellationType,
  CancellationScope,
  condition,
  isCancellation,
  log,
  proxyActivities,
  proxyLocalActivities,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/common';
import type { DeliveryReceipt, DeliveryRequest, LenderEventActivities } from '../../activities/lenderEvents';
import type { ScheduledRecord } from '../../activities';
import type { FaultChange } from '../../domain/alerts';
import type { ClassifiedFailure, ErrorClass } from '../../domain/failurePolicy';
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

/**
 * Tells the lender's backend what happened (README "Lender events"), without ever slowing the lifecycle down:
 * - each transition appends one event to an outbox in the carried state, with the next sequence number of the
 *   lifecycle and an id derived from it (the same on every retry and replay);
 * - a coroutine of its own drains the outbox oldest first, one delivery activity at a time (so events arrive in
 *   order), on the events task queue; the main loop never waits for it;
 * - a delivery round that fails is retried on the lifecycle's own timer (capped backoff, without limit) and past the
 *   alert threshold raises the `events` alert (RepaymentAlert, metrics); the contract is never affected;
 * - continue-as-new carries the outbox (after stopping the delivery in flight), and a lifecycle that has ended
 *   closes only once the receiver has every event.
 * Only runs that began with patch `lender-events` emit; the worker says once per run (a local activity) whether
 * events are on and on which task queue.
 */

export const LENDER_EVENTS_PATCH = 'lender-events';
export const EVENTS_KEY = 'events';
/** Events handed to one delivery activity (it posts them one by one, in order). */
const MAX_BATCH = 20;

/** A round of about three minutes (an attempt ends within ~40 s; see the activity); then the workflow's timer. */
const DELIVERY_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '1m',
  heartbeatTimeout: '30s',
  // No worker on the events queue is an infrastructure fault like any other: it must surface as an alert.
  scheduleToStartTimeout: '10m',
  // Continue-as-new waits for the attempt in flight to stop, so two runs never deliver at once.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 8 },
};

const { lenderEventsSettings } = proxyLocalActivities<LenderEventActivities>({
  startToCloseTimeout: '10s',
  retry: { maximumAttempts: 3 },
});

type ClosedPhase = NonNullable<LenderEventOutbox['closed']>;

const nowIso = (): string => new Date(Date.now()).toISOString();

export class LenderEvents {
  private deliver: ((request: DeliveryRequest) => Promise<DeliveryReceipt>) | undefined;
  /** The worker said events are off for this run. */
  private off = false;
  private paused = false;
  /** Events this run emitted (before the worker said whether events are on). */
  private emitted = 0;
  private inFlight: CancellationScope | undefined;
  /** Settled delivery rounds (the final flush wakes on them). */
  private rounds = 0;
  private bug: unknown;

  /**
   * `patchedRun`: the run began with patch `lender-events`; otherwise nothing is ever emitted. `wake`: the `events`
   * fault changed (the lifecycle publishes its alert state); `bug`: the delivery coroutine failed on a bug.
   */
  constructor(
    private readonly core: LifecycleCore,
    patchedRun: boolean,
    private readonly hooks: { wake(): void; bug(error: unknown): void },
  ) {
    if (patchedRun) core.state.events ??= { nextSequence: 1, pending: [] };
  }

  /** Asks the worker whether events are on and starts delivering; off, what is pending is dropped (logged). */
  async start(): Promise<void> {
    const outbox = this.core.state.events;
    if (!outbox) return;
    let settings: Awaited<ReturnType<typeof lenderEventsSettings>>;
    try {
      settings = await CancellationScope.nonCancellable(() => lenderEventsSettings());
    } catch (error) {
      // A worker without the settings activity is a deployment bug: fail the task until a good worker takes it.
      throw new Error(`cannot learn whether lender events are on: ${(error as Error).message}`, { cause: error });
    }
    if (!settings) {
      const carried = outbox.pending.length - this.emitted;
      if (carried > 0) log.warn('lender events are off on this worker: undelivered events dropped', { count: carried });
      outbox.pending = [];
      this.off = true;
      return;
    }
    this.deliver = proxyActivities<LenderEventActivities>({
      ...DELIVERY_OPTIONS,
      taskQueue: settings.taskQueue,
    }).deliverLenderEvents;
    // A Temporal cancel request ends the lifecycle, never the delivery of what it has to tell.
    CancellationScope.nonCancellable(() => this.drain()).catch((error: unknown) => {
      this.bug = error;
      this.hooks.bug(error);
    });
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

  // ---- delivery ------------------------------------------------------------------------------------------

  /**
   * At the end of the lifecycle: returns once the receiver has every event, keeping the alert and the search
   * attributes current meanwhile and continuing as new when the history asks for it (the outbox is carried).
   */
  async flush(publish: () => void, continueAsNewIfDue: () => Promise<void>): Promise<void> {
    const outbox = this.core.state.events;
    const { faults } = this.core;
    while (outbox && !this.off && outbox.pending.length > 0) {
      if (this.bug !== undefined) throw this.bug;
      const now = Date.now();
      faults.raiseDue(now);
      publish();
      const rounds = this.rounds;
      const woken = () => this.rounds !== rounds || this.bug !== undefined;
      const raiseAt = faults.nextRaiseAt();
      if (raiseAt === undefined) await condition(woken);
      else await condition(woken, Math.max(1, raiseAt - now));
      await continueAsNewIfDue();
    }
    publish();
  }

  /** Before continue-as-new: the delivery in flight stops first, so that two runs never deliver at once. */
  async pause(): Promise<void> {
    this.paused = true;
    if (!this.inFlight) return;
    this.inFlight.cancel();
    await condition(() => this.inFlight === undefined);
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

  private async drain(): Promise<void> {
    const outbox = this.core.state.events!;
    const { faults } = this.core;
    for (;;) {
      await condition(() => outbox.pending.length > 0 && !this.paused);
      const retryAt = this.retryAt();
      if (retryAt !== undefined && retryAt > Date.now()) {
        // An operator's resolveAlert "retry" moves retryAt to now.
        await condition(() => this.paused || this.retryAt() !== retryAt, retryAt - Date.now());
        continue;
      }
      const scope = new CancellationScope();
      this.inFlight = scope;
      const failing = faults.get(EVENTS_KEY) !== undefined;
      try {
        const { delivered } = await scope.run(() => this.deliver!({ events: outbox.pending.slice(0, MAX_BATCH) }));
        outbox.pending.splice(0, delivered);
        faults.clear(EVENTS_KEY);
      } catch (error) {
        if (!isCancellation(error)) faults.failed('events', undefined, deliveryFailure(error), Date.now());
      } finally {
        this.inFlight = undefined;
        this.rounds += 1;
        // Only a change of the alert state concerns the main loop (waking it costs history: its timer restarts).
        if (failing || faults.get(EVENTS_KEY) !== undefined) this.hooks.wake();
      }
    }
  }

  private retryAt(): number | undefined {
    const retryAt = this.core.faults.get(EVENTS_KEY)?.retryAt;
    return retryAt === undefined ? undefined : Date.parse(retryAt);
  }
}

function installmentOf(record: InstallmentRecord) {
  const { outRecordId, repaymentAmount, minRepaymentAmount, repaymentDate } = record;
  return { outRecordId, repaymentAmount, minRepaymentAmount, repaymentDate };
}

/** A failed delivery round: always infrastructure (the receiver, the network or no events worker). */
function deliveryFailure(error: unknown): ClassifiedFailure {
  if (!(error instanceof ActivityFailure)) throw error; // a bug of the workflow itself
  const cause = error.cause;
  const failure = (errorClass: ErrorClass, code: string, httpStatus: number, message: string): ClassifiedFailure => ({
    class: 'infrastructure',
    errorClass,
    code,
    httpStatus,
    outcomeUnknown: false,
    message,
  });
  if (cause instanceof TimeoutFailure) {
    return failure('TIMEOUT', 'ACTIVITY_TIMEOUT', 0, `no delivery in time (${cause.timeoutType ?? 'timeout'})`);
  }
  if (!(cause instanceof ApplicationFailure)) return failure('BUG', 'ACTIVITY_ERROR', 0, String(cause?.message));
  const code = cause.type ?? 'Error';
  const status = Number((cause.details?.[0] as { httpStatus?: number } | undefined)?.httpStatus ?? 0);
  const errorClass: ErrorClass =
    code === 'RECEIVER_ERROR'
      ? status === 429
        ? 'RATE_LIMITED'
        : status >= 500
          ? 'SERVER_ERROR'
          : 'REFUSED'
      : code === 'RECEIVER_UNREACHABLE' || code === 'RECEIVER_TIMEOUT'
        ? 'TRANSPORT'
        : 'BUG';
  return failure(errorClass, code, status, `${code}: ${cause.message}`);
}
