import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { createActivities } from '../../src/activities';
import { shanghaiDateOf, shanghaiMidnight } from '../../src/domain/calendar';
import { markPolled, markScheduled, newInstallmentRecord } from '../../src/domain/installments';
import { resolvePolicy, workflowIdFor } from '../../src/domain/plan';
import { contractSlotMs } from '../../src/domain/spread';
import { startSandbox } from '../../src/sandbox';
import { registerSearchAttributes } from '../../src/servers/searchAttributes';
import { resolveTestServer } from '../../src/servers/provision';
import { createWechatPayClient } from '../../src/wechatpay';
import { Verifier } from '../../src/wechatpay/verifier';
import { createWorkers, runWorkersUntil } from '../../src/worker';
import { contractOf, monthlyPlan } from './liveRun';
import { repaymentLifecycle } from '../../src/workflows';
import { repaymentResultSignal, statusQuery } from '../../src/workflows/definitions';

/**
 * One 36-installment, daily-polled lifecycle with the default policy, time-skipped to completion on the Java test
 * server against the sandbox (real HTTP and signatures; the sandbox's business clock follows the skipped clock):
 * history events of every run (continue-as-new included) and WeChat Pay calls per installment, against the polls
 * the policy plans (computed with the workflow's own pure functions).
 */

const CODE = 'BENCHLONG36';
const MAX_STEPS = 3000;

export interface HistoryResult {
  installments: number;
  runs: number;
  eventsPerRun: number[];
  maxEventsPerRun: number;
  totalEvents: number;
  plannedPollsPerInstallment: number;
  pollsPerInstallment: { min: number; max: number };
  createsPerInstallment: { min: number; max: number };
  duplicateCreates: number;
  callsPerInstallment: number;
  contractChecks: number;
}

export async function runLongLifecycle(progress: (line: string) => void): Promise<HistoryResult> {
  const executable = await resolveTestServer({ progress });
  const env = await TestWorkflowEnvironment.createTimeSkipping(executable ? { server: { executable } } : {});
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-history-'));
  try {
    await registerSearchAttributes(env.connection, env.namespace ?? 'default');
    const sandbox = await startSandbox({ dataDir, businessClock: () => env.currentTimeMs() });
    const wechatpay = createWechatPayClient({
      merchant: { mchid: sandbox.mchid, serialNo: sandbox.merchant.serialNo, privateKey: sandbox.merchant.privateKey },
      verifier: new Verifier(new Map(sandbox.platformKeys.map((key) => [key.id, key.publicKey] as const))),
      baseUrls: { primary: sandbox.primaryUrl, backup: sandbox.backupUrl },
    });
    try {
      const today = shanghaiDateOf(await env.currentTimeMs());
      const plan = monthlyPlan(CODE, today, 36, 20);
      await sandbox.control.createContract(contractOf(plan));
      const workers = await createWorkers({
        connection: env.nativeConnection,
        taskQueue: 'bench-history',
        compensationTaskQueue: 'bench-history-compensation',
        activities: createActivities({ wechatpay }),
        workflowsPath: require.resolve('../../src/workflows'),
      });
      const policy = resolvePolicy(undefined, undefined);
      const { handle, status } = await runWorkersUntil(
        workers,
        (async () => {
          const started = await env.client.workflow.start(repaymentLifecycle, {
            taskQueue: 'bench-history',
            workflowId: workflowIdFor(CODE),
            args: [{ plan, policy, compensationTaskQueue: 'bench-history-compensation' }],
          });
          await payEachWhenDue(env, started, progress);
          // The final status is the last run's result (a query would need the workers, which stop after this).
          return { handle: started, status: await started.result() };
        })(),
      );
      const eventsPerRun = await eventsOfEveryRun(env, handle.workflowId, handle.firstExecutionRunId);
      const log = await sandbox.control.requestLog();
      const ids = status.installments.map((i) => i.outRecordId);
      const polls = ids.map((id) => log.filter((e) => e.endpoint === 'schedule-query' && e.path.includes(`/${id}?`)));
      const creates = ids.map((id) =>
        log.filter((e) => e.endpoint === 'schedule-create' && JSON.stringify(e.body).includes(`"${id}"`)),
      );
      const slot = contractSlotMs(CODE, policy);
      const planned = plannedPolls(plan.installments[0]!.repaymentDate, policy, slot);
      const counts = (lists: unknown[][]) => ({
        min: Math.min(...lists.map((l) => l.length)),
        max: Math.max(...lists.map((l) => l.length)),
      });
      return {
        installments: ids.length,
        runs: eventsPerRun.length,
        eventsPerRun,
        maxEventsPerRun: Math.max(...eventsPerRun),
        totalEvents: eventsPerRun.reduce((a, b) => a + b, 0),
        plannedPollsPerInstallment: planned,
        pollsPerInstallment: counts(polls),
        createsPerInstallment: counts(creates),
        duplicateCreates: creates.flat().filter((e) => e.status !== 200).length,
        callsPerInstallment: (polls.flat().length + creates.flat().length) / ids.length,
        contractChecks: log.filter((e) => e.endpoint === 'contract-query').length,
      };
    } finally {
      wechatpay.close();
      await sandbox.close();
    }
  } finally {
    await env.teardown();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The lender pays each installment when it is due; the clock skips straight to the next repayment date. */
async function payEachWhenDue(
  env: TestWorkflowEnvironment,
  handle: WorkflowHandle<typeof repaymentLifecycle>,
  progress: (line: string) => void,
): Promise<void> {
  for (let step = 0; step < MAX_STEPS; step++) {
    const status = await handle.query(statusQuery);
    if (['COMPLETED', 'TERMINATED', 'CANCELLED'].includes(status.phase)) {
      if (status.phase !== 'COMPLETED') throw new Error(`the long lifecycle ended ${status.phase}`);
      return;
    }
    const due = status.installments.filter((i) => i.state === 'DUE');
    for (const record of due) {
      await handle.signal(repaymentResultSignal, { outRecordId: record.outRecordId, outcome: 'SUCCESS' });
    }
    const settled = status.installments.filter((i) => i.state === 'SETTLED').length;
    if (step % 10 === 0)
      progress(`36-installment lifecycle: ${settled} settled, run ${status.continuedAsNewCount + 1}`);
    const open = status.installments.filter((i) => i.state !== 'SETTLED').map((i) => i.repaymentDate);
    const now = await env.currentTimeMs();
    const next = open.length > 0 ? shanghaiMidnight(open.sort()[0]!) + 3_600_000 : now + 86_400_000;
    await env.sleep(Math.max(60_000, next - now));
  }
  throw new Error('the long lifecycle did not complete within the step budget');
}

async function eventsOfEveryRun(
  env: TestWorkflowEnvironment,
  workflowId: string,
  firstRunId: string,
): Promise<number[]> {
  const counts: number[] = [];
  for (let runId: string | undefined = firstRunId, runs = 0; runId && runs < 100; runs++) {
    const { events } = await env.client.workflow.getHandle(workflowId, runId).fetchHistory();
    counts.push(events?.length ?? 0);
    runId = events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return counts;
}

/** The polls the workflow's own functions plan for one installment whose window opens after the start. */
function plannedPolls(repaymentDate: string, policy: ReturnType<typeof resolvePolicy>, slot: number): number {
  const item = { outRecordId: 'R', repaymentAmount: '1', minRepaymentAmount: '1', repaymentDate };
  const record = newInstallmentRecord(item, policy, slot);
  markScheduled(record, Date.parse(record.nextActionAt!), policy, slot);
  let polls = 0;
  while (Date.parse(record.nextActionAt!) < shanghaiMidnight(repaymentDate) && polls < 1000) {
    polls++;
    markPolled(record, Date.parse(record.nextActionAt!), 'MATCHES', policy, slot);
  }
  return polls;
}
