import {
  ActivityCancellationType,
  CancellationScope,
  condition,
  isCancellation,
  proxyActivities,
  proxyLocalActivities,
  type ActivityOptions,
} from '@temporalio/workflow';
import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/common';
import type { DeliveryReceipt, DeliveryRequest, LenderEventActivities } from '../../activities/lenderEvents';
import type { ClassifiedFailure, ErrorClass } from '../../domain/failurePolicy';
import type { LenderEventOutbox } from '../../domain/lenderEvents';
import type { LifecycleCore } from './core';

/**
 * The delivery half of lender events (lenderEvents.ts emits): a coroutine of its own drains the outbox oldest first,
 * one delivery activity at a time (so events arrive in order), on the events task queue; the main loop never waits
 * for it. A failed round is retried on the lifecycle's own timer (FaultBook: capped backoff, without limit) and past
 * the alert threshold raises the `events` alert; the contract is never affected. Continue-as-new first stops the
 * delivery in flight (pause), so that two runs never deliver at once.
 */

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

export class EventDelivery {
  private deliver: ((request: DeliveryRequest) => Promise<DeliveryReceipt>) | undefined;
  private paused = false;
  private inFlight: CancellationScope | undefined;
  /** Settled delivery rounds (the final flush wakes on them). */
  private rounds = 0;
  private bug: unknown;

  /** `wake`: the `events` fault changed (the lifecycle publishes its alert state); `bug`: the coroutine failed. */
  constructor(
    private readonly core: LifecycleCore,
    private readonly hooks: { wake(): void; bug(error: unknown): void },
  ) {}

  /** Asks the worker (once per run) whether events are on; on, starts draining the outbox. False when off. */
  async start(outbox: LenderEventOutbox): Promise<boolean> {
    let settings: Awaited<ReturnType<typeof lenderEventsSettings>>;
    try {
      settings = await CancellationScope.nonCancellable(() => lenderEventsSettings());
    } catch (error) {
      // A worker without the settings activity is a deployment bug: fail the task until a good worker takes it.
      throw new Error(`cannot learn whether lender events are on: ${(error as Error).message}`, { cause: error });
    }
    if (!settings) return false;
    this.deliver = proxyActivities<LenderEventActivities>({
      ...DELIVERY_OPTIONS,
      taskQueue: settings.taskQueue,
    }).deliverLenderEvents;
    // A Temporal cancel request ends the lifecycle, never the delivery of what it has to tell.
    CancellationScope.nonCancellable(() => this.drain(outbox)).catch((error: unknown) => {
      this.bug = error;
      this.hooks.bug(error);
    });
    return true;
  }

  /**
   * Returns once the receiver has every event of the outbox, keeping the alert and the search attributes current
   * meanwhile and continuing as new when the history asks for it (the outbox is carried).
   */
  async flush(outbox: LenderEventOutbox, publish: () => void, continueAsNewIfDue: () => Promise<void>): Promise<void> {
    const { faults } = this.core;
    while (outbox.pending.length > 0) {
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
  }

  /** Before continue-as-new: the delivery in flight stops first, so that two runs never deliver at once. */
  async pause(): Promise<void> {
    this.paused = true;
    if (!this.inFlight) return;
    this.inFlight.cancel();
    await condition(() => this.inFlight === undefined);
  }

  private async drain(outbox: LenderEventOutbox): Promise<void> {
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
