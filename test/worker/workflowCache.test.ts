import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { loadConfig, type ConfigError } from '../../src/config/load';
import { createWorkers, runWorkersUntil, workerLimitsFrom } from '../../src/worker';
import type { WechatPayHttpClient } from '../../src/wechatpay';
import { createTimeSkippingEnv } from '../harness/temporal';
import { runEveryStep } from '../harness/teardown';
import { sleepFor } from '../harness/workflows';

/**
 * The sticky cache is a setting (temporal.yaml `worker.maxCachedWorkflows`, `stickyQueueScheduleToStartTimeoutMs`)
 * with a default sized for about 1 GiB, and it reaches the Worker: with a cache of 2, five sleeping workflows leave
 * two in memory; with a cache of 10, all five stay.
 */

let dir: string;
let env: TestWorkflowEnvironment;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'workflow-cache-'));
  env = await createTimeSkippingEnv();
}, 120_000);

afterAll(
  () =>
    runEveryStep(
      () => env?.teardown(),
      () => rmSync(dir, { recursive: true, force: true }),
    ),
  60_000,
);

function configWith(worker: string): ReturnType<typeof loadConfig> {
  const file = join(dir, 'temporal.yaml');
  writeFileSync(file, `worker:\n${worker}`);
  return loadConfig({ file, env: {} });
}

it('defaults the cache for about 1 GiB and refuses a cache smaller than the task slots, naming the key', () => {
  const { worker } = configWith('  logLevel: WARN\n');
  expect(worker.maxCachedWorkflows).toBe(400);
  expect(worker.stickyQueueScheduleToStartTimeoutMs).toBe(10_000);
  expect(configWith('  maxCachedWorkflows: 0\n').worker.maxCachedWorkflows).toBe(0);
  let error: ConfigError | undefined;
  try {
    configWith('  maxCachedWorkflows: 10\n  maxConcurrentWorkflowTaskExecutions: 40\n');
  } catch (caught) {
    error = caught as ConfigError;
  }
  expect(error?.key).toBe('worker.maxCachedWorkflows');
  expect(error?.message).toMatch(/at least maxConcurrentWorkflowTaskExecutions/);
});

async function cachedAfterFiveSleepers(
  workerSection: string,
  label: string,
): Promise<{ cached: number; worker: Worker }> {
  const config = configWith(workerSection);
  const taskQueue = `cache-${label}`;
  // The sleepers call no activity: the client is never used.
  const wechatpay = {} as WechatPayHttpClient;
  const [main, compensation] = await createWorkers({
    connection: env.nativeConnection,
    taskQueue,
    compensationTaskQueue: `${taskQueue}-compensation`,
    activities: createActivities({ wechatpay }),
    workflowsPath: require.resolve('../harness/workflows'),
    limits: workerLimitsFrom(config.worker),
  });
  const cached = await runWorkersUntil(
    [main, compensation],
    (async () => {
      const handles = await Promise.all(
        Array.from({ length: 5 }, (_, i) =>
          env.client.workflow.start(sleepFor, { taskQueue, workflowId: `${taskQueue}-${i}`, args: [30] }),
        ),
      );
      // Each has run its first task (its timer is started) before the cache is counted.
      for (const handle of handles) {
        for (let i = 0; i < 100; i++) {
          const { events } = await handle.fetchHistory();
          if (events?.some((e) => e.timerStartedEventAttributes)) break;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      const count = main.getStatus().numCachedWorkflows;
      await Promise.all(handles.map((handle) => handle.terminate('counted')));
      return count;
    })(),
  );
  return { cached, worker: main };
}

it('passes the cache size and sticky timeout from temporal.yaml to the Worker', async () => {
  const small = await cachedAfterFiveSleepers(
    '  maxCachedWorkflows: 2\n  maxConcurrentWorkflowTaskExecutions: 2\n  stickyQueueScheduleToStartTimeoutMs: 4000\n',
    'small',
  );
  expect(small.worker.options.maxCachedWorkflows).toBe(2);
  expect(small.worker.options.stickyQueueScheduleToStartTimeoutMs).toBe(4000);
  expect(small.cached).toBe(2);
  const large = await cachedAfterFiveSleepers(
    '  maxCachedWorkflows: 10\n  maxConcurrentWorkflowTaskExecutions: 2\n',
    'large',
  );
  expect(large.worker.options.maxCachedWorkflows).toBe(10);
  expect(large.cached).toBe(5);
}, 120_000);
