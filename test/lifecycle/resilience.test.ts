import type { FaultInput } from '../../src/sandbox';
import { cancelSignal } from '../../src/workflows/definitions';
import { createLifecycleFixture, simulateLender, waitForPhase, type LifecycleFixture } from './fixture';

/** Faults the lifecycle must ride out without failing, and answers it must never trust. */

let fx: LifecycleFixture;
beforeAll(async () => {
  fx = await createLifecycleFixture();
}, 120_000);
afterEach(async () => fx?.cleanUp());
afterAll(async () => fx?.teardown(), 60_000);

const inject = (fault: FaultInput) => fx.sandbox.control.injectFault(fault);

it('recovers from 5xx bursts and 429s without failing the lifecycle', async () => {
  const plan = await fx.newContract('RESIL5XX', { installments: 2, firstInDays: 5, signature: 'poll' });
  await inject({ endpoint: 'contract-query', kind: 503, count: 3 });
  await inject({ endpoint: 'schedule-create', kind: 500, count: 3 });
  await inject({ endpoint: 'schedule-query', kind: 429, count: 3 });
  const handle = await fx.start(plan);
  const status = await simulateLender(fx, handle);
  expect(status.phase).toBe('COMPLETED');
  expect(status.installments.map((i) => i.state)).toEqual(['SETTLED', 'SETTLED']);
  expect(await fx.calls(plan, 'terminate')).toHaveLength(0);
  // Every injected fault was really answered to this lifecycle.
  const faulted = (await fx.calls(plan)).filter((call) => call.fault !== undefined);
  expect(faulted.map((call) => `${call.endpoint}:${call.status}`).sort()).toEqual(
    [
      ...Array(3).fill('contract-query:503'),
      ...Array(3).fill('schedule-create:500'),
      ...Array(3).fill('schedule-query:429'),
    ].sort(),
  );
  // Retried with the same out_record_id: one record per installment, never a twin.
  expect(await fx.sandbox.control.listRecords(plan.contractId)).toHaveLength(2);
});

it('rides out an outage of the primary domain on the backup', async () => {
  const plan = await fx.newContract('RESILDOWN', { installments: 2, firstInDays: 5, signature: 'poll' });
  await fx.sandbox.control.setPrimaryDown(true);
  try {
    const handle = await fx.start(plan);
    const status = await simulateLender(fx, handle);
    expect(status.phase).toBe('COMPLETED');
  } finally {
    await fx.sandbox.control.setPrimaryDown(false);
  }
  const calls = await fx.calls(plan);
  expect(calls.length).toBeGreaterThan(4);
  // The primary refused connections, so everything that reached the sandbox came in on the backup.
  expect(calls.every((call) => call.listener === 'backup')).toBe(true);
  expect(await fx.calls(plan, 'terminate')).toHaveLength(0);
});

it('never acts on an answer that fails verification', async () => {
  // The contract IS authorized: trusting the first (tampered) signing answer would start scheduling at once.
  const plan = await fx.newContract('RESILTAMPER', { installments: 1, firstInDays: 5, signature: 'poll' });
  await inject({ endpoint: 'contract-query', kind: 'tampered', count: 1 });
  await inject({ endpoint: 'contract-query', kind: 'signtest', count: 1 });
  // A tampered create answer: executed, but the outcome is unknown until a trusted answer says so.
  await inject({ endpoint: 'schedule-create', kind: 'tampered', count: 1 });
  // A stale (replayable) answer to the first record query.
  await inject({ endpoint: 'schedule-query', kind: 'stale', count: 1 });
  const handle = await fx.start(plan);
  const status = await simulateLender(fx, handle);
  expect(status.phase).toBe('COMPLETED');
  expect(await fx.calls(plan, 'terminate')).toHaveLength(0);

  const calls = await fx.calls(plan);
  const signing = calls.filter((call) => call.endpoint === 'contract-query');
  // (Later clean ones are the daily contract checks.)
  expect(signing.slice(0, 3).map((call) => call.fault ?? 'clean')).toEqual(['tampered', 'signtest', 'clean']);
  // Scheduling began only after the first answer that could be verified.
  const firstCreate = calls.find((call) => call.endpoint === 'schedule-create');
  expect(firstCreate!.seq).toBeGreaterThan(signing[2]!.seq);
  // The tampered create's outcome was unknown: the retry asked first (a verified query found the record) and
  // never sent the create again.
  const creates = calls.filter((call) => call.endpoint === 'schedule-create');
  expect(creates.map((call) => `${call.status}:${call.fault ?? 'clean'}`)).toEqual(['200:tampered']);
  // The reconciling query's first answer was stale (replayable): retried, and only the fresh one was used.
  const queries = calls.filter((call) => call.endpoint === 'schedule-query');
  expect(queries.slice(0, 2).map((call) => `${call.status}:${call.fault ?? 'clean'}`)).toEqual([
    '200:stale',
    '200:clean',
  ]);
  expect(queries[0]!.seq).toBeGreaterThan(creates[0]!.seq);
  expect(await fx.sandbox.control.listRecords(plan.contractId)).toHaveLength(1);
});

it('neither acts on nor terminates over signing answers that keep failing verification', async () => {
  const plan = await fx.newContract('RESILFORGED', { installments: 1, firstInDays: 5, signature: 'poll' });
  // Three answers in a row that do not verify (a platform key rotation, a proxy rewriting Wechatpay-Serial).
  await inject({ endpoint: 'contract-query', kind: 'tampered', count: 3 });
  const handle = await fx.start(plan);
  const status = await simulateLender(fx, handle);
  expect(status.phase).toBe('COMPLETED');
  expect(await fx.calls(plan, 'terminate')).toHaveLength(0);
  const calls = await fx.calls(plan);
  const signing = calls.filter((call) => call.endpoint === 'contract-query');
  expect(signing.slice(0, 4).map((call) => call.fault ?? 'clean')).toEqual([
    'tampered',
    'tampered',
    'tampered',
    'clean',
  ]);
  // Scheduling began only after the first answer that verified.
  const firstCreate = calls.find((call) => call.endpoint === 'schedule-create');
  expect(firstCreate!.seq).toBeGreaterThan(signing[3]!.seq);
});

it('retries the termination through 5xx answers until it goes through, once', async () => {
  const plan = await fx.newContract('RESILTERM', { installments: 1, firstInDays: 5 });
  const handle = await fx.start(plan);
  await waitForPhase(fx, handle, ['MONITORING']);
  await inject({ endpoint: 'terminate', kind: 503, count: 4 });
  await handle.signal(cancelSignal, { reason: 'loan sold' });
  const result = await handle.result();
  expect(result).toMatchObject({ phase: 'CANCELLED', cancelReason: 'loan sold' });
  expect(result.termination?.alreadyTerminated).toBe(false);
  const terminations = await fx.calls(plan, 'terminate');
  expect(terminations.filter((call) => call.fault === 503)).toHaveLength(4);
  // Refused answers were not executed: exactly one termination went through.
  expect(terminations.filter((call) => call.status === 200)).toHaveLength(1);
  expect(await fx.sandbox.control.getContract(plan.outContractCode)).toMatchObject({
    state: 'TERMINATED',
    termination_mode: 'BY_MERCHANT',
    termination_remark: result.termination?.remark,
  });
});

it('confirms a terminate whose answer was lost with the signing query, and never sends it again', async () => {
  // Signed before the start (mode none): the lifecycle asks the signing query once before terminating, so that a
  // lost answer can be confirmed ("no longer authorized") rather than the terminate sent again.
  const plan = await fx.newContract('RESILTERMLOST', { installments: 1, firstInDays: 20 });
  const handle = await fx.start(plan);
  await waitForPhase(fx, handle, ['MONITORING']);
  await inject({ endpoint: 'terminate', kind: 'reset', count: 1 });
  await handle.signal(cancelSignal, { reason: 'loan sold' });
  const result = await handle.result();
  expect(result).toMatchObject({ phase: 'CANCELLED', cancelReason: 'loan sold' });
  const terminations = await fx.calls(plan, 'terminate');
  expect(terminations.map((call) => `${call.status}:${call.fault ?? 'clean'}`)).toEqual(['200:reset']);
  const checks = (await fx.calls(plan, 'contract-query')).map((call) => call.seq);
  expect(checks.filter((seq) => seq < terminations[0]!.seq).length).toBeGreaterThan(0);
  expect(checks.filter((seq) => seq > terminations[0]!.seq).length).toBeGreaterThan(0);
  expect(await fx.sandbox.control.getContract(plan.outContractCode)).toMatchObject({ state: 'TERMINATED' });
});
