import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Runtime, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { workflowIdFor } from '../../src/domain/plan';
import type { LifecycleStatus } from '../../src/domain/status';
import { startSandbox, type Sandbox } from '../../src/sandbox';
import { createWorkers, runWorkersUntil, type WorkerLimits } from '../../src/worker';
import { repaymentLifecycle } from '../../src/workflows';
import { compensationBillReportedSignal, statusQuery } from '../../src/workflows/definitions';
import { waitUntil } from '../e2e/processes';
import { nearPlan, registerContract } from '../e2e/support';
import { wechatpayClientFor } from '../harness/sandboxClient';
import { createDevServerEnv } from '../harness/temporal';
import { runEveryStep } from '../harness/teardown';

/**
 * The compensation-bill query's rate limit (seed 003: 100 calls/s per merchant) is a task-queue rate limit that
 * the SERVER enforces for all workers together (`maxTaskQueueActivitiesPerSecond`). The Java time-skipping server
 * does not implement task-queue rate limits, so this runs on the real dev server (the `temporal` CLI, server
 * 1.29), in real time.
 *
 * The machine cannot reach 100 queries/s (~15/s at best), so a test at the production limit could never fail.
 * Instead the limit is set LOW (LIMIT/s) and BILLS bills are reported at once, far more than LIMIT/s could serve,
 * and the sandbox's request log shows when each query arrived.
 *
 * What the server allows (temporal 1.29 service/matching/ratelimit_manager.go): a task queue has 4 read
 * partitions (`matching.numTaskqueueReadPartitions`, default 4); each gets rate LIMIT/4 and a token bucket of
 * max(ceil(LIMIT/4), 1) tasks (`matching.minTaskThrottlingBurstSize` = 1). With LIMIT = 5 that is a burst of
 * 4 × 2 = 8 tasks on top of 5/s, so any 1-second window holds at most LIMIT + BURST = 13 queries, and BILLS
 * queries need at least (BILLS − BURST) / LIMIT seconds. (Seen here: tasks spread unevenly over the partitions,
 * so the limited burst runs slower than LIMIT/s towards its end; unlimited, the same burst takes well under 1 s.)
 */

const LIMIT = 5;
const PARTITIONS = 4;
const BURST = PARTITIONS * Math.max(Math.ceil(LIMIT / PARTITIONS), 1);
const BILLS = 50;
/** The shortest time BILLS queries can take under the limit, whatever the timing of the individual requests. */
const MIN_LIMITED_SPAN_MS = ((BILLS - BURST) / LIMIT) * 1000;

let env: TestWorkflowEnvironment;
let sandbox: Sandbox;
let dataDir: string;
let workflowBundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  env = await createDevServerEnv();
  dataDir = mkdtempSync(join(tmpdir(), 'rate-limit-sandbox-'));
  sandbox = await startSandbox({ dataDir });
  workflowBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../src/workflows'),
    logger: Runtime.instance().logger,
  });
}, 180_000);

afterAll(
  () =>
    runEveryStep(
      () => sandbox?.close(),
      () => env?.teardown(),
      () => dataDir && rmSync(dataDir, { recursive: true, force: true }),
    ),
  60_000,
);

interface BurstRun {
  /** The most of this run's compensation queries that reached the sandbox within any 1-second window. */
  peakPerSecond: number;
  /** From the first query's arrival to the last one's. */
  spanMs: number;
  final: LifecycleStatus['compensationBills'];
}

/**
 * One lifecycle on its own pair of task queues (so runs do not share a server-side limiter), BILLS bills in a
 * final state at the sandbox, all reported at once; returns when the lifecycle shows every bill final. Workers
 * are shut down and the lifecycle terminated whatever happens.
 */
async function reportBurst(label: string, limits: WorkerLimits | undefined): Promise<BurstRun> {
  const code = `RATE${label}`;
  const taskQueue = `rate-${label}`;
  const compensationTaskQueue = `rate-${label}-compensation`;
  // Due in 20 days: the lifecycle waits for its window, so compensation queries are the only API calls.
  const plan = nearPlan(code, [20]);
  await registerContract(sandbox, plan);
  const billNos = Array.from({ length: BILLS }, (_, i) => `${code}B${String(i).padStart(3, '0')}`);
  for (const outBillNo of billNos) await sandbox.control.createBill({ outBillNo, amount: 500, state: 'SUCCESS' });

  const handle = await env.client.workflow.start(repaymentLifecycle, {
    taskQueue,
    workflowId: workflowIdFor(code),
    args: [{ plan, compensationTaskQueue }],
  });
  const wechatpay = wechatpayClientFor(sandbox);
  try {
    const workers = await createWorkers({
      connection: env.nativeConnection,
      taskQueue,
      compensationTaskQueue,
      activities: createActivities({ wechatpay }),
      workflowBundle,
      ...(limits ? { limits } : {}),
    });
    const final = await runWorkersUntil(
      workers,
      (async () => {
        await Promise.all(billNos.map((outBillNo) => handle.signal(compensationBillReportedSignal, { outBillNo })));
        return waitUntil(
          async () => {
            const { compensationBills } = await handle.query(statusQuery);
            return compensationBills.length === BILLS && compensationBills.every((b) => b.state === 'SUCCESS')
              ? compensationBills
              : undefined;
          },
          `${BILLS} compensation bills of ${code} to reach SUCCESS`,
          90_000,
        );
      })(),
    );
    const wanted = new Set(billNos);
    const queries = (await sandbox.control.requestLog('compensation-query')).filter((entry) =>
      wanted.has(decodeURIComponent(entry.path.split('?')[0]!.split('/').pop()!)),
    );
    // One verified query per bill, none refused (the sandbox answers 429 only above 100/s).
    expect(queries.map((q) => q.status)).toEqual(Array(BILLS).fill(200));
    const arrivals = queries.map((q) => Date.parse(q.at)).sort((a, b) => a - b);
    return {
      peakPerSecond: peakInWindow(arrivals, 1000),
      spanMs: arrivals[arrivals.length - 1]! - arrivals[0]!,
      final,
    };
  } finally {
    await handle.terminate('rate-limit test over').catch(() => undefined);
    wechatpay.close();
  }
}

/** The largest number of times t in any half-open window [t0, t0 + windowMs) (sorted input). */
function peakInWindow(sorted: number[], windowMs: number): number {
  let peak = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while (sorted[end]! - sorted[start]! >= windowMs) start++;
    peak = Math.max(peak, end - start + 1);
  }
  return peak;
}

it('builds the compensation worker with the configured task-queue limit, 100/s by default', async () => {
  /** The [main, compensation] workers' task-queue limits; each pair is started and stopped at once. */
  const limitsOf = async (name: string, limits?: WorkerLimits) => {
    const wechatpay = wechatpayClientFor(sandbox);
    const workers = await createWorkers({
      connection: env.nativeConnection,
      taskQueue: `rate-options-${name}`,
      compensationTaskQueue: `rate-options-${name}-compensation`,
      activities: createActivities({ wechatpay }),
      workflowBundle,
      ...(limits ? { limits } : {}),
    });
    // A created worker that never runs keeps its native handle (and the connection) open.
    await runWorkersUntil(workers, Promise.resolve());
    wechatpay.close();
    return workers.map((worker) => ({
      taskQueue: worker.options.taskQueue,
      perSecond: worker.options.maxTaskQueueActivitiesPerSecond ?? null,
    }));
  };
  // The limit is the compensation queue's alone: the main queue's calls have no such cap.
  expect(await limitsOf('default')).toEqual([
    { taskQueue: 'rate-options-default', perSecond: null },
    { taskQueue: 'rate-options-default-compensation', perSecond: 100 },
  ]);
  expect(await limitsOf('configured', { compensationActivitiesPerSecond: 7 })).toEqual([
    { taskQueue: 'rate-options-configured', perSecond: null },
    { taskQueue: 'rate-options-configured-compensation', perSecond: 7 },
  ]);
}, 60_000);

it(`holds a burst of ${BILLS} bills to ${LIMIT} queries/s (+ the server's burst of ${BURST}); unlimited, it runs faster`, async () => {
  const limited = await reportBurst('LIMITED', { compensationActivitiesPerSecond: LIMIT });
  expect(limited.final.map((b) => b.state)).toEqual(Array(BILLS).fill('SUCCESS'));
  expect(limited.peakPerSecond).toBeLessThanOrEqual(LIMIT + BURST);
  // 10% off for the spread of request delays between the server's dispatch and the sandbox's log.
  expect(limited.spanMs).toBeGreaterThanOrEqual(MIN_LIMITED_SPAN_MS * 0.9);

  // The same burst at the production limit (100/s, far above what this machine reaches): what the trackers
  // want. It must be visibly faster, or the assertions above could not tell a limit from a slow machine.
  const unlimited = await reportBurst('UNLIMITED', undefined);
  expect(unlimited.final.map((b) => b.state)).toEqual(Array(BILLS).fill('SUCCESS'));
  expect(unlimited.spanMs).toBeLessThan(limited.spanMs / 2);
}, 180_000);
