import { wechatpayClientFor, type SandboxClientOptions } from '../harness/sandboxClient';
import { setMaxListeners } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkflowHandle, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { WorkflowNotFoundError, type Duration } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Runtime, type Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { createLenderEventActivities } from '../../src/activities/lenderEvents';
import { addDays, shanghaiDateOf, shanghaiMidnight } from '../../src/domain/calendar';
import { resolvePolicy, workflowIdFor, type InstallmentInput, type RepaymentPlanInput } from '../../src/domain/plan';
import type { PartialLifecyclePolicy } from '../../src/domain/policy';
import type { LifecycleStatus } from '../../src/domain/status';
import { startSandbox, type RequestLogEntry, type Sandbox } from '../../src/sandbox';
import { createWorkers, runWorkersUntil } from '../../src/worker';
import { repaymentLifecycle } from '../../src/workflows';
import { repaymentResultSignal, statusQuery } from '../../src/workflows/definitions';
import { createTimeSkippingEnv } from '../harness/temporal';
import { runEveryStep } from '../harness/teardown';

/**
 * One time-skipping Temporal environment, one sandbox (real HTTP, real RSA signatures) and one pair of workers
 * per test file. The sandbox's business clock is the test server's clock, so the 14-day window rule holds in
 * skipped time.
 */

const TASK_QUEUE = 'lifecycle-test';
const COMPENSATION_TASK_QUEUE = 'lifecycle-test-compensation';
const EVENTS_TASK_QUEUE = 'lifecycle-test-events';
const BASE_DAY_MS = 86_400_000;

export interface LifecycleFixture {
  env: TestWorkflowEnvironment;
  sandbox: Sandbox;
  /** A plan whose contract exists (and is authorized) in the sandbox; installments monthly from today. */
  newContract(code: string, options?: ContractOptions): Promise<RepaymentPlanInput>;
  start(
    plan: RepaymentPlanInput,
    policy?: PartialLifecyclePolicy,
  ): Promise<WorkflowHandleWithFirstExecutionRunId<typeof repaymentLifecycle>>;
  /** Sandbox request-log entries of one contract (see `contractOfEntry`), optionally of one endpoint. */
  calls(plan: RepaymentPlanInput, endpoint?: RequestLogEntry['endpoint']): Promise<RequestLogEntry[]>;
  /**
   * For afterEach, so that a failed test leaks nothing into the next: clears the sandbox's faults, brings the
   * primary back up, and terminates every workflow started since the last clean-up (and the children it
   * started) that is still running, so none keeps retrying against the sandbox or holds the workers.
   */
  cleanUp(): Promise<void>;
  teardown(): Promise<void>;
  /**
   * Runs `fn` until the test ends (cleanUp or teardown): then the Temporal calls it has in flight are cancelled
   * and `signal` is aborted, so that a test Jest gave up on (timeout) stops driving the clock, and no call of it
   * is still pending when the server goes away (the client retries such a call on a closed channel, which
   * throws outside any test and kills the Jest process: "Channel has been shut down").
   */
  whileTestRuns<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T>;
}

export interface LifecycleFixtureOptions {
  /** Options of the workers' WeChat Pay client (e.g. `failbackAfterMs`). */
  wechatpay?: SandboxClientOptions;
  /** Lender events on, delivered to this receiver (off by default). */
  lenderEvents?: { url: string; secretFile: string; timeoutMs?: number };
}

export interface ContractOptions {
  installments?: number;
  everyDays?: number;
  firstInDays?: number;
  signature?: 'poll' | 'signal' | 'none';
  authorized?: boolean;
}

export async function createLifecycleFixture(options: LifecycleFixtureOptions = {}): Promise<LifecycleFixture> {
  const env = await createTimeSkippingEnv();
  // Fresh keys and state per test file, outside the repository.
  const dataDir = mkdtempSync(join(tmpdir(), 'lifecycle-sandbox-'));
  let startedSandbox: Sandbox | undefined;
  let workers: Worker[];
  try {
    // Business rules (the 14-day window) follow the skipped clock; answer signatures keep real time.
    const sandbox = await startSandbox({ dataDir, businessClock: () => env.currentTimeMs() });
    startedSandbox = sandbox;
    const wechatpay = wechatpayClientFor(sandbox, options.wechatpay);
    // The runtime's logger (WARN in tests) keeps webpack's report out of the output.
    const workflowBundle = await bundleWorkflowCode({
      workflowsPath: require.resolve('../../src/workflows'),
      logger: Runtime.instance().logger,
    });
    workers = await createWorkers({
      connection: env.nativeConnection,
      taskQueue: TASK_QUEUE,
      compensationTaskQueue: COMPENSATION_TASK_QUEUE,
      activities: createActivities({ wechatpay }),
      workflowBundle,
      ...(options.lenderEvents ? { lenderEvents: lenderEventsWorker(options.lenderEvents) } : {}),
    });
  } catch (error) {
    // Nothing half-started outlives a failed setup.
    await startedSandbox?.close();
    await env.teardown();
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  const sandbox = startedSandbox;
  let stop!: () => void;
  const running = runWorkersUntil(workers, new Promise<void>((resolve) => (stop = resolve)));
  // A worker that fails mid-file is reported by teardown, not as an unhandled rejection in some other test.
  running.catch(() => undefined);
  const started: string[] = [];
  const newTestSignal = () => {
    const controller = new AbortController();
    // The client adds a listener per call to the signal and never removes it; the signal lives one test.
    setMaxListeners(0, controller.signal);
    return controller;
  };
  let testEnded = newTestSignal();
  const endTest = () => {
    testEnded.abort(new Error('the test has ended'));
    testEnded = newTestSignal();
  };
  const today = async () => shanghaiDateOf(await env.currentTimeMs());

  return {
    env,
    sandbox,
    async newContract(code, options = {}) {
      const start = await today();
      const count = options.installments ?? 3;
      const every = options.everyDays ?? 30;
      const first = options.firstInDays ?? 20;
      const installments: InstallmentInput[] = Array.from({ length: count }, (_, i) => ({
        repaymentAmount: '100000',
        minRepaymentAmount: '5000',
        repaymentDate: addDays(start, first + i * every),
        description: `installment ${i + 1}`,
      }));
      const plan: RepaymentPlanInput = {
        outContractCode: code,
        contractId: `WXC${code}`,
        appid: 'wxd678efh567hg6787',
        openid: `oUpF8uMuAJO_${code}`,
        signature: { mode: options.signature ?? 'none' },
        installments,
      };
      await sandbox.control.createContract({
        outContractCode: code,
        contractId: plan.contractId,
        appid: plan.appid,
        openid: plan.openid,
        authorized: options.authorized ?? true,
      });
      return plan;
    },
    async start(plan, policy) {
      const handle = await env.client.workflow.start(repaymentLifecycle, {
        taskQueue: TASK_QUEUE,
        workflowId: workflowIdFor(plan.outContractCode),
        // The whole policy, as the lender client sends it (a partial one makes the first run pin it and continue
        // as new, which the Java test server's time skipping does not survive: see policyPin.test.ts).
        args: [{ plan, compensationTaskQueue: COMPENSATION_TASK_QUEUE, policy: resolvePolicy(policy, undefined) }],
      });
      started.push(handle.workflowId);
      return handle;
    },
    async calls(plan, endpoint) {
      return (await sandbox.control.requestLog(endpoint)).filter((entry) => {
        const owner = contractOfEntry(entry);
        return owner.outContractCode === plan.outContractCode || owner.contractId === plan.contractId;
      });
    },
    whileTestRuns(fn) {
      const { signal } = testEnded;
      return env.connection.withAbortSignal(signal, () => fn(signal));
    },
    async cleanUp() {
      endTest();
      await sandbox.control.clearFaults();
      await sandbox.control.setPrimaryDown(false);
      for (const workflowId of started.splice(0)) await terminateLeftRunning(env, workflowId);
    },
    async teardown() {
      endTest();
      await runEveryStep(
        () => {
          stop();
          return running;
        },
        () => sandbox.close(),
        () => env.teardown(),
        () => rmSync(dataDir, { recursive: true, force: true }),
      );
    },
  };
}

function lenderEventsWorker(events: NonNullable<LifecycleFixtureOptions['lenderEvents']>) {
  const config = {
    url: events.url,
    secretFile: events.secretFile,
    headers: {},
    taskQueue: EVENTS_TASK_QUEUE,
    timeoutMs: events.timeoutMs ?? 5000,
    maxConcurrentDeliveries: 5,
    devReceiver: false,
  };
  return { activities: createLenderEventActivities(config), taskQueue: EVENTS_TASK_QUEUE, maxConcurrentDeliveries: 5 };
}

/**
 * One fixture for the calling test file, with its hooks: created in beforeAll, cleaned up after each test (so
 * a failing test leaks nothing), torn down in afterAll. Returns a getter for use inside the tests.
 */
export function useLifecycleFixture(options?: LifecycleFixtureOptions): () => LifecycleFixture {
  let fixture: LifecycleFixture | undefined;
  beforeAll(async () => {
    fixture = await createLifecycleFixture(options);
  }, 120_000);
  afterEach(async () => fixture?.cleanUp());
  afterAll(async () => fixture?.teardown(), 60_000);
  return () => {
    if (!fixture) throw new Error('the lifecycle fixture is not set up (beforeAll failed?)');
    return fixture;
  };
}

/**
 * Terminates a workflow and the children it started (e.g. bill trackers, which outlive it by design) if they
 * are still running. A terminated workflow whose activity is still in flight can leave the Java test server's
 * time-skipping lock held (see cancelInFlight.test.ts), so later skips may run slower; that only follows a test
 * that already failed or left work behind, and is better than a workflow retrying into the next suite.
 */
async function terminateLeftRunning(env: TestWorkflowEnvironment, workflowId: string): Promise<void> {
  const { events } = await env.client.workflow.getHandle(workflowId).fetchHistory();
  const children = (events ?? []).flatMap(
    (e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId ?? [],
  );
  for (const id of [workflowId, ...children]) {
    const handle = env.client.workflow.getHandle(id);
    const { status } = await handle.describe().catch(() => ({ status: { name: 'UNKNOWN' } }));
    if (status.name !== 'RUNNING') continue;
    // It may have closed meanwhile: then there is nothing left to stop.
    await handle.terminate('left running by a finished test').catch((error: unknown) => {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
    });
  }
}

/**
 * Which contract a logged API request was about, from the fields each endpoint actually carries: the contract
 * code in the signing query's path and in the terminate body, the contract id in the record query's
 * `contract_id` parameter and in the batch-create body. Exact comparison, so that codes which are prefixes of
 * one another (RESILTAMPER, RESILTAMPER2) are never confused. Compensation-bill queries name no contract.
 */
function contractOfEntry(entry: RequestLogEntry): { outContractCode?: string; contractId?: string } {
  const url = new URL(entry.path, 'http://sandbox.invalid');
  const body = entry.body && typeof entry.body === 'object' ? (entry.body as Record<string, unknown>) : {};
  const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
  switch (entry.endpoint) {
    case 'contract-query': {
      const code = url.pathname.split('/').pop();
      return code === undefined ? {} : { outContractCode: decodeURIComponent(code) };
    }
    case 'schedule-query': {
      const contractId = url.searchParams.get('contract_id');
      return contractId === null ? {} : { contractId };
    }
    case 'schedule-create': {
      const contractId = text(body.contract_id);
      return contractId === undefined ? {} : { contractId };
    }
    case 'terminate': {
      const outContractCode = text(body.out_contract_code);
      return outContractCode === undefined ? {} : { outContractCode };
    }
    default:
      return {};
  }
}

/**
 * The lender's backend in tests: reports SUCCESS (or the given outcome) for each installment as it becomes DUE,
 * advancing the time-skipping clock straight to the next repayment date, until the lifecycle closes.
 */
export async function simulateLender(
  fixture: LifecycleFixture,
  handle: WorkflowHandle<typeof repaymentLifecycle>,
  outcomeFor: (outRecordId: string, index: number) => 'SUCCESS' | 'FAILED' = () => 'SUCCESS',
  maxSteps = 2000,
): Promise<LifecycleStatus> {
  return fixture.whileTestRuns(async (signal) => {
    for (let step = 0; step < maxSteps; step++) {
      signal.throwIfAborted();
      const status = await handle.query(statusQuery);
      if (['COMPLETED', 'TERMINATED', 'CANCELLED'].includes(status.phase)) return status;
      const due = status.installments.filter((i) => i.state === 'DUE');
      for (const record of due) {
        const index = status.installments.indexOf(record);
        await handle.signal(repaymentResultSignal, {
          outRecordId: record.outRecordId,
          outcome: outcomeFor(record.outRecordId, index),
        });
      }
      if (due.length > 0) {
        await fixture.env.sleep('1 minute');
        continue;
      }
      const open = status.installments
        .filter((i) => i.state !== 'SETTLED' && i.state !== 'FAILED')
        .map((i) => i.repaymentDate);
      const now = await fixture.env.currentTimeMs();
      const target =
        open.length > 0 ? shanghaiMidnight(open.reduce((a, b) => (a < b ? a : b))) + 3_600_000 : now + BASE_DAY_MS;
      await fixture.env.sleep(Math.max(60_000, target - now));
    }
    throw new Error('the lender simulator ran out of steps');
  });
}

/**
 * Awaits the end of a lifecycle that must close in `phase` with `reason` shown (failureReason or cancelReason)
 * and EXACTLY ONE terminate call for its contract in the sandbox's request log.
 */
export async function expectEndedOnce(
  fixture: LifecycleFixture,
  plan: RepaymentPlanInput,
  handle: WorkflowHandle<typeof repaymentLifecycle>,
  phase: 'TERMINATED' | 'CANCELLED',
  reason: RegExp,
): Promise<LifecycleStatus> {
  const result = await handle.result();
  expect(result.phase).toBe(phase);
  expect(phase === 'CANCELLED' ? result.cancelReason : result.failureReason).toMatch(reason);
  // The remark WeChat Pay received says why, within its 128-character limit.
  const terminations = await fixture.calls(plan, 'terminate');
  expect(terminations).toHaveLength(1);
  const remark = (terminations[0]?.body as { contract_termination_remark?: string } | undefined)
    ?.contract_termination_remark;
  expect(remark).toBe(result.termination?.remark);
  expect(Array.from(remark ?? '').length).toBeLessThanOrEqual(128);
  expect(remark).toMatch(reason);
  expect((await handle.query(statusQuery)).phase).toBe(phase);
  return result;
}

/** Advances skipped time in steps until the lifecycle reaches a phase (or closes). */
export async function waitForPhase(
  fixture: LifecycleFixture,
  handle: WorkflowHandle<typeof repaymentLifecycle>,
  phases: string[],
  step: Duration = '1 hour',
  maxSteps = 500,
): Promise<LifecycleStatus> {
  return fixture.whileTestRuns(async (signal) => {
    for (let i = 0; i < maxSteps; i++) {
      signal.throwIfAborted();
      const status = await handle.query(statusQuery);
      if (phases.includes(status.phase)) return status;
      await fixture.env.sleep(step);
    }
    throw new Error(`the lifecycle did not reach ${phases.join('/')}`);
  });
}

/** Advances skipped time in steps until the lifecycle's status satisfies `predicate`. */
export async function waitForStatus(
  fixture: LifecycleFixture,
  handle: WorkflowHandle<typeof repaymentLifecycle>,
  predicate: (status: LifecycleStatus) => boolean,
  what: string,
  step: Duration = '10 minutes',
  maxSteps = 300,
): Promise<LifecycleStatus> {
  for (let i = 0; i < maxSteps; i++) {
    const status = await handle.query(statusQuery);
    if (predicate(status)) return status;
    await fixture.env.sleep(step);
  }
  throw new Error(`the lifecycle never reached: ${what}`);
}
