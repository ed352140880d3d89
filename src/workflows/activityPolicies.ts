import type { ActivityOptions } from '@temporalio/workflow';

/**
 * Timeouts and retry policies of every class of WeChat Pay call, in one place.
 * The client's HTTP deadline and primary→backup failover happen inside one attempt; these policies govern attempts.
 * Verified refusals (4xx other than 401 and 429) stop retries at once. Each budget is minutes, not days: past it the
 * workflow sees the failure, sorts it (src/domain/failurePolicy.ts), retries the step on its own capped-backoff
 * timer and raises an alert past the threshold, which it could not do while Temporal retried out of its sight.
 */

/** Seed 000 / 002 reads: a budget of about 10 minutes per round. */
export const QUERY_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '45s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '2m', maximumAttempts: 8 },
};

/** Seed 001: the same out_record_id on every attempt makes a retry safe (a duplicate answer is reconciled). */
export const SCHEDULE_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '45s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '2m', maximumAttempts: 6 },
};

/** Seed 004: retried by the workflow until it succeeds (rounds of this budget; a refusal on a long timer). */
export const TERMINATE_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '45s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '2m', maximumAttempts: 8 },
};

/** Seed 003, on its own task queue (rate-limited server-side to 100 calls/s across all workers). */
export const COMPENSATION_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '45s',
  // Waiting for a slot under the task queue's rate limit counts toward schedule-to-start, not start-to-close.
  scheduleToStartTimeout: '1h',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '5m', maximumAttempts: 20 },
};

/** The same default as temporal.yaml's temporal.compensationTaskQueue, for lifecycles started without it (e.g. by the temporal CLI). */
export const DEFAULT_COMPENSATION_TASK_QUEUE = 'credit-repayment-compensation';
