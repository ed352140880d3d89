import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { LENDER_EVENT_SIGNATURE_HEADER, signLenderEvent } from '../client/lenderEventSignature';
import { readLenderEventSecrets, type LenderEventsConfig } from '../config/lenderEvents';
import type { LenderEvent } from '../domain/lenderEvents';

/**
 * The delivery of lender events: one signed POST per event, in the order given, each answered 2xx before the next
 * is sent. The workflow hands over its oldest undelivered events and removes as many as `delivered` says.
 * - Progress is never thrown away: once one event is delivered, a failure (or the time budget) ends the call with
 *   what was delivered so far; a call that delivered nothing fails and Temporal retries it with backoff.
 * - An attempt ends well before its start-to-close timeout, so that a retry never overlaps it (order per contract).
 * - Cancellation (the lifecycle continues as new) aborts the request in flight.
 * - The settings activity (local, on the main queue) tells each lifecycle run whether events are on and where.
 * - With events turned off (no url) the delivery drops what it is given: lifecycles that began with events on must
 *   not wait, nor raise alerts, for a receiver nobody configures any more.
 */

export interface LenderEventsSettings {
  /** The task queue of the delivery activity (worker slots of their own). */
  taskQueue: string;
}

export interface DeliveryRequest {
  events: LenderEvent[];
}
export interface DeliveryReceipt {
  /** How many of the given events (from the first) the receiver accepted. */
  delivered: number;
}

/** Failure types of a delivery (all retryable: the receiver may be fixed at any time). */
export type DeliveryFailureType = 'RECEIVER_ERROR' | 'RECEIVER_UNREACHABLE' | 'RECEIVER_TIMEOUT';

/** One attempt stops starting requests after this long (each request is bounded by `timeoutMs` ≤ 20 s). */
const ATTEMPT_BUDGET_MS = 20_000;
const USER_AGENT = 'credit-repayment-worker/lender-events';

export function createLenderEventActivities(config: LenderEventsConfig) {
  const { url, secretFile } = config;
  // Fails the worker's start, not a delivery, when the secret cannot be read.
  if (url && secretFile) readLenderEventSecrets(secretFile);

  async function deliverOne(event: LenderEvent, secrets: string[]): Promise<void> {
    const body = JSON.stringify(event);
    const context = Context.current();
    const signal = AbortSignal.any([AbortSignal.timeout(config.timeoutMs), context.cancellationSignal]);
    let response: Response;
    try {
      response = await fetch(url!, {
        method: 'POST',
        redirect: 'manual',
        signal,
        headers: {
          ...config.headers,
          'content-type': 'application/json',
          'user-agent': USER_AGENT,
          'lender-event-id': event.id,
          'lender-event-type': event.type,
          [LENDER_EVENT_SIGNATURE_HEADER.toLowerCase()]: signLenderEvent(body, secrets, Date.now() / 1000),
        },
        body,
      });
    } catch (error) {
      if (context.cancellationSignal.aborted) throw error;
      const timedOut = (error as Error).name === 'TimeoutError';
      throw deliveryFailure(
        timedOut ? 'RECEIVER_TIMEOUT' : 'RECEIVER_UNREACHABLE',
        timedOut ? `no answer within ${config.timeoutMs} ms` : `cannot reach the receiver (${causeOf(error)})`,
        0,
      );
    }
    // The answer's body means nothing to us: do not read it (it may be large or never end).
    await response.body?.cancel().catch(() => undefined);
    if (response.status < 200 || response.status >= 300) {
      throw deliveryFailure('RECEIVER_ERROR', `the receiver answered ${response.status}`, response.status);
    }
  }

  return {
    /** Local activity: whether this worker delivers lender events, and on which task queue. */
    async lenderEventsSettings(): Promise<LenderEventsSettings | null> {
      return url ? { taskQueue: config.taskQueue } : null;
    },

    async deliverLenderEvents(request: DeliveryRequest): Promise<DeliveryReceipt> {
      const context = Context.current();
      const meter = context.metricMeter;
      if (!url || !secretFile) {
        // Turned off (no url) while lifecycles still had events to deliver: off means nobody is told.
        context.log.warn('lender events are off: undelivered events dropped', { count: request.events.length });
        meter
          .createCounter('lender_events_dropped', '1', 'Lender events dropped: events are off')
          .add(request.events.length);
        return { delivered: request.events.length };
      }
      // Read on every call: a rotated secret applies without a restart.
      const secrets = readLenderEventSecrets(secretFile);
      const started = Date.now();
      let delivered = 0;
      for (const event of request.events) {
        if (delivered > 0 && Date.now() - started > ATTEMPT_BUDGET_MS) break;
        context.heartbeat(delivered);
        try {
          await deliverOne(event, secrets);
        } catch (error) {
          // The worker logs the failed attempt itself; counted here by cause.
          if (error instanceof ApplicationFailure) {
            meter.createCounter('lender_event_delivery_failures', '1', 'Failed lender event deliveries').add(1, {
              type: error.type ?? 'unknown',
            });
          }
          if (delivered > 0) break;
          throw error;
        }
        delivered += 1;
        meter.createCounter('lender_events_delivered', '1', 'Lender events the receiver accepted').add(1, {
          type: event.type,
        });
      }
      return { delivered };
    },
  };
}

export type LenderEventActivities = ReturnType<typeof createLenderEventActivities>;

function deliveryFailure(type: DeliveryFailureType, message: string, httpStatus: number): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: false, details: [{ httpStatus }] });
}

function causeOf(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}
