import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { RepaymentClient } from '../../src/client/lenderClient';
import { PlanValidationError } from '../../src/domain/plan';
import type { repaymentLifecycle } from '../../src/workflows';
import {
  cancelSignal,
  reportRepaymentResultUpdate,
  repaymentResultSignal,
  resolveAlertUpdate,
  statusQuery,
} from '../../src/workflows/definitions';
import {
  useLifecycleFixture,
  expectEndedOnce,
  simulateLender,
  waitForPhase,
  waitForStatus,
  type LifecycleFixture,
} from './fixture';
import { maybeRecordHistory } from './recordHistory';

/**
 * What counts as evidence and what does not (issue 11), on the time-skipping server against the sandbox: the
 * signing deadline judged from the last verified answer, late and wrong lender results, records WeChat Pay
 * verifiably lost or changed, the user's own termination, an operator's decision, and the termination itself.
 */

const fixture = useLifecycleFixture();
let fx: LifecycleFixture;
beforeAll(() => {
  fx = fixture();
});

type Handle = WorkflowHandle<typeof repaymentLifecycle>;
const HOUR = 3_600_000;

async function hoursSinceStart(handle: Handle): Promise<number> {
  const started = (await handle.describe()).startTime.getTime();
  return ((await fx.env.currentTimeMs()) - started) / HOUR;
}

it('the signing deadline passing while the signing poll is still retrying does not end the contract', async () => {
  const plan = await fx.newContract('EVISIGNLATE', {
    installments: 1,
    firstInDays: 10,
    signature: 'poll',
    authorized: false,
  });
  const handle = await fx.start(plan, { signingPollIntervalSeconds: 3600 });
  await waitForStatus(fx, handle, () => true, 'started');
  while ((await hoursSinceStart(handle)) < 70) await fx.env.sleep('1 hour');
  // WeChat Pay fails from hour 70; the user signs at hour 73, after the 72-hour deadline, while polls still fail.
  await fx.sandbox.control.injectFault({ endpoint: 'contract-query', kind: 503, count: 10_000 });
  while ((await hoursSinceStart(handle)) < 73) await fx.env.sleep('30 minutes');
  const waiting = await handle.query(statusQuery);
  expect(waiting.phase).toBe('AWAITING_SIGNATURE');
  expect(waiting.alerts).toEqual([expect.objectContaining({ key: 'signing', errorClass: 'SERVER_ERROR' })]);
  await fx.sandbox.control.authorizeContract(plan.outContractCode);
  await fx.sandbox.control.clearFaults();
  // The first verified answer after the deadline decides: signed.
  const status = await simulateLender(fx, handle);
  expect(status.phase).toBe('COMPLETED');
  expect(status.signed).toBe(true);
  expect(await fx.calls(plan, 'terminate')).toHaveLength(0);
}, 120_000);

it('a missing result past the grace period raises an alert; the late result settles it', async () => {
  const plan = await fx.newContract('EVILATE', { installments: 1, firstInDays: 5 });
  const handle = await fx.start(plan);
  const due = await waitForStatus(fx, handle, (s) => s.installments[0]!.state === 'DUE', 'due', '6 hours');
  const id = due.installments[0]!.outRecordId;
  const overdue = await waitForStatus(fx, handle, (s) => s.alerts.length > 0, 'an alert', '12 hours');
  expect(overdue.alerts).toEqual([expect.objectContaining({ key: `result:${id}`, kind: 'RESULT_OVERDUE' })]);
  expect(overdue.phase).toBe('MONITORING');
  // Arrives after 7 days (late), through the update: accepted, settles the installment, clears the alert.
  const settled = await handle.executeUpdate(reportRepaymentResultUpdate, {
    args: [{ outRecordId: id, outcome: 'SUCCESS', amount: '100000' }],
  });
  expect(settled.installments[0]!.state).toBe('SETTLED');
  expect(settled.alerts).toEqual([]);
  expect((await handle.result()).phase).toBe('COMPLETED');
  expect(await fx.calls(plan, 'terminate')).toHaveLength(0);
  await maybeRecordHistory(handle);
});

it('refuses a result naming a wrong outRecordId (update), and counts one sent by signal', async () => {
  const plan = await fx.newContract('EVIWRONGID', { installments: 2, firstInDays: 5 });
  const handle = await fx.start(plan);
  await waitForStatus(fx, handle, (s) => s.installments[0]!.state === 'SCHEDULED', 'scheduled');
  const refused = await handle
    .executeUpdate(reportRepaymentResultUpdate, { args: [{ outRecordId: 'RNOSUCHRECORD', outcome: 'SUCCESS' }] })
    .then(
      () => undefined,
      (error: unknown) => error,
    );
  expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
  expect(String((refused as WorkflowUpdateFailedError).cause?.message)).toMatch(/RNOSUCHRECORD/);
  // Through the lender's client: the same refusal as a PlanValidationError naming the field.
  const client = new RepaymentClient(fx.env.client, { taskQueue: 'unused', compensationTaskQueue: 'unused' });
  await expect(
    client.reportRepaymentResult(plan.outContractCode, { outRecordId: 'RNOSUCHRECORD', outcome: 'FAILED' }),
  ).rejects.toThrow(PlanValidationError);
  const id = (await handle.query(statusQuery)).installments[0]!.outRecordId;
  await expect(
    client.reportRepaymentResult(plan.outContractCode, { outRecordId: id, outcome: 'SUCCESS', amount: '999999999' }),
  ).rejects.toThrow(/amount: must not exceed/);
  await handle.signal(repaymentResultSignal, { outRecordId: 'RNOSUCHRECORD', outcome: 'FAILED' });
  const status = await waitForStatus(fx, handle, (s) => s.rejectedResults === 1, 'the signal counted', '1 minute');
  expect(status.installments[0]!.state).toBe('SCHEDULED');
  // The same result twice is one result (a lender's retry).
  await client.reportRepaymentResult(plan.outContractCode, { outRecordId: id, outcome: 'SUCCESS' });
  const again = await client.reportRepaymentResult(plan.outContractCode, { outRecordId: id, outcome: 'SUCCESS' });
  expect(again.installments[0]!.state).toBe('SETTLED');
  await expect(
    client.reportRepaymentResult(plan.outContractCode, { outRecordId: id, outcome: 'FAILED' }),
  ).rejects.toThrow(/already SETTLED/);
  expect(await fx.calls(plan, 'terminate')).toHaveLength(0);
  await handle.signal(cancelSignal, { reason: 'test over' });
  expect((await handle.result()).phase).toBe('CANCELLED');
});

it('creates a record again when WeChat Pay verifiably no longer holds it (RESOURCE_NOT_EXISTS)', async () => {
  const plan = await fx.newContract('EVIGONE', { installments: 2, firstInDays: 5 });
  const handle = await fx.start(plan);
  const scheduled = await waitForStatus(fx, handle, (s) => s.installments[0]!.state === 'SCHEDULED', 'scheduled');
  const id = scheduled.installments[0]!.outRecordId;
  await fx.sandbox.control.deleteRecord(id);
  const status = await simulateLender(fx, handle);
  expect(status.phase).toBe('COMPLETED');
  const creates = (await fx.calls(plan, 'schedule-create')).filter((c) => JSON.stringify(c.body).includes(id));
  expect(creates.map((c) => c.status)).toEqual([200, 200]);
  expect(await fx.sandbox.control.listRecords(plan.contractId)).toHaveLength(2);
  expect(await fx.calls(plan, 'terminate')).toHaveLength(0);
  await maybeRecordHistory(handle);
});

it('a record changed at WeChat Pay raises an alert; an operator decides to terminate', async () => {
  const plan = await fx.newContract('EVIMISMATCH', { installments: 2, firstInDays: 5 });
  const handle = await fx.start(plan);
  const scheduled = await waitForStatus(fx, handle, (s) => s.installments[0]!.state === 'SCHEDULED', 'scheduled');
  const id = scheduled.installments[0]!.outRecordId;
  await fx.sandbox.control.changeRecord(id, { repayment_amount: '99999' });
  const alerted = await waitForStatus(fx, handle, (s) => s.alerts.length > 0, 'an alert', '2 hours');
  expect(alerted.alerts).toEqual([expect.objectContaining({ key: `poll:${id}`, kind: 'RECORD_MISMATCH' })]);
  expect(alerted.phase).toBe('MONITORING');
  // The validator names what is wrong before anything enters history.
  await expect(handle.executeUpdate(resolveAlertUpdate, { args: [{ action: 'terminate' }] })).rejects.toBeInstanceOf(
    WorkflowUpdateFailedError,
  );
  await handle.executeUpdate(resolveAlertUpdate, {
    args: [{ alert: `poll:${id}`, action: 'terminate', reason: 'amount changed outside our system' }],
  });
  const result = await expectEndedOnce(fx, plan, handle, 'TERMINATED', /amount changed outside/);
  expect(result.evidence).toBe('OPERATOR');
  await maybeRecordHistory(handle);
});

it('a verified refusal of the create is evidence: the contract is terminated as the policy says', async () => {
  const plan = await fx.newContract('EVIREFUSED', { installments: 2, firstInDays: 5 });
  // The sandbox holds the contract with another openid: WeChat Pay refuses the create with a signed 400.
  plan.openid = 'oUpF8uMuAJO_someoneelse';
  const handle = await fx.start(plan);
  const result = await expectEndedOnce(fx, plan, handle, 'TERMINATED', /refused the schedule record \(INVALID_REQUEST/);
  expect(result.evidence).toBe('SCHEDULE_REFUSED');
  expect(await fx.calls(plan, 'schedule-create')).toHaveLength(1);
  // Checked first: the record is not at WeChat Pay (the refusal is not a "duplicate" of our own create).
  expect(await fx.calls(plan, 'schedule-query')).toHaveLength(1);
  await maybeRecordHistory(handle);
});

it('a contract the user terminated ends its lifecycle without a terminate request', async () => {
  const plan = await fx.newContract('EVIUSER', { installments: 2, firstInDays: 5, signature: 'poll' });
  const handle = await fx.start(plan, { contractCheckIntervalMinutes: 60 });
  await waitForStatus(fx, handle, (s) => s.installments[0]!.state === 'SCHEDULED', 'scheduled');
  await fx.sandbox.control.terminateAsUser(plan.outContractCode);
  const result = await handle.result();
  expect(result).toMatchObject({ phase: 'TERMINATED', evidence: 'USER_TERMINATED' });
  expect(result.termination?.alreadyTerminated).toBe(true);
  expect(await fx.calls(plan, 'terminate')).toHaveLength(0);
  await maybeRecordHistory(handle);
});

it('a Temporal cancel while terminating does not send a second terminate', async () => {
  const plan = await fx.newContract('EVICANCELTWICE', { installments: 1, firstInDays: 5 });
  const handle = await fx.start(plan);
  await waitForPhase(fx, handle, ['MONITORING']);
  // The terminate call is executed, then its answer is held back: the lifecycle sits in TERMINATING meanwhile.
  await fx.sandbox.control.injectFault({ endpoint: 'terminate', kind: 'slow', count: 1, delayMs: 3000 });
  await handle.signal(cancelSignal, { reason: 'loan sold' });
  await waitForPhase(fx, handle, ['TERMINATING'], '1 second', 100);
  await handle.cancel();
  const result = await handle.result();
  expect(result.phase).toBe('CANCELLED');
  expect(await fx.calls(plan, 'terminate')).toHaveLength(1);
});

it('a lifecycle that failed can be started again for the same contract; a finished one cannot', async () => {
  const plan = await fx.newContract('EVIRESTART', { installments: 1, firstInDays: 5 });
  const client = new RepaymentClient(fx.env.client, {
    taskQueue: 'lifecycle-test',
    compensationTaskQueue: 'lifecycle-test-compensation',
    now: () => Date.now(),
  });
  const first = await client.startLifecycle(plan);
  const firstHandle = fx.env.client.workflow.getHandle<typeof repaymentLifecycle>(first.workflowId);
  // (Quiet first: the Java test server never releases time skipping for an activity cut off by a terminate.)
  await waitForStatus(fx, firstHandle, (s) => s.installments[0]!.state === 'SCHEDULED', 'scheduled');
  // An operator ends the run through Temporal (a stuck run, a deployment gone wrong): FAILED-like, restartable.
  await firstHandle.terminate('operator: redeploying');
  const second = await client.startLifecycle(plan);
  expect(second.alreadyStarted).toBe(false);
  expect(second.runId).not.toBe(first.runId);
  const handle = fx.env.client.workflow.getHandle<typeof repaymentLifecycle>(second.workflowId);
  expect((await simulateLender(fx, handle)).phase).toBe('COMPLETED');
  const third = await client.startLifecycle(plan);
  expect(third).toMatchObject({ alreadyStarted: true, runId: second.runId });
});
