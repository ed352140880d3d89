import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createLenderEventActivities } from '../../src/activities/lenderEvents';
import type { LenderEventsConfig } from '../../src/config/lenderEvents';
import type { LenderEvent } from '../../src/domain/lenderEvents';
import { startTestEventReceiver, type TestEventReceiver } from '../harness/eventReceiver';
import { freePort } from '../e2e/processes';

/**
 * The delivery activity against a real HTTP receiver: signed POSTs in order, progress kept when a later event
 * fails, typed retryable failures when none got through, and events dropped (not retried) once events are off.
 */

let receiver: TestEventReceiver;
let dir: string;
let config: LenderEventsConfig;

beforeAll(async () => {
  receiver = await startTestEventReceiver();
  dir = mkdtempSync(join(tmpdir(), 'delivery-'));
  writeFileSync(join(dir, 'secret'), `${receiver.secret}\n`);
  config = {
    url: receiver.url,
    secretFile: join(dir, 'secret'),
    headers: { 'X-Tenant': 'lender-7' },
    taskQueue: 'events',
    timeoutMs: 500,
    maxConcurrentDeliveries: 1,
    devReceiver: false,
  };
});
afterEach(() => {
  receiver.answer = () => ({ status: 200 });
  receiver.arrivals.length = 0;
});
afterAll(async () => {
  await receiver.close();
  rmSync(dir, { recursive: true, force: true });
});

const events: LenderEvent[] = [1, 2, 3].map((sequence) => ({
  schemaVersion: 1,
  id: `LOAN1:run-1:${sequence}`,
  lifecycleId: 'run-1',
  sequence,
  type: 'INSTALLMENT_DUE',
  occurredAt: '2026-12-10T16:00:00.000Z',
  outContractCode: 'LOAN1',
  contractId: 'WXCLOAN1',
  outRecordId: `R${sequence}`,
  data: {
    outRecordId: `R${sequence}`,
    repaymentAmount: '100000',
    minRepaymentAmount: '10000',
    repaymentDate: '2026-12-11',
    resultExpectedBy: '2026-12-17T16:00:00.000Z',
  },
}));

const deliver = (cfg: LenderEventsConfig, batch = events) =>
  new MockActivityEnvironment().run(createLenderEventActivities(cfg).deliverLenderEvents, { events: batch });

async function failure(run: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApplicationFailure);
  expect((error as ApplicationFailure).nonRetryable).toBe(false);
  return error as ApplicationFailure;
}

it('posts each event, signed, in order, with its id, type and the configured headers', async () => {
  expect(await deliver(config)).toEqual({ delivered: 3 });
  expect(receiver.arrivals.map((a) => a.event.sequence)).toEqual([1, 2, 3]);
  expect(receiver.arrivals[0]!.headers).toMatchObject({
    'lender-event-id': 'LOAN1:run-1:1',
    'lender-event-type': 'INSTALLMENT_DUE',
    'x-tenant': 'lender-7',
    'content-type': 'application/json',
  });
  expect(receiver.refused).toEqual([]);
});

it('keeps the progress made when a later event fails, and fails (retryably) when none got through', async () => {
  receiver.answer = (event) => ({ status: event.sequence === 2 ? 503 : 200 });
  expect(await deliver(config)).toEqual({ delivered: 1 });
  // The call after it starts at the failing event and delivers nothing: Temporal retries it with backoff.
  const refused = await failure(deliver(config, events.slice(1)));
  expect(refused).toMatchObject({ type: 'RECEIVER_ERROR', details: [{ httpStatus: 503 }] });
  expect(receiver.arrivals.map((a) => [a.event.sequence, a.status])).toEqual([
    [1, 200],
    [2, 503],
    [2, 503],
  ]);
});

it('names an unreachable and a slow receiver', async () => {
  const closed = `http://127.0.0.1:${await freePort()}/events`;
  expect(await failure(deliver({ ...config, url: closed }))).toMatchObject({ type: 'RECEIVER_UNREACHABLE' });
  receiver.answer = () => ({ status: 200, delayMs: 2000 });
  expect(await failure(deliver(config))).toMatchObject({ type: 'RECEIVER_TIMEOUT' });
});

it('drops what it is given once events are off, and tells lifecycles they are off', async () => {
  const off = { ...config, url: undefined };
  expect(await deliver(off)).toEqual({ delivered: 3 });
  expect(receiver.arrivals).toEqual([]);
  expect(await createLenderEventActivities(off).lenderEventsSettings()).toBeNull();
  expect(await createLenderEventActivities(config).lenderEventsSettings()).toEqual({ taskQueue: 'events' });
});
