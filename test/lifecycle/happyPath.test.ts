import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { RepaymentPhase } from '../../src/domain/searchAttributes';
import {
  INVALID_MODIFICATION,
  cancelSignal,
  compensationBillReportedSignal,
  modifyPlanUpdate,
  statusQuery,
} from '../../src/workflows/definitions';
import { createLifecycleFixture, expectEndedOnce, simulateLender, type LifecycleFixture } from './fixture';
import { maybeRecordHistory } from './recordHistory';

let fx: LifecycleFixture;
beforeAll(async () => {
  fx = await createLifecycleFixture();
}, 120_000);
afterEach(async () => fx?.cleanUp());
afterAll(async () => fx?.teardown(), 60_000);

it('runs a 12-installment contract through months of skipped time to COMPLETED', async () => {
  const plan = await fx.newContract('HAPPY12', { installments: 12, signature: 'poll' });
  const handle = await fx.start(plan);

  // The same contract cannot be started twice: the workflow id is derived from the contract code.
  await expect(fx.start(plan)).rejects.toBeInstanceOf(WorkflowExecutionAlreadyStartedError);

  const status = await simulateLender(fx, handle);
  expect(status.phase).toBe('COMPLETED');
  expect(status.installments.map((i) => i.state)).toEqual(Array(12).fill('SETTLED'));
  expect(status.installments.every((i) => i.lastPollResult === 'MATCHES' && i.pollCount > 0)).toBe(true);
  expect(await handle.result()).toMatchObject({ phase: 'COMPLETED' });

  const creates = await fx.calls(plan, 'schedule-create');
  expect(creates).toHaveLength(12);
  expect(await fx.calls(plan, 'terminate')).toHaveLength(0);
  const described = await handle.describe();
  expect(described.typedSearchAttributes.get(RepaymentPhase)).toBe('COMPLETED');

  const history = await handle.fetchHistory();
  const all = await fx.calls(plan);
  // Numbers for the report: history size and API calls of one 12-installment lifecycle.
  const perEndpoint = new Map<string, number>();
  for (const call of all) perEndpoint.set(call.endpoint, (perEndpoint.get(call.endpoint) ?? 0) + 1);
  const byEndpoint = [...perEndpoint].map(([endpoint, count]) => `${endpoint} ${count}`).join(', ');
  console.log(
    `12-installment lifecycle: ${history.events?.length} history events, ${all.length} API calls (${byEndpoint})`,
  );
  await maybeRecordHistory(handle);
}, 180_000);

it('fails a bad plan at start, naming the field, before any API call', async () => {
  const plan = await fx.newContract('BADPLAN1');
  plan.installments[1]!.repaymentAmount = '12.50';
  const handle = await fx.start(plan);
  const error = await handle.result().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WorkflowFailedError);
  const cause = (error as WorkflowFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  expect((cause as ApplicationFailure).type).toBe('InvalidPlan');
  expect(cause?.message).toContain('installments[1].repaymentAmount: must be a positive integer amount in fen');
  expect(await fx.calls(plan)).toHaveLength(0);
});

/** The validator's ApplicationFailure behind a rejected update. */
async function updateRejection(update: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await update.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WorkflowUpdateFailedError);
  const cause = (error as WorkflowUpdateFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return cause as ApplicationFailure;
}

it('takes plan changes through a validated update and tracks a compensation bill to its final state', async () => {
  const plan = await fx.newContract('MODIFY1', { installments: 2, firstInDays: 40 });
  const handle = await fx.start(plan);
  const before = await handle.query(statusQuery);

  // Rejected by the validator: never enters history.
  const badAmount = await updateRejection(
    handle.executeUpdate(modifyPlanUpdate, {
      args: [{ add: [{ repaymentAmount: '-1', minRepaymentAmount: '1', repaymentDate: '2099-01-01' }] }],
    }),
  );
  expect(badAmount.type).toBe(INVALID_MODIFICATION);
  expect(badAmount.message).toContain('add[0].repaymentAmount: must be a positive integer amount in fen');
  const clash = await updateRejection(
    handle.executeUpdate(modifyPlanUpdate, {
      args: [
        {
          reschedule: [
            { outRecordId: before.installments[0]!.outRecordId, repaymentDate: before.installments[1]!.repaymentDate },
          ],
        },
      ],
    }),
  );
  expect(clash.message).toMatch(/must differ from the date/);
  const eventsAfterRejections = (await handle.fetchHistory()).events ?? [];
  expect(eventsAfterRejections.some((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toBe(false);

  const last = before.installments[1]!.repaymentDate;
  const added = await handle.executeUpdate(modifyPlanUpdate, {
    args: [
      {
        add: [
          {
            repaymentAmount: '30000',
            minRepaymentAmount: '1500',
            repaymentDate: `${Number(last.slice(0, 4)) + 1}${last.slice(4)}`,
          },
        ],
      },
    ],
  });
  expect(added.installments).toHaveLength(3);
  expect(added.installments[2]!.state).toBe('WAITING');

  await fx.sandbox.control.createBill({ outBillNo: 'BILLMODIFY1', amount: 500, state: 'ACCEPTED' });
  await handle.signal(compensationBillReportedSignal, { outBillNo: 'BILLMODIFY1' });
  await fx.env.sleep('20 minutes');
  expect((await handle.query(statusQuery)).compensationBills[0]).toMatchObject({
    outBillNo: 'BILLMODIFY1',
    state: 'TRACKING',
  });
  await fx.sandbox.control.setBillState('BILLMODIFY1', 'SUCCESS');
  await fx.env.sleep('20 minutes');
  expect((await handle.query(statusQuery)).compensationBills[0]).toMatchObject({
    outBillNo: 'BILLMODIFY1',
    state: 'SUCCESS',
  });

  // Tracked through the rate-limited compensation queue: at least one ACCEPTED and one SUCCESS answer.
  expect((await fx.sandbox.control.requestLog('compensation-query')).length).toBeGreaterThanOrEqual(2);

  await handle.signal(cancelSignal, { reason: 'test over' });
  await expectEndedOnce(fx, plan, handle, 'CANCELLED', /test over/);
  await maybeRecordHistory(handle);
  await maybeRecordHistory(fx.env.client.workflow.getHandle(`${handle.workflowId}-bill-BILLMODIFY1`));
});
