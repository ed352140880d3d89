import { existsSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { RepaymentPlanInput } from '../../src/domain/plan';
import type { LifecycleStatus } from '../../src/domain/status';
import { acceptedInOrder, startTestEventReceiver, type Answer, type TestEventReceiver } from '../harness/eventReceiver';
import { freePort, startProcess, waitUntil } from './processes';
import { dist, isolatedEnv, nearPlan, registerContract, startNpmStart } from './support';
import { startWorkerWorld, type WorkerWorld } from './workerWorld';

/**
 * Lender events end to end, in real time: the dev server, the sandbox over HTTP, the worker as an operator starts it
 * (its temporal.yaml names the receiver and the secret file), and a real HTTP receiver that is down for a while,
 * then answers 500, then is slow. Every event arrives, in order per contract, repeats only under the same id, and
 * the lifecycles' WeChat Pay work happens on time meanwhile.
 */

let world: WorkerWorld;
let receiver: TestEventReceiver;

beforeAll(async () => {
  receiver = await startTestEventReceiver();
  // A short request timeout, so that a slow receiver costs the test seconds, not minutes.
  world = await startWorkerWorld('e2e-events-', {
    extraYaml: `lender:\n  events:\n    url: ${receiver.url}\n    secretFile: events.secret\n    timeoutMs: 1500\n`,
    files: { 'events.secret': `${receiver.secret}\n` },
  });
}, 180_000);

afterAll(async () => {
  await world?.stop();
  await receiver?.close();
});

async function settleAll(code: string, status: LifecycleStatus): Promise<void> {
  for (const installment of status.installments) {
    await world.repayment.client.reportRepaymentResult(code, {
      outRecordId: installment.outRecordId,
      outcome: 'SUCCESS',
      amount: installment.repaymentAmount,
    });
  }
}

/** Down, then 500 for a while, then slow beyond the worker's timeout twice, then slow within it, then healthy. */
function troubledReceiver(upAt: number): () => Answer {
  let slowBeyond = 2;
  let slowWithin = 3;
  return () => {
    if (Date.now() - upAt < 8_000) return { status: 500 };
    if (slowBeyond-- > 0) return { status: 200, delayMs: 2_500 };
    if (slowWithin-- > 0) return { status: 200, delayMs: 800 };
    return { status: 200 };
  };
}

it('delivers every event in order through a receiver that is down, failing and slow; WeChat Pay on time', async () => {
  await receiver.down();
  const plans: RepaymentPlanInput[] = [
    { ...nearPlan('E2EEVENTS1', [2, 3]), signature: { mode: 'poll' } },
    nearPlan('E2EEVENTS2', [3, 4]),
  ];
  const startedAt = Date.now();
  for (const plan of plans) {
    await registerContract(world.sandbox, plan);
    await world.repayment.client.startLifecycle(plan);
  }

  // With the receiver down, the lifecycles schedule their records at once.
  const scheduled = await Promise.all(
    plans.map((plan) =>
      waitUntil(async () => {
        const status = await world.repayment.client.getStatus(plan.outContractCode);
        return status.installments.every((i) => i.state === 'SCHEDULED' || i.state === 'POLLING') ? status : undefined;
      }, `${plan.outContractCode} scheduled`),
    ),
  );
  const creates = (await world.sandbox.control.requestLog('schedule-create')).filter((e) => e.status === 200);
  expect(creates).toHaveLength(4);
  for (const create of creates) expect(Date.parse(create.at) - startedAt).toBeLessThan(30_000);
  expect(receiver.arrivals).toEqual([]);

  // Up again, but failing: the lender's results complete the lifecycles while their events are still undelivered.
  receiver.answer = troubledReceiver(Date.now());
  await receiver.up();
  for (const [i, plan] of plans.entries()) await settleAll(plan.outContractCode, scheduled[i]!);
  for (const plan of plans) {
    expect((await world.repayment.client.getStatus(plan.outContractCode)).phase).toBe('COMPLETED');
  }
  expect(receiver.arrivals.filter((a) => a.status === 200)).toEqual([]);

  // Each lifecycle closes once its receiver has every event.
  const handles = plans.map((plan) =>
    world.repayment.client.temporal.workflow.getHandle(`repayment-${plan.outContractCode}`),
  );
  await Promise.all(handles.map((handle) => handle.result()));

  for (const plan of plans) {
    const events = acceptedInOrder(receiver.arrivals, plan.outContractCode);
    const types = events.map((e) => e.type);
    const signed = plan.signature.mode === 'poll' ? ['CONTRACT_SIGNED'] : [];
    expect(types.slice(0, 1 + signed.length)).toEqual(['LIFECYCLE_STARTED', ...signed]);
    expect(types.at(-1)).toBe('LIFECYCLE_COMPLETED');
    expect([...types].sort()).toEqual(
      [...signed, 'INSTALLMENT_SCHEDULED', 'INSTALLMENT_SCHEDULED', 'INSTALLMENT_SETTLED', 'INSTALLMENT_SETTLED']
        .concat(['LIFECYCLE_STARTED', 'LIFECYCLE_COMPLETED'])
        .sort(),
    );
    // An installment is settled only after it was scheduled.
    for (const settled of events.filter((e) => e.type === 'INSTALLMENT_SETTLED')) {
      const when = events.findIndex((e) => e.type === 'INSTALLMENT_SCHEDULED' && e.outRecordId === settled.outRecordId);
      expect(when).toBeGreaterThanOrEqual(0);
      expect(when).toBeLessThan(events.indexOf(settled));
    }
  }
  // Deliveries the worker gave up on (slow) came again under the same id, with the same bytes (checked above).
  const ids = receiver.arrivals.map((a) => a.event.id);
  expect(ids.length).toBeGreaterThan(new Set(ids).size);
  expect(receiver.arrivals.some((a) => a.status === 500)).toBe(true);
  expect(receiver.refused).toEqual([]);
  expect(JSON.stringify(receiver.arrivals)).not.toContain(plans[0]!.openid);

  const metrics = await (await fetch(`http://127.0.0.1:${world.metricsPort}/metrics`)).text();
  expect(metrics).toMatch(/lender_events_delivered\S*\{[^}]*type="LIFECYCLE_COMPLETED"[^}]*\} 2/);
  expect(metrics).toMatch(/lender_event_delivery_failures\S*\{[^}]*type="RECEIVER_ERROR"/);
}, 300_000);

it('npm start with lender.events.devReceiver runs the development receiver; it verifies and prints the events', async () => {
  const port = await freePort();
  const events =
    `lender:\n  events:\n    url: http://127.0.0.1:${port}/events\n` +
    '    secretFile: .temporal/lender-events.secret\n    devReceiver: true\n';
  const started = await startNpmStart('e2e-events-start-', isolatedEnv(), events);
  const { main } = started;
  try {
    expect(main.output()).toContain(`Lender events:     http://127.0.0.1:${port}/events (development receiver`);
    const secret = join(started.dir, '.temporal', 'lender-events.secret');
    expect(existsSync(secret) && statSync(secret).mode & 0o777).toBe(0o600);

    const demo = startProcess('node', [dist('app/demo.js')], isolatedEnv(), started.dir);
    expect(await demo.exited).toBe(0);
    const code = /Started repayment-(DEMO\d+)/.exec(demo.output())![1]!;
    await main.waitFor(new RegExp(`✓ \\S+ ${code} #1 LIFECYCLE_STARTED`));
    await main.waitFor(new RegExp(`✓ \\S+ ${code} #2 CONTRACT_SIGNED`));
    expect(main.output()).not.toContain('✗ refused');

    main.child.kill('SIGINT');
    expect(await main.exited).toBe(0);
    await expect(fetch(`http://127.0.0.1:${port}/events`, { method: 'POST' })).rejects.toThrow();
  } finally {
    await main.kill('SIGKILL');
    rmSync(started.dir, { recursive: true, force: true });
  }
}, 240_000);
