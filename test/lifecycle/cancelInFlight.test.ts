import { cancelSignal, contractSignedSignal } from '../../src/workflows/definitions';
import { createLifecycleFixture, expectEndedOnce, waitForPhase, type LifecycleFixture } from './fixture';

/**
 * Cancel in the SCHEDULING phase, while a create is in flight. Its own file (own time-skipping server): the
 * lifecycle closes while the create's HTTP call is still running, and the Java test server then never releases
 * the time-skipping lock that activity held (temporalio/sdk-java#1138), so every later skip in the same server
 * would run in real time.
 */

let fx: LifecycleFixture;
beforeAll(async () => {
  fx = await createLifecycleFixture();
}, 120_000);
afterEach(async () => fx?.cleanUp());
afterAll(async () => fx?.teardown(), 60_000);

it('cancels in SCHEDULING: the in-flight create is cancelled, then the contract is terminated once', async () => {
  const plan = await fx.newContract('CANCELSCHED', { installments: 1, firstInDays: 3, signature: 'signal' });
  // The create is executed, but its answer is held back for 3 s (within the client's 10 s timeout).
  await fx.sandbox.control.injectFault({ endpoint: 'schedule-create', kind: 'slow', count: 1, delayMs: 3000 });
  const handle = await fx.start(plan);
  await handle.signal(contractSignedSignal, {});
  const scheduling = await waitForPhase(fx, handle, ['SCHEDULING'], 100);
  expect(scheduling.installments[0]!.state).toBe('WAITING');
  await handle.signal(cancelSignal, { reason: 'lender stopped the loan' });
  const result = await expectEndedOnce(fx, plan, handle, 'CANCELLED', /lender stopped/);
  // The lifecycle did not wait for the held-back answer: the installment was never marked scheduled.
  expect(result.installments[0]!.state).toBe('WAITING');
  expect(await fx.calls(plan, 'schedule-create')).toHaveLength(1);
});
