import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { MainQueueActivities } from '../../src/activities';
import { shanghaiDateOf } from '../../src/domain/calendar';
import { workflowIdFor } from '../../src/domain/plan';
import { DEFAULT_LIFECYCLE_POLICY } from '../../src/domain/policy';
import { repaymentLifecycle } from '../../src/workflows';
import type { LifecycleInput } from '../../src/workflows/definitions';
import { statusQuery } from '../../src/workflows/definitions';
import { createTimeSkippingEnv } from '../harness/temporal';
import { inMemoryWorker, oneInstallmentInput } from './inMemory';

/**
 * A lifecycle started without its whole policy (a raw `temporal workflow start`; the lender client always sends it)
 * resolves it once and pins it into the input of a second run, so that a later change of the code's defaults can
 * never change, or break the replay of, a running lifecycle. Its own file: the Java test server's time skipping does
 * not survive a continue-as-new in the first workflow task, so nothing here skips time.
 */

let env: TestWorkflowEnvironment;
const activities: MainQueueActivities = {
  createScheduleRecord: async (request) => ({ ...request.item, contractId: request.contractId }),
  queryScheduleRecord: async () => ({ found: false }),
  querySigning: async () => ({ found: true, authState: 'AUTHORIZED' }),
  terminateContract: async () => ({}),
};

beforeAll(async () => {
  env = await createTimeSkippingEnv();
}, 120_000);
afterAll(async () => env?.teardown(), 60_000);

it('pins a partial policy in the input of a second run, before it does anything else', async () => {
  const worker = await inMemoryWorker(env, 'pin', activities);
  const today = shanghaiDateOf(await env.currentTimeMs());
  const handle = await env.client.workflow.start(repaymentLifecycle, {
    taskQueue: 'pin',
    workflowId: workflowIdFor('PINNED'),
    args: [oneInstallmentInput('PINNED', today, 5, { pollIntervalHours: 48 })],
  });
  await worker.runUntil(async () => {
    let status;
    for (let i = 0; i < 100 && status?.installments[0]?.state !== 'SCHEDULED'; i++) {
      status = await handle.query(statusQuery).catch(() => undefined);
      if (status?.installments[0]?.state !== 'SCHEDULED') await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status?.installments[0]?.state).toBe('SCHEDULED');
    // The first run did nothing but continue as new with the resolved policy.
    const first = (await env.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId).fetchHistory())
      .events!;
    const commands = first.filter((e) => e.activityTaskScheduledEventAttributes || e.timerStartedEventAttributes);
    expect(commands).toEqual([]);
    const continued = first.at(-1)!.workflowExecutionContinuedAsNewEventAttributes!;
    const latest = await env.client.workflow.getHandle(handle.workflowId, continued.newExecutionRunId!).fetchHistory();
    const payload = latest.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
    const input = JSON.parse(Buffer.from(payload.data!).toString('utf8')) as LifecycleInput;
    expect(input.policy).toEqual({ ...DEFAULT_LIFECYCLE_POLICY, pollIntervalHours: 48 });
    expect(status?.continuedAsNewCount).toBe(0);
    await handle.terminate('test over');
  });
}, 60_000);
