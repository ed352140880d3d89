import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { loadConfig } from '../../src/config/load';
import { JsonLogger } from '../../src/app/logger';
import { installRuntime, startWorker } from '../../src/app/worker';
import { wechatpayClientFromConfig } from '../../src/app/wechatpay';
import { workerLimitsFrom } from '../../src/worker';

/**
 * A worker in its own process, so the bench measures its CPU and memory alone (REPAYMENT_CONFIG names its
 * temporal.yaml). `product`: the project's worker exactly as `npm run worker` starts it. `baseline`: one worker
 * with the same activities, client and limits that runs only bench/lifecycle/baselineWorkflow.ts. Tells its parent
 * `ready` over IPC; stops gracefully on SIGTERM (so that --cpu-prof is written).
 */

export const BASELINE_TASK_QUEUE = 'bench-baseline';

async function main(mode: string): Promise<void> {
  const config = loadConfig();
  const logger = new JsonLogger(config.worker.logLevel);
  installRuntime(config, logger);
  const merchant = config.wechatpay.merchant;
  if (!merchant) throw new Error('the bench worker needs the sandbox merchant in its temporal.yaml');
  const target = { merchant, baseUrls: config.wechatpay.baseUrls };
  let done: Promise<void>;
  let shutdown: () => void;
  if (mode === 'product') {
    ({ done, shutdown } = await startWorker(config, target, logger));
  } else {
    const connection = await NativeConnection.connect({ address: config.temporal.connection.address });
    const wechatpay = wechatpayClientFromConfig(config.wechatpay, merchant, target.baseUrls);
    const limits = workerLimitsFrom(config.worker);
    const worker = await Worker.create({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: BASELINE_TASK_QUEUE,
      workflowsPath: require.resolve('./baselineWorkflow'),
      activities: createActivities({ wechatpay }),
      maxCachedWorkflows: limits.maxCachedWorkflows,
      maxConcurrentWorkflowTaskExecutions: limits.maxConcurrentWorkflowTaskExecutions,
      maxConcurrentActivityTaskExecutions: limits.maxConcurrentActivityTaskExecutions,
    });
    done = worker.run().finally(async () => {
      wechatpay.close();
      await connection.close();
    });
    shutdown = () => worker.shutdown();
  }
  process.on('SIGTERM', shutdown);
  process.send?.('ready');
  await done;
}

if (require.main === module) {
  main(process.argv[2] ?? 'product').then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`bench worker failed: ${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
}
