import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { ConnectedRepaymentClient } from '../../src/client/lenderClient';
import { workflowIdFor, type RepaymentPlanInput } from '../../src/domain/plan';
import type { LifecycleStatus } from '../../src/domain/status';
import { projectRoot } from '../../src/paths';
import type { Sandbox } from '../../src/sandbox';
import type { RequestLogEntry } from '../../src/sandbox/requestLog';
import { freePort, waitUntil, type RunningProcess } from './processes';
import { isolatedEnv, lenderCli, nearPlan, registerContract, startWorkerProcess, temporalCli } from './support';
import { startWorkerWorld, type WorkerWorld } from './workerWorld';

/**
 * End to end on real processes: the dev server (temporal CLI, Web UI on), the sandbox over HTTP, the worker as an
 * operator starts it (`node dist/src/app/workerMain.js`), the lender's client and CLI, the real `temporal` CLI and
 * headless Debian chromium driven by playwright-core.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let sandbox: Sandbox;
let worker: RunningProcess;
let repayment: ConnectedRepaymentClient;
let dir: string;
let configFile: string;
let address: string;
let uiPort: number;
let metricsPort: number;

let world: WorkerWorld | undefined;

beforeAll(async () => {
  uiPort = await freePort();
  world = await startWorkerWorld('e2e-worker-', { uiPort });
  ({ dir, address, sandbox, configFile, metricsPort, worker, repayment } = world);
}, 180_000);

// A failed test leaves no fault behind for the next one.
afterEach(async () => {
  await sandbox?.control.clearFaults();
  await sandbox?.control.setPrimaryDown(false);
});

afterAll(async () => {
  // The suite may have replaced the worker (SIGKILL test): stop the current one.
  if (world) world.worker = worker;
  await world?.stop();
});

async function statusOf(code: string): Promise<LifecycleStatus> {
  return repayment.client.getStatus(code);
}

/** Waits until every installment of the lifecycle is scheduled at WeChat Pay (the sandbox). */
async function waitScheduled(code: string, timeoutMs = 60_000): Promise<LifecycleStatus> {
  return waitUntil(
    async () => {
      const status = await statusOf(code);
      return status.installments.every((i) => i.state === 'SCHEDULED' || i.state === 'POLLING') ? status : undefined;
    },
    `${code} scheduled`,
    timeoutMs,
  );
}

async function settleAll(code: string, status: LifecycleStatus): Promise<void> {
  for (const installment of status.installments) {
    await repayment.client.reportRepaymentResult(code, {
      outRecordId: installment.outRecordId,
      outcome: 'SUCCESS',
      amount: installment.repaymentAmount,
      transactionId: `4200000${installment.outRecordId.slice(1, 12)}`,
    });
  }
}

async function logOf(contract: RepaymentPlanInput): Promise<RequestLogEntry[]> {
  const entries = await sandbox.control.requestLog();
  return entries.filter((e) => {
    const body = JSON.stringify(e.body ?? {});
    return (
      e.path.includes(encodeURIComponent(contract.contractId)) ||
      e.path.includes(contract.outContractCode) ||
      body.includes(`"${contract.contractId}"`) ||
      body.includes(`"${contract.outContractCode}"`)
    );
  });
}

function createdOnce(entries: RequestLogEntry[]): Record<string, number> {
  const created: Record<string, number> = {};
  for (const e of entries) {
    if (e.endpoint !== 'schedule-create' || e.status !== 200) continue;
    const items = (e.body as { schedule_items?: Array<{ out_record_id: string }> }).schedule_items ?? [];
    for (const item of items) created[item.out_record_id] = (created[item.out_record_id] ?? 0) + 1;
  }
  return created;
}

it('runs a lifecycle started through the client to COMPLETED and exposes Prometheus metrics', async () => {
  const plan = nearPlan('E2ECLIENT1', [2, 3]);
  await registerContract(sandbox, plan);
  const started = await repayment.client.startLifecycle(plan);
  expect(started).toMatchObject({ workflowId: workflowIdFor('E2ECLIENT1'), alreadyStarted: false });
  // Idempotent: the same plan again returns the same lifecycle.
  await expect(repayment.client.startLifecycle(plan)).resolves.toMatchObject({ alreadyStarted: true });

  const scheduled = await waitScheduled('E2ECLIENT1');
  await settleAll('E2ECLIENT1', scheduled);
  const result = (await repayment.client.temporal.workflow.getHandle(started.workflowId).result()) as LifecycleStatus;
  expect(result.phase).toBe('COMPLETED');
  expect(result.installments.map((i) => i.state)).toEqual(['SETTLED', 'SETTLED']);

  const log = await logOf(plan);
  expect(Object.values(createdOnce(log))).toEqual([1, 1]);
  expect(log.filter((e) => e.endpoint === 'terminate')).toHaveLength(0);

  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  expect(metrics).toMatch(/temporal_workflow_completed\{[^}]*\} [1-9]/);
}, 120_000);

it('starts a lifecycle through the CLI; the temporal CLI queries its status and cancels it', async () => {
  const plan = nearPlan('E2ECLI1', [4, 5]);
  await registerContract(sandbox, plan);
  const planFile = join(dir, 'plan-cli.json');
  writeFileSync(planFile, JSON.stringify(plan));
  const cliEnv = isolatedEnv();
  const started = await lenderCli(['start', planFile, '--config', configFile, '--json'], cliEnv);
  expect(started.code).toBe(0);
  expect(JSON.parse(started.out)).toMatchObject({ workflowId: 'repayment-E2ECLI1' });

  // A bad plan is refused by the CLI with the field named and exit code 2, before anything is sent.
  writeFileSync(planFile, JSON.stringify({ ...plan, outContractCode: 'E2E-BAD' }));
  const refused = await lenderCli(['start', planFile, '--config', configFile], cliEnv);
  expect(refused.code).toBe(2);
  expect(refused.out).toContain('outContractCode');

  await waitScheduled('E2ECLI1');
  const queried = await waitUntil(async () => {
    const out = await temporalCli(address, [
      'workflow',
      'query',
      '--workflow-id',
      'repayment-E2ECLI1',
      '--type',
      'status',
      '--output',
      'json',
    ]);
    const parsed = JSON.parse(out) as { queryResult?: LifecycleStatus[] };
    const status = parsed.queryResult?.[0];
    return status?.phase === 'MONITORING' ? status : undefined;
  }, 'temporal workflow query status = MONITORING');
  expect(queried.installments).toHaveLength(2);

  await temporalCli(address, [
    'workflow',
    'signal',
    '--workflow-id',
    'repayment-E2ECLI1',
    '--name',
    'cancel',
    '--input',
    '{"reason":"operator cancelled from the CLI"}',
  ]);
  const result = (await repayment.client.temporal.workflow.getHandle('repayment-E2ECLI1').result()) as LifecycleStatus;
  expect(result.phase).toBe('CANCELLED');
  const terminations = (await logOf(plan)).filter((e) => e.endpoint === 'terminate' && e.status === 200);
  expect(terminations).toHaveLength(1);
  expect((terminations[0]?.body as { contract_termination_remark: string }).contract_termination_remark).toContain(
    'operator cancelled from the CLI',
  );
  expect((await sandbox.control.getContract('E2ECLI1')).state).toBe('TERMINATED');
}, 120_000);

it('lists lifecycles in the Temporal Web UI and finds them by RepaymentPhase', async () => {
  const plan = nearPlan('E2EUI1', [6]);
  await registerContract(sandbox, plan);
  await repayment.client.startLifecycle(plan);
  await waitScheduled('E2EUI1');
  await waitUntil(
    async () =>
      (await repayment.client.list({ phase: 'MONITORING' })).some((l) => l.outContractCode === 'E2EUI1')
        ? true
        : undefined,
    'visibility to index E2EUI1',
  );

  const artifacts = join(projectRoot(), 'artifacts');
  mkdirSync(artifacts, { recursive: true });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const listUrl = (query: string) =>
      `http://127.0.0.1:${uiPort}/namespaces/default/workflows?query=${encodeURIComponent(query)}`;

    await page.goto(listUrl('RepaymentPhase="MONITORING"'));
    await page.getByText('repayment-E2EUI1').first().waitFor({ timeout: 30_000 });
    expect(await page.getByText('repayment-E2ECLI1').count()).toBe(0);
    await page.screenshot({ path: join(artifacts, 'web-ui-monitoring.png') });

    await page.goto(listUrl('RepaymentPhase="CANCELLED"'));
    await page.getByText('repayment-E2ECLI1').first().waitFor({ timeout: 30_000 });
    expect(await page.getByText('repayment-E2EUI1').count()).toBe(0);

    await page.goto(listUrl('OutContractCode="E2EUI1"'));
    await page.getByRole('link', { name: 'repayment-E2EUI1' }).first().click();
    await page.waitForURL(/\/workflows\/repayment-E2EUI1\//, { timeout: 30_000 });
    await page.getByText('repaymentLifecycle').first().waitFor({ timeout: 30_000 });
    await page.screenshot({ path: join(artifacts, 'web-ui-lifecycle.png') });
  } finally {
    await browser.close();
  }
}, 120_000);

it('survives SIGKILL of the worker mid-call: the lifecycle completes, no record twice, no termination', async () => {
  const plan = nearPlan('E2EKILL1', [2, 3]);
  await registerContract(sandbox, plan);
  // The first create is executed by the sandbox but its answer is held back: the worker dies inside the call.
  await sandbox.control.injectFault({ endpoint: 'schedule-create', kind: 'slow', count: 1, delayMs: 20_000 });
  await repayment.client.startLifecycle(plan);
  await waitUntil(
    async () => ((await logOf(plan)).some((e) => e.endpoint === 'schedule-create') ? true : undefined),
    'the first schedule call to reach the sandbox',
  );
  expect(await worker.kill('SIGKILL')).toBeNull();

  worker = await startWorkerProcess(configFile);
  // The lost attempt is retried after its start-to-close timeout; the retry meets the record and reconciles.
  const scheduled = await waitScheduled('E2EKILL1', 120_000);
  await settleAll('E2EKILL1', scheduled);
  const result = (await repayment.client.temporal.workflow.getHandle('repayment-E2EKILL1').result()) as LifecycleStatus;
  expect(result.phase).toBe('COMPLETED');

  const log = await logOf(plan);
  const created = createdOnce(log);
  expect(Object.keys(created).sort()).toEqual(scheduled.installments.map((i) => i.outRecordId).sort());
  expect(Object.values(created)).toEqual([1, 1]);
  expect(await sandbox.control.listRecords(plan.contractId)).toHaveLength(2);
  expect(log.filter((e) => e.endpoint === 'terminate')).toHaveLength(0);
}, 240_000);
