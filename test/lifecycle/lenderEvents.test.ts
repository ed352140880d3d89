import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import type { LenderEvent } from '../../src/domain/lenderEvents';
import { resolvePolicy } from '../../src/domain/plan';
import { RepaymentAlert } from '../../src/domain/searchAttributes';
import { contractSlotMs, spreadCreateAt } from '../../src/domain/spread';
import {
  cancelSignal,
  compensationBillReportedSignal,
  contractSignedSignal,
  resolveAlertUpdate,
} from '../../src/workflows/definitions';
import { acceptedInOrder, startTestEventReceiver, type TestEventReceiver } from '../harness/eventReceiver';
import { runEveryStep } from '../harness/teardown';
import { createLifecycleFixture, simulateLender, waitForStatus, type LifecycleFixture } from './fixture';
import { maybeRecordHistory } from './recordHistory';

/**
 * Lender events on the time-skipping server, delivered over real HTTP to a receiver that verifies each signature:
 * every transition is told exactly once, in order, under an id that retries and replay keep; a receiver that is
 * down or failing raises the `events` alert and never holds up the lifecycle's WeChat Pay work; nothing is lost
 * across continue-as-new.
 */

let receiver: TestEventReceiver;
let fx: LifecycleFixture;
let dir: string;

beforeAll(async () => {
  receiver = await startTestEventReceiver();
  dir = mkdtempSync(join(tmpdir(), 'lender-events-'));
  const secretFile = join(dir, 'lender-events.secret');
  writeFileSync(secretFile, `${receiver.secret}\n`);
  fx = await createLifecycleFixture({ lenderEvents: { url: receiver.url, secretFile } });
}, 120_000);
afterEach(async () => {
  receiver.answer = () => ({ status: 200 });
  receiver.arrivals.length = 0;
  receiver.refused.length = 0;
  await receiver.up();
  await fx?.cleanUp();
});
afterAll(
  () =>
    runEveryStep(
      () => fx?.teardown(),
      () => receiver?.close(),
      () => rmSync(dir, { recursive: true, force: true }),
    ),
  60_000,
);

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const typesOf = (events: LenderEvent[]) => events.map((e) => [e.type, e.outRecordId]);

it('tells each transition exactly once, in order, under an id that retries and replay keep', async () => {
  const plan = await fx.newContract('EVENTS1', { installments: 2, signature: 'signal' });
  // The first delivery of every event is answered 500: each comes again, the same bytes under the same id.
  const failedOnce = new Set<string>();
  receiver.answer = (event) => {
    if (failedOnce.has(event.id)) return { status: 200 };
    failedOnce.add(event.id);
    return { status: 500 };
  };
  const handle = await fx.start(plan, { onRepaymentFailed: 'continue' });
  await handle.signal(contractSignedSignal, {});
  await fx.sandbox.control.createBill({ outBillNo: 'BILLEVENTS1', amount: 700, state: 'ACCEPTED' });
  await handle.signal(compensationBillReportedSignal, { outBillNo: 'BILLEVENTS1' });
  await fx.sandbox.control.setBillState('BILLEVENTS1', 'SUCCESS');
  const done = await simulateLender(fx, handle, (_, index) => (index === 0 ? 'SUCCESS' : 'FAILED'));
  expect(done.phase).toBe('COMPLETED');
  // The run closes only once the receiver has every event.
  const result = await handle.result();
  const [r1, r2] = result.installments.map((i) => i.outRecordId);

  const events = acceptedInOrder(receiver.arrivals, 'EVENTS1');
  expect(typesOf(events)).toEqual([
    ['LIFECYCLE_STARTED', undefined],
    ['CONTRACT_SIGNED', undefined],
    ['INSTALLMENT_SCHEDULED', r1],
    ['INSTALLMENT_DUE', r1],
    ['INSTALLMENT_SETTLED', r1],
    ['INSTALLMENT_SCHEDULED', r2],
    ['INSTALLMENT_DUE', r2],
    ['INSTALLMENT_FAILED', r2],
    ['LIFECYCLE_COMPLETED', undefined],
  ]);
  for (const event of events) {
    expect(event).toMatchObject({ schemaVersion: 1, outContractCode: 'EVENTS1', contractId: plan.contractId });
    expect(event.lifecycleId).toBe(handle.firstExecutionRunId);
    expect(event.id).toBe(`EVENTS1:${event.lifecycleId}:${event.sequence}`);
    expect(event.occurredAt).toMatch(RFC3339);
    // Delivered twice (500, then 200), never more.
    expect(receiver.arrivals.filter((a) => a.event.id === event.id).map((a) => a.status)).toEqual([500, 200]);
  }
  const scheduled = events[2] as Extract<LenderEvent, { type: 'INSTALLMENT_SCHEDULED' }>;
  expect(scheduled.data.record).toEqual({
    outRecordId: r1,
    contractId: plan.contractId,
    repaymentAmount: '100000',
    minRepaymentAmount: '5000',
    repaymentDate: plan.installments[0]!.repaymentDate,
  });
  expect(events[7]!.data).toMatchObject({ source: 'LENDER', reason: expect.stringMatching(/repayment failed/) });
  expect(events[8]!.data).toEqual({
    installments: [
      { outRecordId: r1, state: 'SETTLED' },
      { outRecordId: r2, state: 'FAILED' },
    ],
    compensationBills: [{ outBillNo: 'BILLEVENTS1', state: 'SUCCESS', amount: '700' }],
  });
  expect(JSON.stringify(receiver.arrivals)).not.toContain(plan.openid);
  expect(receiver.refused).toEqual([]);

  // Replay issues the same deliveries: the ids are in the history's activity inputs and replay reproduces them.
  const history = await handle.fetchHistory();
  const delivered = (history.events ?? []).flatMap((e) => {
    const scheduledActivity = e.activityTaskScheduledEventAttributes;
    if (scheduledActivity?.activityType?.name !== 'deliverLenderEvents') return [];
    const input = defaultPayloadConverter.fromPayload<{ events: LenderEvent[] }>(
      scheduledActivity.input!.payloads![0]!,
    );
    return input.events.map((e) => e.id);
  });
  expect([...new Set(delivered)]).toEqual(events.map((e) => e.id));
  const workflowBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../../src/workflows') });
  await Worker.runReplayHistory({ workflowBundle }, history, handle.workflowId);
  await maybeRecordHistory(handle);
  await maybeRecordHistory(fx.env.client.workflow.getHandle(`${handle.workflowId}-bill-BILLEVENTS1`));
}, 180_000);

it('tells alerts raised and cleared, and the evidence the contract was terminated on', async () => {
  // Signing polled: the contract was verifiably AUTHORIZED, so a later UNAUTHORIZED is the user's doing.
  const plan = await fx.newContract('EVENTS2', { installments: 2, firstInDays: 5, everyDays: 7, signature: 'poll' });
  await fx.sandbox.control.injectFault({ endpoint: 'schedule-create', kind: 503, count: 10_000 });
  const handle = await fx.start(plan, { contractCheckIntervalMinutes: 60 });
  await waitForStatus(fx, handle, (s) => s.alerts.length > 0, 'an alert');
  await fx.sandbox.control.clearFaults();
  await waitForStatus(fx, handle, (s) => s.installments[0]!.state === 'SCHEDULED', 'first record scheduled');
  await fx.sandbox.control.terminateAsUser(plan.outContractCode);
  const result = await handle.result();
  expect(result).toMatchObject({ phase: 'TERMINATED', evidence: 'USER_TERMINATED' });

  const r1 = result.installments[0]!.outRecordId;
  const events = acceptedInOrder(receiver.arrivals, 'EVENTS2');
  expect(typesOf(events)).toEqual([
    ['LIFECYCLE_STARTED', undefined],
    ['CONTRACT_SIGNED', undefined],
    ['ALERT_RAISED', r1],
    ['ALERT_CLEARED', r1],
    ['INSTALLMENT_SCHEDULED', r1],
    ['CONTRACT_TERMINATED', undefined],
  ]);
  const raised = events[2] as Extract<LenderEvent, { type: 'ALERT_RAISED' }>;
  expect(raised.data).toMatchObject({
    alert: `create:${r1}`,
    step: 'create',
    kind: 'INFRASTRUCTURE',
    errorClass: 'SERVER_ERROR',
  });
  expect(Date.parse(raised.data.raisedAt) - Date.parse(raised.data.since)).toBeGreaterThanOrEqual(30 * 60_000);
  expect(events[5]!.data).toMatchObject({
    evidence: 'USER_TERMINATED',
    reason: expect.stringMatching(/terminated by the user/),
    termination: { alreadyTerminated: true, at: expect.stringMatching(RFC3339) },
  });
});

it('a receiver down, then failing, past the threshold: the events alert, WeChat Pay on time, nothing lost', async () => {
  await receiver.down();
  const plan = await fx.newContract('EVENTS3', { installments: 2, firstInDays: 9, everyDays: 7 });
  // A small history limit: the undelivered events are carried across several continue-as-new.
  const handle = await fx.start(plan, { continueAsNewAfterEvents: 200 });
  const scheduled = await waitForStatus(
    fx,
    handle,
    (s) => s.installments[0]!.state === 'SCHEDULED' && s.continuedAsNewCount > 0,
    'first record scheduled while the receiver is down',
    '30 minutes',
  );
  // The create was not held up by the receiver: it ran at the contract's instant of the window's first day.
  const policy = resolvePolicy({ continueAsNewAfterEvents: 200 }, undefined);
  const due = spreadCreateAt(plan.installments[0]!.repaymentDate, policy, contractSlotMs(plan.outContractCode, policy));
  expect(Date.parse(scheduled.installments[0]!.scheduledAt!) - due).toBeLessThan(5 * 60_000);
  expect(scheduled.alerts).toEqual([expect.objectContaining({ key: 'events', errorClass: 'TRANSPORT' })]);
  expect((await handle.describe()).typedSearchAttributes.get(RepaymentAlert)).toBe('events:TRANSPORT');
  expect(receiver.arrivals).toEqual([]);

  // Up, but answering 500: still failing, still alerting; an operator cannot terminate the contract for it.
  receiver.answer = () => ({ status: 500 });
  await receiver.up();
  const failing = await waitForStatus(
    fx,
    handle,
    (s) => s.alerts.some((a) => a.key === 'events' && a.errorClass === 'SERVER_ERROR'),
    'the receiver answering 500',
  );
  expect(failing.phase).toBe('MONITORING');
  const refused = await handle
    .executeUpdate(resolveAlertUpdate, { args: [{ alert: 'events', action: 'terminate', reason: 'receiver down' }] })
    .catch((error: unknown) => error);
  expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
  expect((refused as WorkflowUpdateFailedError).cause?.message).toMatch(/says nothing about the contract/);

  // Cancelled while the receiver still fails: the lifecycle has ended but stays open until its events are delivered.
  await handle.signal(cancelSignal, { reason: 'receiver test over' });
  const ended = await waitForStatus(fx, handle, (s) => s.phase === 'CANCELLED', 'cancelled', '1 minute');
  expect(ended.alerts.map((a) => a.key)).toEqual(['events']);
  expect(acceptedInOrder(receiver.arrivals, 'EVENTS3')).toEqual([]);

  // Healthy again: an operator's "retry" (the one decision an ended lifecycle still takes) delivers at once.
  receiver.answer = () => ({ status: 200 });
  await handle.executeUpdate(resolveAlertUpdate, { args: [{ alert: 'events', action: 'retry' }] });
  const result = await handle.result();
  expect(result.phase).toBe('CANCELLED');
  expect(result.alerts).toEqual([]);

  const r1 = result.installments[0]!.outRecordId;
  const events = acceptedInOrder(receiver.arrivals, 'EVENTS3');
  expect(typesOf(events)).toEqual([
    ['LIFECYCLE_STARTED', undefined],
    ['INSTALLMENT_SCHEDULED', r1],
    ['LIFECYCLE_CANCELLED', undefined],
  ]);
  expect(events[2]!.data).toMatchObject({ reason: 'receiver test over', termination: { alreadyTerminated: false } });
  expect(receiver.refused).toEqual([]);
}, 240_000);
