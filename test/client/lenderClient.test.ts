import { wechatpayClientFor } from '../harness/sandboxClient';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Runtime, type Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { addDays, shanghaiDateOf } from '../../src/domain/calendar';
import { workflowIdFor, type RepaymentPlanInput } from '../../src/domain/plan';
import { OutContractCode, RepaymentPhase, WechatContractId } from '../../src/domain/searchAttributes';
import type { LifecyclePhase, LifecycleStatus } from '../../src/domain/status';
import { startSandbox, type Sandbox } from '../../src/sandbox';
import { createWorkers, runWorkersUntil } from '../../src/worker';
import {
  LifecycleConflictError,
  LifecycleNotFoundError,
  ModificationRejectedError,
  PlanValidationError,
  RepaymentClient,
  type LifecycleSummary,
} from '../../src/client';
import { createDevServerEnv } from '../harness/temporal';
import { runEveryStep } from '../harness/teardown';
import { buildCli, type BuiltCli } from './cliBuild';

/**
 * The client library and the CLI against a real dev server (visibility queries need it), a real worker and the
 * sandbox, in real time: a lifecycle with signature mode `signal` waits for the lender, so each step is observable.
 */

const TASK_QUEUE = 'client-test';
const COMPENSATION_TASK_QUEUE = 'client-test-compensation';

let env: TestWorkflowEnvironment;
let sandbox: Sandbox;
let client: RepaymentClient;
let cli: BuiltCli;
let dataDir: string;
let stopWorkers: () => void;
let workersDone: Promise<void>;

beforeAll(async () => {
  const building = buildCli();
  env = await createDevServerEnv();
  dataDir = mkdtempSync(join(tmpdir(), 'client-sandbox-'));
  sandbox = await startSandbox({ dataDir });
  const wechatpay = wechatpayClientFor(sandbox);
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../src/workflows'),
    logger: Runtime.instance().logger,
  });
  const workers: Worker[] = await createWorkers({
    connection: env.nativeConnection,
    taskQueue: TASK_QUEUE,
    compensationTaskQueue: COMPENSATION_TASK_QUEUE,
    activities: createActivities({ wechatpay }),
    workflowBundle,
  });
  workersDone = runWorkersUntil(workers, new Promise<void>((resolve) => (stopWorkers = resolve)));
  client = new RepaymentClient(env.client, { taskQueue: TASK_QUEUE, compensationTaskQueue: COMPENSATION_TASK_QUEUE });
  cli = await building;
  writeFileSync(
    join(cli.dir, 'temporal.yaml'),
    [
      'temporal:',
      `  address: ${env.address}`,
      '  namespace: default',
      `  taskQueue: ${TASK_QUEUE}`,
      `  compensationTaskQueue: ${COMPENSATION_TASK_QUEUE}`,
      '',
    ].join('\n'),
  );
}, 240_000);

// A failed test leaves no fault behind for the next one.
afterEach(async () => {
  await sandbox?.control.clearFaults();
  await sandbox?.control.setPrimaryDown(false);
});

afterAll(
  () =>
    runEveryStep(
      () => {
        stopWorkers?.();
        return workersDone;
      },
      () => sandbox?.close(),
      () => env?.teardown(),
      () => cli?.remove(),
      () => dataDir && rmSync(dataDir, { recursive: true, force: true }),
    ),
  60_000,
);

/** A plan for a contract that exists (authorized) in the sandbox; monthly installments from 20 days ahead. */
async function newContract(code: string, installments = 3): Promise<RepaymentPlanInput> {
  const today = shanghaiDateOf(Date.now());
  const plan: RepaymentPlanInput = {
    outContractCode: code,
    contractId: `WXC${code}`,
    appid: 'wxd678efh567hg6787',
    openid: `oUpF8uMuAJO_${code}`,
    signature: { mode: 'signal' },
    installments: Array.from({ length: installments }, (_, i) => ({
      repaymentAmount: '100000',
      minRepaymentAmount: '5000',
      repaymentDate: addDays(today, 20 + 30 * i),
    })),
  };
  await sandbox.control.createContract({
    outContractCode: code,
    contractId: plan.contractId,
    appid: plan.appid,
    openid: plan.openid,
    authorized: true,
  });
  return plan;
}

/** Polls (bounded: 30 s) until `probe` answers something `accept`s. */
async function eventually<T>(probe: () => Promise<T>, accept: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 30_000;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await probe();
    if (accept(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
}

const phaseOf = (code: string, phase: LifecyclePhase) =>
  eventually(
    () => client.getStatus(code),
    (status) => status.phase === phase,
    `${code} to reach ${phase}`,
  );

async function rejection(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof Error)) throw new Error('expected a rejection');
  return error;
}

describe('library', () => {
  it('refuses a bad plan naming the field, before anything is started', async () => {
    const plan = await newContract('CLIBAD1');
    plan.installments[0]!.repaymentDate = shanghaiDateOf(Date.now());
    plan.installments[2]!.minRepaymentAmount = '200000';
    const error = await rejection(client.startLifecycle(plan));
    expect(error).toBeInstanceOf(PlanValidationError);
    expect((error as PlanValidationError).issues.map((issue) => issue.path)).toEqual([
      'installments[2].minRepaymentAmount',
    ]);
    plan.installments[2]!.minRepaymentAmount = '5000';
    expect((await rejection(client.startLifecycle(plan))).message).toMatch(
      /^installments\[0\]\.repaymentDate: must be after today/,
    );
    expect(await rejection(client.startLifecycle({ ...plan, policy: { pollIntervalHours: 0 } }))).toMatchObject({
      message: expect.stringContaining('policy.pollIntervalHours'),
    });
    const missing = await rejection(client.getStatus('CLIBAD1'));
    expect(missing).toBeInstanceOf(LifecycleNotFoundError);
    expect(missing).toMatchObject({ code: 'LIFECYCLE_NOT_FOUND', workflowId: 'repayment-CLIBAD1' });
  });

  it('starts once per contract: the same plan again is the same lifecycle, another plan a conflict', async () => {
    const plan = await newContract('CLILIB1');
    const first = await client.startLifecycle(plan);
    expect(first).toEqual({ workflowId: 'repayment-CLILIB1', runId: expect.any(String), alreadyStarted: false });
    const again = await client.startLifecycle(structuredClone(plan));
    expect(again).toEqual({ ...first, alreadyStarted: true });

    const changed = structuredClone(plan);
    changed.installments[1]!.repaymentAmount = '100001';
    const conflict = await rejection(client.startLifecycle(changed));
    expect(conflict).toBeInstanceOf(LifecycleConflictError);
    expect(conflict).toMatchObject({ code: 'LIFECYCLE_CONFLICT', differences: ['installments[1].repaymentAmount'] });

    // Findable from the start: the client sets the search attributes with the start request.
    const described = await env.client.workflow.getHandle(workflowIdFor('CLILIB1')).describe();
    expect(described.typedSearchAttributes.get(OutContractCode)).toBe('CLILIB1');
    expect(described.typedSearchAttributes.get(WechatContractId)).toBe('WXCCLILIB1');
    expect(described.typedSearchAttributes.get(RepaymentPhase)).toBe('AWAITING_SIGNATURE');
  });

  it('drives the lifecycle: signature, plan change, results, compensation bill, list, cancel', async () => {
    const plan = await newContract('CLILIB2');
    await client.startLifecycle(plan);
    expect((await client.getStatus('CLILIB2')).phase).toBe('AWAITING_SIGNATURE');

    expect(await rejection(client.confirmSigned('CLILIB2', { signedTime: 'yesterday' }))).toMatchObject({
      message: 'signedTime: must be an RFC 3339 time',
    });
    await client.confirmSigned('CLILIB2', { contractId: 'WXCCLILIB2' });
    const monitoring = await phaseOf('CLILIB2', 'MONITORING');
    const [first, second] = monitoring.installments;

    // Shape errors are caught by the client; errors that need the lifecycle's state come from its validator.
    const shape = await rejection(client.modifyPlan('CLILIB2', { add: [] }));
    expect(shape).toBeInstanceOf(PlanValidationError);
    expect(shape.message).toBe('(root): must add or reschedule at least one installment');
    const clash = await rejection(
      client.modifyPlan('CLILIB2', {
        reschedule: [{ outRecordId: first!.outRecordId, repaymentDate: second!.repaymentDate }],
      }),
    );
    expect(clash).toBeInstanceOf(PlanValidationError);
    expect((clash as PlanValidationError).issues).toEqual([
      { path: 'reschedule[0].repaymentDate', rule: `must differ from the date of ${second!.outRecordId}` },
    ]);
    const modified = await client.modifyPlan('CLILIB2', {
      add: [
        { repaymentAmount: '50000', minRepaymentAmount: '5000', repaymentDate: addDays(second!.repaymentDate, 90) },
      ],
    });
    expect(modified.installments).toHaveLength(4);

    expect(
      await rejection(client.reportRepaymentResult('CLILIB2', { outRecordId: 'R-1', outcome: 'SUCCESS' })),
    ).toMatchObject({ message: 'outRecordId: must contain only digits and letters' });
    await client.reportRepaymentResult('CLILIB2', {
      outRecordId: first!.outRecordId,
      outcome: 'SUCCESS',
      amount: '100000',
    });
    await client.reportCompensationBill('CLILIB2', 'BILL0001');
    const reported = await eventually(
      () => client.getStatus('CLILIB2'),
      (status) => status.installments[0]!.state === 'SETTLED' && status.compensationBills.length === 1,
      'the result and the bill',
    );
    expect(reported.installments[0]!.result).toMatchObject({ outcome: 'SUCCESS', amount: '100000' });
    expect(reported.compensationBills[0]).toMatchObject({ outBillNo: 'BILL0001' });

    // Visibility catches up asynchronously.
    const byCode = await eventually(
      () => client.list({ outContractCode: 'CLILIB2' }),
      (rows) => rows.length === 1 && rows[0]!.phase === 'MONITORING',
      'CLILIB2 in the visibility store',
    );
    expect(byCode[0]).toMatchObject<Partial<LifecycleSummary>>({
      workflowId: 'repayment-CLILIB2',
      status: 'RUNNING',
      phase: 'MONITORING',
      outContractCode: 'CLILIB2',
      contractId: 'WXCCLILIB2',
      nextRepaymentDate: second!.repaymentDate,
    });
    const monitoringNow = await client.list({ phase: 'MONITORING' });
    expect(monitoringNow.map((row) => row.outContractCode)).toContain('CLILIB2');
    expect(monitoringNow.map((row) => row.outContractCode)).not.toContain('CLILIB1'); // still awaiting signature
    expect(await client.list({ phase: 'MONITORING', nextRepaymentBefore: second!.repaymentDate })).toEqual([]);
    expect(
      (await client.list({ phase: 'MONITORING', nextRepaymentBefore: addDays(second!.repaymentDate, 1) })).map(
        (row) => row.outContractCode,
      ),
    ).toContain('CLILIB2');
    // A value that tries to close the literal and add a clause matches nothing instead of everything.
    expect(await client.list({ outContractCode: 'x" OR WorkflowType != "y' })).toEqual([]);
    expect(await client.list({ outContractCode: 'x\\' })).toEqual([]);
    expect(await client.list({ query: 'OutContractCode = "CLILIB2"', limit: 1 })).toHaveLength(1);

    await client.cancel('CLILIB2', 'customer repaid early');
    const cancelled = await phaseOf('CLILIB2', 'CANCELLED');
    expect(cancelled.cancelReason).toBe('customer repaid early');
    const terminations = (await sandbox.control.requestLog('terminate')).filter(
      (entry) => (entry.body as { out_contract_code?: string } | undefined)?.out_contract_code === 'CLILIB2',
    );
    expect(terminations).toHaveLength(1);

    // A closed lifecycle takes no more messages, and a contract never gets a second one.
    expect(await rejection(client.cancel('CLILIB2', 'again'))).toBeInstanceOf(LifecycleNotFoundError);
    const late = await rejection(
      client.modifyPlan('CLILIB2', {
        add: [{ repaymentAmount: '1', minRepaymentAmount: '1', repaymentDate: addDays(second!.repaymentDate, 200) }],
      }),
    );
    expect(late).toBeInstanceOf(LifecycleNotFoundError);
    expect(await client.startLifecycle(plan)).toMatchObject({ alreadyStarted: true });
  });

  it('reports a plan change refused because the lifecycle is stopping', async () => {
    const plan = await newContract('CLILIB3');
    await client.startLifecycle(plan);
    // The terminate call keeps failing with 503 (retried), so the lifecycle stays TERMINATING meanwhile.
    await sandbox.control.injectFault({ endpoint: 'terminate', kind: 503, count: 1000 });
    try {
      await client.cancel('CLILIB3', 'stop it');
      await phaseOf('CLILIB3', 'TERMINATING');
      const refused = await rejection(
        client.modifyPlan('CLILIB3', {
          add: [
            { repaymentAmount: '1', minRepaymentAmount: '1', repaymentDate: addDays(shanghaiDateOf(Date.now()), 300) },
          ],
        }),
      );
      expect(refused).toBeInstanceOf(ModificationRejectedError);
      expect(refused).toMatchObject({
        code: 'MODIFICATION_REJECTED',
        message:
          'plan change for contract CLILIB3 rejected: the lifecycle is TERMINATING: its plan can no longer change',
      });
    } finally {
      await sandbox.control.clearFaults();
    }
    await phaseOf('CLILIB3', 'CANCELLED');
  });

  it('says which contract has no lifecycle', async () => {
    for (const call of [
      () => client.cancel('NOSUCH1', 'x'),
      () => client.confirmSigned('NOSUCH1'),
      () => client.reportCompensationBill('NOSUCH1', 'B1'),
      () => client.reportRepaymentResult('NOSUCH1', { outRecordId: 'R1', outcome: 'FAILED' }),
      () => client.modifyPlan('NOSUCH1', { reschedule: [{ outRecordId: 'R1', repaymentAmount: '100' }] }),
      () => client.getStatus('NOSUCH1'),
    ]) {
      const error = await rejection(call()); // one at a time: a rejection nobody awaits yet fails the test
      expect(error).toBeInstanceOf(LifecycleNotFoundError);
      expect(error.message).toMatch(/for contract NOSUCH1 \(workflow id repayment-NOSUCH1\)$/);
    }
  });
});

describe('CLI (a real process)', () => {
  const repayment = (...args: string[]) => cli.run(['--config', join(cli.dir, 'temporal.yaml'), ...args]);
  const writeJson = (name: string, value: unknown) => {
    const file = join(cli.dir, name);
    writeFileSync(file, JSON.stringify(value));
    return file;
  };

  it('prints help for each command and a valid demo plan', async () => {
    const help = await cli.run(['report-result', '--help']);
    expect(help).toMatchObject({ code: 0 });
    expect(help.stdout).toContain('--outcome <outcome>');
    const demo = await cli.run(['demo-plan', '--code', 'DEMO1', '--installments', '12']);
    expect(demo.code).toBe(0);
    const plan = JSON.parse(demo.stdout) as RepaymentPlanInput;
    expect(plan.installments).toHaveLength(12);
    expect(plan.installments[0]!.repaymentDate > shanghaiDateOf(Date.now())).toBe(true);
    expect(await cli.run(['demo-plan', '--installments', 'many'])).toMatchObject({ code: 2 });
    expect(await cli.run(['no-such-command'])).toMatchObject({ code: 2 });
  }, 60_000);

  it('starts, shows, signs, modifies, reports, lists and cancels', async () => {
    const plan = await newContract('CLICLI1');
    const planFile = writeJson('plan.json', plan);

    const started = await repayment('start', planFile);
    expect(started).toMatchObject({ code: 0, stderr: '' });
    expect(started.stdout).toMatch(/^Started lifecycle repayment-CLICLI1 \(run [0-9a-f-]+\)\.\n$/);
    const again = await repayment('--json', 'start', planFile);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ workflowId: 'repayment-CLICLI1', alreadyStarted: true });
    const conflict = await repayment('start', writeJson('changed.json', { ...plan, contractId: 'WXCOTHER' }));
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toContain('with a different plan; differs at contractId');

    const bad = structuredClone(plan);
    bad.outContractCode = 'CLICLI2';
    bad.installments[1]!.repaymentAmount = '12.50';
    const invalid = await repayment('--json', 'start', writeJson('bad.json', bad));
    expect(invalid.code).toBe(2);
    expect(JSON.parse(invalid.stderr)).toMatchObject({
      error: { code: 'INVALID_INPUT', issues: [{ path: 'installments[1].repaymentAmount' }] },
    });

    const status = await repayment('status', 'CLICLI1');
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(
      /^Contract: +CLICLI1 \(WeChat Pay contract WXCCLICLI1\)\nPhase: +AWAITING_SIGNATURE\n/,
    );
    expect(status.stdout).toMatch(/1 +R[0-9a-f]+ +\d{4}-\d{2}-\d{2} +1000\.00 +50\.00 +WAITING/);

    expect(await repayment('signed', 'CLICLI1', '--contract-id', 'WXCCLICLI1')).toMatchObject({ code: 0 });
    await phaseOf('CLICLI1', 'MONITORING');

    const last = plan.installments[2]!.repaymentDate;
    const modification = writeJson('mod.json', {
      add: [{ repaymentAmount: '20000', minRepaymentAmount: '1000', repaymentDate: addDays(last, 30) }],
    });
    const modified = await repayment('--json', 'modify', 'CLICLI1', modification);
    expect(modified.code).toBe(0);
    expect((JSON.parse(modified.stdout) as LifecycleStatus).installments).toHaveLength(4);
    expect(await repayment('modify', 'CLICLI1', modification)).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('add[0].repaymentDate: must be unique in the plan'),
    });

    const recordId = (JSON.parse(modified.stdout) as LifecycleStatus).installments[0]!.outRecordId;
    const badOutcome = await repayment('report-result', 'CLICLI1', '--record', recordId, '--outcome', 'MAYBE');
    expect(badOutcome).toMatchObject({
      code: 2,
      stderr: "error: invalid input: outcome: must be 'SUCCESS' or 'FAILED'\n",
    });
    expect(
      await repayment('report-result', 'CLICLI1', '--record', recordId, '--outcome', 'SUCCESS', '--amount', '100000'),
    ).toMatchObject({ code: 0 });
    expect(await repayment('report-bill', 'CLICLI1', 'BILLCLI1')).toMatchObject({ code: 0 });
    const after = JSON.parse((await repayment('--json', 'status', 'CLICLI1')).stdout) as LifecycleStatus;
    expect(after.installments[0]!.state).toBe('SETTLED');
    expect(after.compensationBills.map((bill) => bill.outBillNo)).toEqual(['BILLCLI1']);

    const listed = await eventually(
      () => repayment('list', '--contract', 'CLICLI1'),
      (result) => result.code === 0 && /CLICLI1 +MONITORING/.test(result.stdout),
      'CLICLI1 in `repayment list`',
    );
    expect(listed.stdout.split('\n')[0]).toMatch(
      /^CONTRACT +PHASE +ALERT +NEXT REPAYMENT +STATUS +WORKFLOW ID +STARTED$/,
    );
    const listedJson = await repayment('--json', 'list', '--phase', 'MONITORING', '--contract', 'CLICLI1');
    expect(JSON.parse(listedJson.stdout)).toMatchObject([{ workflowId: 'repayment-CLICLI1', status: 'RUNNING' }]);
    expect(await repayment('list', '--phase', 'monitoring')).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('phase: must be one of AWAITING_SIGNATURE'),
    });

    expect(await repayment('cancel', 'CLICLI1')).toMatchObject({ code: 2 }); // --reason is required
    expect(await repayment('cancel', 'CLICLI1', '--reason', 'closed by the lender')).toMatchObject({ code: 0 });
    await phaseOf('CLICLI1', 'CANCELLED');
    const gone = await repayment('status', 'NOSUCH2');
    expect(gone).toMatchObject({
      code: 1,
      stderr: 'error: no lifecycle for contract NOSUCH2 (workflow id repayment-NOSUCH2)\n',
    });
  }, 120_000);
});
