import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { MainQueueActivities } from '../../src/activities';
import { shanghaiDateOf } from '../../src/domain/calendar';
import { resolvePolicy, workflowIdFor } from '../../src/domain/plan';
import { repaymentLifecycle } from '../../src/workflows';
import { createTimeSkippingEnv } from '../harness/temporal';
import { inMemoryWorker, oneInstallmentInput } from './inMemory';

/**
 * A bug in the workflow's own code (a TypeError) is the worker's fault, not evidence against the contract: it fails
 * the workflow TASK, which Temporal retries until a fixed worker is deployed; the workflow never catches it as a
 * failure of the lifecycle. Its own file: the Java test server does not release time skipping after a workflow
 * whose task kept failing is terminated, so later skips in the same server would hang.
 */

let env: TestWorkflowEnvironment;
const calls: string[] = [];
const activities: MainQueueActivities = {
  // An answer of a shape the workflow does not expect: the workflow code throws on it.
  createScheduleRecord: async (request) => {
    calls.push(`create:${request.item.outRecordId}`);
    return undefined as never;
  },
  queryScheduleRecord: async () => ({ found: false }),
  querySigning: async () => ({ found: true, authState: 'AUTHORIZED' }),
  terminateContract: async (request) => {
    calls.push(`terminate:${request.outContractCode}`);
    return {};
  },
};

beforeAll(async () => {
  env = await createTimeSkippingEnv();
}, 120_000);
afterAll(async () => env?.teardown(), 60_000);

it('a bug in workflow code fails the workflow task (Temporal retries it after a fix), never the contract', async () => {
  const worker = await inMemoryWorker(env, 'bug', activities);
  const today = shanghaiDateOf(await env.currentTimeMs());
  const handle = await env.client.workflow.start(repaymentLifecycle, {
    taskQueue: 'bug',
    workflowId: workflowIdFor('BUGGY'),
    args: [oneInstallmentInput('BUGGY', today, 5, resolvePolicy(undefined, undefined))],
  });
  await worker.runUntil(async () => {
    // No time skipping here: a workflow task that keeps failing holds the test server's clock.
    let failed = false;
    for (let i = 0; i < 150 && !failed; i++) {
      const events = (await handle.fetchHistory()).events ?? [];
      failed = events.some((e) => e.workflowTaskFailedEventAttributes?.failure?.message?.includes('Cannot read'));
      if (!failed) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    // The task failed (Temporal retries it); the workflow itself goes on running.
    expect(failed).toBe(true);
    expect((await handle.describe()).status.name).toBe('RUNNING');
    expect(calls.filter((c) => c.startsWith('terminate:'))).toEqual([]);
    await handle.terminate('test over');
  });
}, 60_000);
