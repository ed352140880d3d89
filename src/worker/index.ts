import type { DataConverter } from '@temporalio/common';
import { NativeConnection, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import type { RepaymentActivities } from '../activities';
import type { LenderEventActivities } from '../activities/lenderEvents';
import type { WorkerTracingOptions } from '../tracing';

/**
 * The workers of the repayment service, shared by the tests and the real entry point:
 * - main: both workflows and every activity except the compensation-bill query and the lender-event delivery;
 * - compensation: only the compensation-bill query, on its own task queue whose server-side rate limit
 *   (maxTaskQueueActivitiesPerSecond) holds the API's 100 calls/s across all worker processes, not per process;
 * - events: only the delivery to the lender's receiver, on its own task queue and slots, so that a slow or failing
 *   receiver can never hold the slots the WeChat Pay calls need.
 */

export const COMPENSATION_CALLS_PER_SECOND = 100;

export interface WorkerLimits {
  maxConcurrentActivityTaskExecutions?: number;
  maxConcurrentWorkflowTaskExecutions?: number;
  /** Server-side limit of the compensation queue, for all workers together (default 100/s, the API's limit). */
  compensationActivitiesPerSecond?: number;
}

export interface CreateWorkersOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue: string;
  compensationTaskQueue: string;
  activities: RepaymentActivities;
  /** A prebuilt bundle (tests bundle once per file); otherwise workflowsPath, defaulting to src/workflows. */
  workflowBundle?: WorkflowBundleOption;
  workflowsPath?: string;
  limits?: WorkerLimits;
  /** Payload encryption (temporal.payloadEncryption); the same converter as the clients'. */
  dataConverter?: DataConverter;
  /**
   * OpenTelemetry interceptors and sinks (src/tracing), only when tracing is on, so that the workflow bundle is
   * otherwise unchanged. A prebuilt workflowBundle must then have been bundled with WORKFLOW_INTERCEPTORS_MODULE.
   */
  tracing?: WorkerTracingOptions;
  /** The lender-event activities (on or off as their config says); absent (tests), lifecycles learn they are off. */
  lenderEvents?: { activities: LenderEventActivities; taskQueue: string; maxConcurrentDeliveries: number };
}

/** Every lifecycle asks this (a local activity) once per run; the answer without lender events. */
export const lenderEventsOff = async (): Promise<null> => null;

/** [main, compensation, events when given]. */
export async function createWorkers(options: CreateWorkersOptions): Promise<[Worker, Worker, ...Worker[]]> {
  const { queryCompensationBill, ...mainActivities } = options.activities;
  const limits = options.limits ?? {};
  const common = {
    connection: options.connection,
    namespace: options.namespace ?? 'default',
    ...(options.dataConverter ? { dataConverter: options.dataConverter } : {}),
    ...(options.tracing ? { interceptors: options.tracing.interceptors, sinks: options.tracing.sinks } : {}),
  };
  const workflows = options.workflowBundle
    ? { workflowBundle: options.workflowBundle }
    : { workflowsPath: options.workflowsPath ?? require.resolve('../workflows') };
  const main = await Worker.create({
    ...common,
    ...workflows,
    taskQueue: options.taskQueue,
    activities: {
      ...mainActivities,
      lenderEventsSettings: options.lenderEvents?.activities.lenderEventsSettings ?? lenderEventsOff,
    },
    ...(limits.maxConcurrentActivityTaskExecutions
      ? { maxConcurrentActivityTaskExecutions: limits.maxConcurrentActivityTaskExecutions }
      : {}),
    ...(limits.maxConcurrentWorkflowTaskExecutions
      ? { maxConcurrentWorkflowTaskExecutions: limits.maxConcurrentWorkflowTaskExecutions }
      : {}),
  });
  const compensation = await Worker.create({
    ...common,
    taskQueue: options.compensationTaskQueue,
    activities: { queryCompensationBill },
    maxTaskQueueActivitiesPerSecond: limits.compensationActivitiesPerSecond ?? COMPENSATION_CALLS_PER_SECOND,
  });
  if (!options.lenderEvents) return [main, compensation];
  const { activities, taskQueue, maxConcurrentDeliveries } = options.lenderEvents;
  const events = await Worker.create({
    ...common,
    taskQueue,
    activities: { deliverLenderEvents: activities.deliverLenderEvents },
    maxConcurrentActivityTaskExecutions: maxConcurrentDeliveries,
  });
  return [main, compensation, events];
}

/** Runs every worker until `until` settles, then shuts them all down (tests). */
export function runWorkersUntil<T>(workers: readonly Worker[], until: Promise<T>): Promise<T> {
  return workers.reduce<Promise<T>>((inner, worker) => worker.runUntil(inner), until);
}
