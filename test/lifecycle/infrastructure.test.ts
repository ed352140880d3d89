import type { WorkflowHandle } from '@temporalio/client';
import { RepaymentAlert } from '../../src/domain/searchAttributes';
import type { EndpointName, FaultKind } from '../../src/sandbox';
import type { repaymentLifecycle } from '../../src/workflows';
import { statusQuery } from '../../src/workflows/definitions';
import { useLifecycleFixture, simulateLender, waitForStatus, type LifecycleFixture } from './fixture';
import { maybeRecordHistory } from './recordHistory';

/**
 * Infrastructure is never evidence (issue 11): each fault below used to end a healthy contract in TERMINATED.
 * Now each one is retried, becomes an alert once it has lasted past the threshold (30 minutes), and clears by
 * itself when the fault does; the contract stays in force at WeChat Pay and the lifecycle completes.
 */

const fixture = useLifecycleFixture();
let fx: LifecycleFixture;
beforeAll(() => {
  fx = fixture();
});

type Handle = WorkflowHandle<typeof repaymentLifecycle>;

interface Case {
  name: string;
  code: string;
  endpoint: EndpointName;
  kind: FaultKind;
  /** When the fault starts: before the lifecycle (signing, create) or once the record is scheduled (poll). */
  from: 'start' | 'scheduled';
  alert: string;
  errorClass: string;
}

const cases: Case[] = [
  {
    name: '429 FREQUENCY_LIMITED answers in a row on batch-create (a rate-limit burst)',
    code: 'INFRA429',
    endpoint: 'schedule-create',
    kind: 429,
    from: 'start',
    alert: 'create',
    errorClass: 'RATE_LIMITED',
  },
  {
    name: 'poll answers that fail verification (a key rotation, a proxy)',
    code: 'INFRATAMPERPOLL',
    endpoint: 'schedule-query',
    kind: 'tampered',
    from: 'scheduled',
    alert: 'poll',
    errorClass: 'UNVERIFIED',
  },
  {
    name: 'signing-query answers that fail verification',
    code: 'INFRATAMPERSIGN',
    endpoint: 'contract-query',
    kind: 'tampered',
    from: 'start',
    alert: 'signing',
    errorClass: 'UNVERIFIED',
  },
  {
    name: "an unsigned HTML 404 from a proxy on the record query (not WeChat Pay's word)",
    code: 'INFRAHTML404',
    endpoint: 'schedule-query',
    kind: 'html-404',
    from: 'scheduled',
    alert: 'poll',
    errorClass: 'UNVERIFIED',
  },
  {
    name: 'a 404 whose signature does not verify on the record query',
    code: 'INFRABADSIG404',
    endpoint: 'schedule-query',
    kind: 'bad-signature-404',
    from: 'scheduled',
    alert: 'poll',
    errorClass: 'UNVERIFIED',
  },
  {
    name: '401 SIGN_ERROR (our clock drifted, or the merchant serial is being rotated)',
    code: 'INFRA401',
    endpoint: 'schedule-query',
    kind: 401,
    from: 'scheduled',
    alert: 'poll',
    errorClass: 'AUTH',
  },
  {
    name: 'a 5xx outage longer than every retry budget',
    code: 'INFRA500',
    endpoint: 'schedule-query',
    kind: 500,
    from: 'scheduled',
    alert: 'poll',
    errorClass: 'SERVER_ERROR',
  },
];

async function alertAttribute(handle: Handle): Promise<string | undefined> {
  return (await handle.describe()).typedSearchAttributes.get(RepaymentAlert);
}

it.each(cases)('rides out $name: alert past the threshold, no termination, completes', async (c) => {
  const signature = c.endpoint === 'contract-query' ? 'poll' : 'none';
  const plan = await fx.newContract(c.code, { installments: 2, firstInDays: 5, everyDays: 7, signature });
  const fault = { endpoint: c.endpoint, kind: c.kind, count: 10_000 };
  if (c.from === 'start') await fx.sandbox.control.injectFault(fault);
  const handle = await fx.start(plan);
  if (c.from === 'scheduled') {
    await waitForStatus(fx, handle, (s) => s.installments[0]!.state === 'SCHEDULED', 'first record scheduled');
    await fx.sandbox.control.injectFault(fault);
  }

  const alerted = await waitForStatus(fx, handle, (s) => s.alerts.length > 0, 'an alert');
  const key = c.alert === 'signing' ? 'signing' : `${c.alert}:${alerted.installments[0]!.outRecordId}`;
  expect(alerted.alerts).toEqual([expect.objectContaining({ key, kind: 'INFRASTRUCTURE', errorClass: c.errorClass })]);
  const alert = alerted.alerts[0]!;
  // Raised only once the step had been failing for the threshold (30 minutes), and retried meanwhile.
  expect(Date.parse(alert.raisedAt!) - Date.parse(alert.since)).toBeGreaterThanOrEqual(30 * 60_000);
  expect(alert.failures).toBeGreaterThan(1);
  expect(alerted.phase).not.toMatch(/TERMINAT/);
  expect(await alertAttribute(handle)).toBe(`${c.alert}:${c.errorClass}`);
  expect((await fx.sandbox.control.getContract(plan.outContractCode)).state).toBe('AUTHORIZED');
  expect(await fx.calls(plan, 'terminate')).toHaveLength(0);
  if (c.endpoint === 'schedule-query') {
    // An untrusted 404 never counted as "the record is gone".
    expect(alerted.installments[0]!.lastPollResult).not.toBe('MISSING');
  }

  await fx.sandbox.control.clearFaults();
  const done = await simulateLender(fx, handle);
  expect(done.phase).toBe('COMPLETED');
  expect(done.installments.map((i) => i.state)).toEqual(['SETTLED', 'SETTLED']);
  expect(done.alerts).toEqual([]);
  expect(await alertAttribute(handle)).toBeUndefined();
  expect(await fx.calls(plan, 'terminate')).toHaveLength(0);
  expect(await fx.sandbox.control.listRecords(plan.contractId)).toHaveLength(2);
  expect((await handle.query(statusQuery)).phase).toBe('COMPLETED');
  // One replay history of an alert raised and cleared (RECORD_HISTORIES=1).
  if (c.kind === 429) await maybeRecordHistory(handle);
});
