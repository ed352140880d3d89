import type { ActivityOptions } from '@temporalio/workflow';

/**
 * Timeouts and retry policies of every class of WeChat Pay call, in one place.
 * The client's HTTP timeout and primary→backup failover happen inside one attempt; these policies govern attempts.
 * Non-retryable failures (4xx other than 429, repeated verification failures) stop retries at once.
 */

/** Seed 000 / 002 reads. The budget is ~10 minutes: past it the lifecycle treats the API as failing. */
export const QUERY_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '45s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '2m', maximumAttempts: 8 },
};

/** Seed 001: the same out_record_id on every attempt makes a retry safe (a duplicate answer is reconciled). */
export const SCHEDULE_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '45s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '2m', maximumAttempts: 6 },
};

/** Seed 004: retries until it succeeds; a non-retryable answer is retried by the workflow on a long timer. */
export const TERMINATE_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '45s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '10m' },
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
