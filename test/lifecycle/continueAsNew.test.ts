import { OutContractCode, RepaymentPhase } from '../../src/domain/searchAttributes';
import { createLifecycleFixture, simulateLender, type LifecycleFixture } from './fixture';
import { maybeRecordHistory } from './recordHistory';

let fx: LifecycleFixture;
beforeAll(async () => {
  fx = await createLifecycleFixture();
}, 120_000);
afterEach(async () => fx?.cleanUp());
afterAll(async () => fx?.teardown(), 60_000);

it('continues a 36-installment contract as new, carrying its state, and completes', async () => {
  const plan = await fx.newContract('LONG36', { installments: 36, signature: 'none' });
  // A low threshold makes the carried state cross several runs; polls every 3 days keep the test short.
  const handle = await fx.start(plan, { continueAsNewAfterEvents: 600, pollIntervalHours: 72 });
  const status = await simulateLender(fx, handle);
  expect(status.phase).toBe('COMPLETED');
  expect(status.continuedAsNewCount).toBeGreaterThanOrEqual(1);
  expect(status.installments).toHaveLength(36);
  // State from earlier runs was carried: every installment kept its polls and its result.
  expect(status.installments.every((i) => i.state === 'SETTLED' && i.pollCount > 0 && i.result)).toBe(true);
  expect(await fx.calls(plan, 'schedule-create')).toHaveLength(36);
  expect(await fx.sandbox.control.listRecords(plan.contractId)).toHaveLength(36);
  expect(await fx.calls(plan, 'terminate')).toHaveLength(0);

  const latest = fx.env.client.workflow.getHandle(handle.workflowId);
  const described = await latest.describe();
  expect(described.runId).not.toBe(handle.firstExecutionRunId);
  expect(described.typedSearchAttributes.get(RepaymentPhase)).toBe('COMPLETED');
  expect(described.typedSearchAttributes.get(OutContractCode)).toBe(plan.outContractCode);
  // Each run stays under the threshold (plus the few events of its last workflow task).
  expect((await latest.fetchHistory()).events!.length).toBeLessThan(700);
  await maybeRecordHistory(latest);
}, 240_000);
