import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import type { AppConfig, MerchantConfig } from '../config/load';
import { createActivities } from '../activities';
import { createLenderEventActivities } from '../activities/lenderEvents';
import { registerSearchAttributes } from '../servers/searchAttributes';
import { tracingFor } from '../tracing';
import { createWorkers } from '../worker';
import { startAlertGauge } from './alertGauge';
import type { JsonLogger } from './logger';
import { wechatpayClientFromConfig } from './wechatpay';
import type { WechatPayHttpClient } from '../wechatpay';

export interface WorkerTarget {
  merchant: MerchantConfig;
  baseUrls: { primary: string; backup?: string };
}

export interface RunningWorker {
  /** Resolves when both workers have stopped (after shutdown(), or on a fatal error). */
  done: Promise<void>;
  /** Graceful: stop polling, let running activities finish, then resolve `done`. */
  shutdown(): void;
}

/**
 * Installs the Temporal runtime once per process, before anything else touches it (the embedded dev server
 * does): structured logs through our logger, Prometheus metrics, and no signal handling of its own — the
 * entry points stop what they started, in order.
 */
export function installRuntime(config: AppConfig, logger: JsonLogger): void {
  const { metricsPort, metricsHost } = config.worker;
  Runtime.install({
    logger,
    shutdownSignals: [],
    telemetryOptions:
      metricsPort > 0 ? { metrics: { prometheus: { bindAddress: `${metricsHost}:${metricsPort}` } } } : {},
  });
  if (metricsPort > 0) logger.info('Prometheus metrics', { url: `http://${metricsHost}:${metricsPort}/metrics` });
}

/**
 * Starts the worker: the main task queue (workflows and activities) and the compensation queue (rate-limited
 * server-side across all workers). Nothing here assumes it is the only worker: scale out by running more.
 */
export async function startWorker(config: AppConfig, target: WorkerTarget, logger: JsonLogger): Promise<RunningWorker> {
  const { connection: target_, namespace } = config.temporal;
  const connectionOptions = {
    address: target_.address,
    tls: target_.tls,
    apiKey: target_.apiKey,
    metadata: target_.metadata,
  };
  if (config.temporal.mode === 'external') {
    // A cluster may not let this identity manage search attributes; the workflows still run, only less findable.
    const admin = await Connection.connect(connectionOptions);
    try {
      const added = await registerSearchAttributes(admin, namespace);
      if (added.length > 0) logger.info('Registered search attributes', { added });
    } catch (err) {
      logger.warn(
        'Could not register search attributes; register them with `temporal operator search-attribute create`',
        {
          error: (err as Error).message,
        },
      );
    } finally {
      await admin.close();
    }
  }

  const tracing = tracingFor(config.tracing.endpoint, 'credit-repayment-worker');
  const connection = await NativeConnection.connect(connectionOptions);
  let wechatpay: WechatPayHttpClient | undefined;
  let workers: Worker[];
  try {
    wechatpay = wechatpayClientFromConfig(
      config.wechatpay,
      target.merchant,
      target.baseUrls,
      logger.child({ component: 'wechatpay' }),
      tracing?.wechatpayObserver,
    );
    workers = await createWorkers({
      connection,
      namespace,
      taskQueue: config.temporal.taskQueue,
      compensationTaskQueue: config.temporal.compensationTaskQueue,
      activities: createActivities({ wechatpay }),
      ...lenderEventsOf(config),
      workflowsPath: require.resolve('../workflows'),
      dataConverter: config.temporal.dataConverter,
      ...(tracing ? { tracing: tracing.workerOptions } : {}),
      limits: {
        maxConcurrentActivityTaskExecutions: config.worker.maxConcurrentActivityTaskExecutions,
        maxConcurrentWorkflowTaskExecutions: config.worker.maxConcurrentWorkflowTaskExecutions,
        compensationActivitiesPerSecond: config.worker.compensationActivitiesPerSecond,
      },
    });
  } catch (err) {
    wechatpay?.close();
    await connection.close();
    throw err;
  }
  const client = wechatpay;
  const gauge = await startAlertGaugeIfMetrics(config, connectionOptions, logger);
  logger.info('Worker running', {
    address: target_.address,
    namespace,
    taskQueues: [config.temporal.taskQueue, config.temporal.compensationTaskQueue, config.lenderEvents.taskQueue],
    wechatpay: target.baseUrls.primary,
  });
  const stopAll = (): void => {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
  };
  // When one worker fails the other is shut down too, and the connection closes only after both have drained
  // (closing it under a running worker throws and would hide the original error).
  const runs = workers.map((w) => w.run().finally(stopAll));
  const done = Promise.allSettled(runs).then(async (results) => {
    client.close();
    await gauge?.stop();
    await connection.close();
    await tracing?.flush();
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  });
  return {
    done,
    shutdown: stopAll,
  };
}

/**
 * The lender-event worker's part of createWorkers (reads the secret now). Also without a url: lifecycles that began
 * with events on find their queue served (their events dropped) instead of waiting on it.
 */
function lenderEventsOf(config: AppConfig): Pick<Parameters<typeof createWorkers>[0], 'lenderEvents'> {
  const events = config.lenderEvents;
  return {
    lenderEvents: {
      activities: createLenderEventActivities(events),
      taskQueue: events.taskQueue,
      maxConcurrentDeliveries: events.maxConcurrentDeliveries,
    },
  };
}

/** The lifecycles-in-alert gauge on the worker's metrics endpoint (off when metrics are off). */
async function startAlertGaugeIfMetrics(
  config: AppConfig,
  connectionOptions: Parameters<typeof Connection.connect>[0],
  logger: JsonLogger,
): Promise<{ stop(): Promise<void> } | undefined> {
  if (config.worker.metricsPort === 0) return undefined;
  const connection = await Connection.connect(connectionOptions);
  const gauge = startAlertGauge(
    new Client({ connection, namespace: config.temporal.namespace }),
    Runtime.instance().metricMeter,
    logger,
  );
  return {
    stop: async () => {
      gauge.stop();
      await connection.close();
    },
  };
}
