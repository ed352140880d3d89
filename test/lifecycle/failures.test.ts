import type { WorkflowHandle } from '@temporalio/client';
import type { repaymentLifecycle } from '../../src/workflows';
import { cancelSignal, statusQuery } from '../../src/workflows/definitions';
import {
  createLifecycleFixture,
  expectEndedOnce,
  simulateLender,
  waitForPhase,
  type LifecycleFixture,
} from './fixture';

/**
 * The lender's and the user's evidence, and cancel in every phase: each ends with exactly one terminate call in the
 * sandbox's request log and the reason in `status`. (WeChat Pay's own evidence and everything that is not evidence:
 * evidence.test.ts and infrastructure.test.ts; cancel while a create is in flight: cancelInFlight.test.ts.)
 */

let fx: LifecycleFixture;
beforeAll(async () => {
  fx = await createLifecycleFixture();
}, 120_000);
afterEach(async () => fx?.cleanUp());
afterAll(async () => fx?.teardown(), 60_000);

type Handle = WorkflowHandle<typeof repaymentLifecycle>;

/** Skips time until the first installment is scheduled (its window is open and the create went through). */
async function untilScheduled(handle: Handle) {
  for (let i = 0; i < 100; i++) {
    const status = await handle.query(statusQuery);
    if (status.installments[0]!.state !== 'WAITING') return status;
    await fx.env.sleep('1 hour');
  }
  throw new Error('never scheduled');
}

it('a failed repayment terminates the contract when the policy says so', async () => {
  const plan = await fx.newContract('FAILPAY', { installments: 2, firstInDays: 5 });
  const handle = await fx.start(plan);
  const status = await simulateLender(fx, handle, () => 'FAILED');
  expect(status.installments.map((i) => i.state)).toEqual(['FAILED', 'WAITING']);
  const result = await expectEndedOnce(fx, plan, handle, 'TERMINATED', /repayment failed/);
  expect(result.evidence).toBe('REPAYMENT_FAILED');
});

it('a failed repayment does not terminate when the policy says continue', async () => {
  const plan = await fx.newContract('FAILPAYOK', { installments: 2, firstInDays: 5, everyDays: 5 });
  const handle = await fx.start(plan, { onRepaymentFailed: 'continue' });
  const status = await simulateLender(fx, handle, (_, index) => (index === 0 ? 'FAILED' : 'SUCCESS'));
  expect(status.phase).toBe('COMPLETED');
  expect(status.installments.map((i) => i.state)).toEqual(['FAILED', 'SETTLED']);
  expect(await fx.calls(plan, 'terminate')).toHaveLength(0);
});

it('a contract not signed before the deadline is terminated', async () => {
  const plan = await fx.newContract('FAILSIGN', { installments: 1, signature: 'poll', authorized: false });
  // Hourly signing polls: the default (5 minutes) would make ~900 polls in 72 hours.
  const handle = await fx.start(plan, { signingPollIntervalSeconds: 3600 });
  const result = await expectEndedOnce(fx, plan, handle, 'TERMINATED', /not signed within 72 hours/);
  expect(result).toMatchObject({ signed: false, evidence: 'NOT_SIGNED' });
  expect(result.termination?.alreadyTerminated).toBe(false);
  expect((await fx.calls(plan, 'contract-query')).length).toBeGreaterThanOrEqual(72);
  expect(await fx.calls(plan, 'schedule-create')).toHaveLength(0);
  expect((await fx.sandbox.control.getContract(plan.outContractCode)).state).toBe('TERMINATED');
});

it('a contract terminated by the user counts as terminated ("already terminated" is success)', async () => {
  const plan = await fx.newContract('FAILUSER', { installments: 2, firstInDays: 5 });
  const handle = await fx.start(plan);
  await untilScheduled(handle);
  await fx.sandbox.control.terminateAsUser(plan.outContractCode);
  await handle.signal(cancelSignal, { reason: 'user ended the contract' });
  const result = await expectEndedOnce(fx, plan, handle, 'CANCELLED', /user ended/);
  expect(result.termination?.alreadyTerminated).toBe(true);
});

describe('cancel works in every phase', () => {
  it('AWAITING_SIGNATURE', async () => {
    const plan = await fx.newContract('CANCELSIGN', { installments: 1, signature: 'signal', authorized: false });
    const handle = await fx.start(plan);
    await waitForPhase(fx, handle, ['AWAITING_SIGNATURE']);
    await handle.signal(cancelSignal, { reason: 'borrower withdrew' });
    await expectEndedOnce(fx, plan, handle, 'CANCELLED', /borrower withdrew/);
    expect(await fx.calls(plan, 'schedule-create')).toHaveLength(0);
  });

  it('MONITORING', async () => {
    const plan = await fx.newContract('CANCELMON', { installments: 2, firstInDays: 5 });
    const handle = await fx.start(plan);
    await untilScheduled(handle);
    expect((await handle.query(statusQuery)).phase).toBe('MONITORING');
    await handle.signal(cancelSignal, { reason: 'repaid early offline' });
    await expectEndedOnce(fx, plan, handle, 'CANCELLED', /repaid early/);
  });

  it('MONITORING, through a Temporal cancel request (Web UI Cancel, temporal workflow cancel)', async () => {
    const plan = await fx.newContract('CANCELTEMPORAL', { installments: 2, firstInDays: 5 });
    const handle = await fx.start(plan);
    await untilScheduled(handle);
    await handle.cancel();
    await expectEndedOnce(fx, plan, handle, 'CANCELLED', /cancel requested through Temporal/);
  });
});
