import type { WorkflowHandle } from '@temporalio/client';
import type { repaymentLifecycle } from '../../src/workflows';
import { statusQuery } from '../../src/workflows/definitions';
import { simulateLender, useLifecycleFixture } from './fixture';

/**
 * Failover INSIDE one request, seen from the lifecycle: with the primary domain down for the whole lifecycle,
 * every WeChat Pay call (signing query, create, polls) must succeed on the FIRST attempt of its activity, the
 * HTTP client having moved to the backup within that attempt. A client that only failed over between attempts
 * would still complete the lifecycle (the activity's retry would reach the backup), which is why
 * resilience.test.ts cannot tell the two apart; the attempt numbers in the history can.
 *
 * Its own file and client: `failbackAfterMs: 0` makes the client try the primary first on EVERY request (no
 * memory of the primary's earlier failure), so the create and each poll each go through the failover path.
 */

const fixture = useLifecycleFixture({ wechatpay: { failbackAfterMs: 0 } });

/** Every activity the lifecycle ran, by type, with the attempt on which it was last started. */
async function activityAttempts(
  handle: WorkflowHandle<typeof repaymentLifecycle>,
): Promise<Array<{ type: string; attempt: number }>> {
  const events = (await handle.fetchHistory()).events ?? [];
  const typeOf = new Map<string, string>();
  for (const event of events) {
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled) typeOf.set(String(event.eventId), scheduled.activityType?.name ?? '?');
  }
  // The server records only the last attempt's ActivityTaskStarted: attempt 1 means no retry happened.
  return events.flatMap((event) => {
    const started = event.activityTaskStartedEventAttributes;
    return started
      ? [{ type: typeOf.get(String(started.scheduledEventId)) ?? '?', attempt: started.attempt ?? 0 }]
      : [];
  });
}

it('signs up, creates and polls through the backup on the first attempt while the primary is down', async () => {
  const fx = fixture();
  const plan = await fx.newContract('FAILOVERREQ', { installments: 1, firstInDays: 4, signature: 'poll' });
  // Down before the first call and for the whole lifecycle (cleanUp brings it back, even if this test fails).
  await fx.sandbox.control.setPrimaryDown(true);
  const handle = await fx.start(plan, { pollJitterSeconds: 0 });
  // One installment needs a handful of steps; a lifecycle stuck retrying through the outage never completes.
  const status = await simulateLender(fx, handle, undefined, 100).catch(async (error: Error) => {
    const { phase, failureReason } = await handle.query(statusQuery);
    throw new Error(`${error.message}: the lifecycle is ${phase} (${failureReason ?? 'no failure reason'})`);
  });
  expect(status.phase).toBe('COMPLETED');
  const polls = status.installments[0]!.pollCount;
  expect(polls).toBeGreaterThanOrEqual(2);

  const attempts = await activityAttempts(handle);
  expect(attempts.filter((a) => a.type === 'querySigning').length).toBeGreaterThanOrEqual(1);
  expect(attempts.filter((a) => a.type === 'createScheduleRecord')).toHaveLength(1);
  expect(attempts.filter((a) => a.type === 'queryScheduleRecord')).toHaveLength(polls);
  expect(attempts.filter((a) => a.attempt !== 1)).toEqual([]);

  // The sandbox saw each of those activities exactly once, on the backup, answered 200: one request each.
  const calls = await fx.calls(plan);
  expect(calls.map((c) => `${c.listener}:${c.status}`)).toEqual(Array(calls.length).fill('backup:200'));
  const count = (endpoint: string) => calls.filter((c) => c.endpoint === endpoint).length;
  expect(count('contract-query')).toBe(attempts.filter((a) => a.type === 'querySigning').length);
  expect(count('schedule-create')).toBe(1);
  expect(count('schedule-query')).toBe(polls);
  expect(count('terminate')).toBe(0);
});
