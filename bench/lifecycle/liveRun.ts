import type { ChildProcess } from 'node:child_process';
import { Client, Connection } from '@temporalio/client';
import type { RepaymentClient } from '../../src/client';
import { addDays, shanghaiDateOf } from '../../src/domain/calendar';
import { workflowIdFor, type RepaymentPlanInput } from '../../src/domain/plan';
import { SandboxControlClient } from '../../src/sandbox/controlClient';
import { statusQuery } from '../../src/workflows/definitions';
import { sleep, waitUntil } from '../../src/chaos/processes';
import { usage, type SandboxProcess } from './processes';
import { BASELINE_TASK_QUEUE } from './workerProcess';

/**
 * The live part of the bench, against the dev server and the sandbox process: the yardstick (one create per
 * minimal workflow), then N lifecycles through the lender client to their first create and to sleep, then
 * status queries that wake cached and evicted lifecycles. Every wait is bounded by `deadline`.
 */

const APPID = 'wxd678efh567hg6787';

export interface Sample {
  atS: number;
  workerRssMiB: number;
  workerCpuMs: number;
}

/** Runs `task(i)` for i < count with at most `concurrency` in flight; returns the seconds it took. */
export async function inParallel(
  count: number,
  concurrency: number,
  task: (i: number) => Promise<unknown>,
): Promise<number> {
  const started = performance.now();
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  return (performance.now() - started) / 1000;
}

export interface BaselineResult {
  workflows: number;
  seconds: number;
  workerCpuMs: number;
  apiCalls: number;
}

/** N minimal workflows, each one create of its own record on one signed contract. */
export async function runBaseline(
  address: string,
  sandbox: SandboxProcess,
  worker: ChildProcess,
  count: number,
  concurrency: number,
): Promise<BaselineResult> {
  const control = new SandboxControlClient(sandbox.primaryUrl);
  const contract = { outContractCode: 'BENCHBASE', contractId: 'WXCBENCHBASE', appid: APPID, openid: 'o_BENCHBASE' };
  await control.createContract({ ...contract, authorized: true });
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  const repaymentDate = addDays(shanghaiDateOf(Date.now()), 3);
  const callsBefore = sandbox.calls.total;
  const cpuBefore = usage(worker.pid!).cpuMs;
  try {
    const seconds = await inParallel(count, concurrency, (i) =>
      client.workflow.execute('benchOneCall', {
        taskQueue: BASELINE_TASK_QUEUE,
        workflowId: `bench-baseline-${i}`,
        args: [
          {
            contractId: contract.contractId,
            appid: APPID,
            openid: contract.openid,
            item: { outRecordId: `B${i}`, repaymentAmount: '100000', minRepaymentAmount: '5000', repaymentDate },
          },
        ],
      }),
    );
    await settle(worker);
    return {
      workflows: count,
      seconds,
      workerCpuMs: usage(worker.pid!).cpuMs - cpuBefore,
      apiCalls: sandbox.calls.total - callsBefore,
    };
  } finally {
    await connection.close();
  }
}

/**
 * Waits (at most 30 s) until the worker has used under 5% of a core for two seconds in a row: its work is done.
 * Idle pollers, and a profiler when --cpu-prof is on, never drop to zero, hence a threshold and a bound.
 */
export async function settle(worker: ChildProcess): Promise<void> {
  let last = usage(worker.pid!).cpuMs;
  let quiet = 0;
  for (let second = 0; second < 30 && quiet < 2; second++) {
    await sleep(1000);
    const now = usage(worker.pid!).cpuMs;
    quiet = now - last < 50 ? quiet + 1 : 0;
    last = now;
  }
}

/** A monthly plan without a signature step: `installments` due every 30 days from `firstInDays` after today. */
export function monthlyPlan(
  code: string,
  today: string,
  installments: number,
  firstInDays: number,
): RepaymentPlanInput {
  return {
    outContractCode: code,
    contractId: `WXC${code}`,
    appid: APPID,
    openid: `o_${code}`,
    signature: { mode: 'none' },
    installments: Array.from({ length: installments }, (_, k) => ({
      repaymentAmount: '100000',
      minRepaymentAmount: '5000',
      repaymentDate: addDays(today, firstInDays + 30 * k),
    })),
  };
}

/** The sandbox's contract of a plan, signed. */
export function contractOf(plan: RepaymentPlanInput): Parameters<SandboxControlClient['createContract']>[0] {
  const { outContractCode, contractId, appid, openid } = plan;
  return { outContractCode, contractId, appid, openid, authorized: true };
}

export interface LifecycleRunResult {
  lifecycles: number;
  startSeconds: number;
  toFirstCreateSeconds: number;
  workerCpuMs: number;
  apiCalls: number;
  idleRssMiB: number;
  asleepRssMiB: number;
}

/** N lifecycles through the lender client until each has created its first record, then asleep. */
export async function runLifecycles(
  client: RepaymentClient,
  sandbox: SandboxProcess,
  worker: ChildProcess,
  count: number,
  concurrency: number,
  deadline: number,
  progress: (line: string) => void,
): Promise<LifecycleRunResult> {
  const control = new SandboxControlClient(sandbox.primaryUrl);
  const today = shanghaiDateOf(Date.now());
  // The first window is open (due in 3 days): created at once; the other eleven sleep for months.
  const plans = Array.from({ length: count }, (_, i) => monthlyPlan(`BENCH${i}`, today, 12, 3));
  await inParallel(count, 8, (i) => control.createContract(contractOf(plans[i]!)));
  await settle(worker);
  const idleRssMiB = usage(worker.pid!).rssMiB;
  const createsBefore = sandbox.calls.totals.create;
  const callsBefore = sandbox.calls.total;
  const cpuBefore = usage(worker.pid!).cpuMs;
  const started = performance.now();
  const startSeconds = await inParallel(count, concurrency, (i) => client.startLifecycle(plans[i]));
  progress(`started ${count} lifecycles in ${startSeconds.toFixed(1)} s`);
  await waitUntil(
    async () => (sandbox.calls.totals.create - createsBefore >= count ? true : undefined),
    `${count} first creates`,
    Math.max(1000, deadline - Date.now()),
  );
  const toFirstCreateSeconds = (performance.now() - started) / 1000;
  await settle(worker);
  return {
    lifecycles: count,
    startSeconds,
    toFirstCreateSeconds,
    workerCpuMs: usage(worker.pid!).cpuMs - cpuBefore,
    apiCalls: sandbox.calls.total - callsBefore,
    idleRssMiB,
    asleepRssMiB: usage(worker.pid!).rssMiB,
  };
}

export interface WakeResult {
  queries: number;
  cachedCpuMsPerQuery: number;
  evictedCpuMsPerQuery: number;
}

/**
 * Wakes lifecycles with a status query: the most recently started are in the cache, the first started were
 * evicted when the cache is smaller than the book and replay their history first. Worker CPU per query of each.
 */
export async function wakeSleepers(
  client: RepaymentClient,
  worker: ChildProcess,
  count: number,
  cacheSize: number,
  sample: number,
): Promise<WakeResult> {
  const measure = async (codes: string[]): Promise<number> => {
    if (codes.length === 0) return 0;
    const before = usage(worker.pid!).cpuMs;
    for (const code of codes) await client.temporal.workflow.getHandle(workflowIdFor(code)).query(statusQuery);
    return (usage(worker.pid!).cpuMs - before) / codes.length;
  };
  const n = Math.min(sample, Math.floor(count / 2));
  const cached = Array.from({ length: n }, (_, i) => `BENCH${count - 1 - i}`);
  const evicted = count > cacheSize ? Array.from({ length: n }, (_, i) => `BENCH${i}`) : [];
  const cachedCpuMsPerQuery = await measure(cached);
  const evictedCpuMsPerQuery = await measure(evicted);
  return { queries: cached.length + evicted.length, cachedCpuMsPerQuery, evictedCpuMsPerQuery };
}
