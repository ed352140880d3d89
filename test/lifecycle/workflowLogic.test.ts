import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import type {
  CompensationActivities,
  MainQueueActivities,
  ScheduleRequest,
  ScheduledRecord,
} from '../../src/activities';
import { addDays, shanghaiDateOf, shanghaiMidnight } from '../../src/domain/calendar';
import { resolvePolicy, workflowIdFor } from '../../src/domain/plan';
import type { PartialLifecyclePolicy } from '../../src/domain/policy';
import { RepaymentPhase } from '../../src/domain/searchAttributes';
import type { LifecycleStatus } from '../../src/domain/status';
import { lenderEventsOff, runWorkersUntil } from '../../src/worker';
import { repaymentLifecycle } from '../../src/workflows';
import {
  cancelSignal,
  compensationBillReportedSignal,
  modifyPlanUpdate,
  repaymentResultSignal,
  resolveAlertUpdate,
  statusQuery,
} from '../../src/workflows/definitions';
import { createTimeSkippingEnv } from '../harness/temporal';
import { oneInstallmentInput } from './inMemory';

/**
 * The workflow's own logic on the time-skipping server, with in-memory activities (Temporal's usual way to test
 * workflow code in isolation): fast, and independent of HTTP. The sandbox-backed files test the whole stack.
 */

type Handle = WorkflowHandle<typeof repaymentLifecycle>;

const records = new Map<string, ScheduledRecord>();
const calls: string[] = [];
const bills = new Map<string, string>();
let createFailure: ApplicationFailure | undefined;
/** Per contract code: how the terminate call answers (undefined: success). */
const signingAnswer = new Map<string, string>();
const terminateAnswers = new Map<string, (remark: string) => ApplicationFailure | undefined>();
const verifiedRefusal = (code: string, message: string) =>
  ApplicationFailure.create({
    type: code,
    message,
    nonRetryable: true,
    details: [{ source: 'answer', httpStatus: 400, verified: true }],
  });

const activities: MainQueueActivities = {
  async createScheduleRecord(request: ScheduleRequest) {
    calls.push(`create:${request.item.outRecordId}`);
    if (createFailure) throw createFailure;
    const record = { ...request.item, contractId: request.contractId };
    records.set(request.item.outRecordId, record);
    return record;
  },
  async queryScheduleRecord(request) {
    calls.push(`query:${request.outRecordId}`);
    const record = records.get(request.outRecordId);
    return record ? { found: true, record } : { found: false };
  },
  async querySigning(request) {
    calls.push('signing');
    return { found: true, authState: signingAnswer.get(request.outContractCode) ?? 'UNAUTHORIZED' };
  },
  async terminateContract(request) {
    calls.push(`terminate:${request.outContractCode}`);
    const refusal = terminateAnswers.get(request.outContractCode)?.(request.remark);
    if (refusal) throw refusal;
    return {};
  },
};
const compensationActivities: CompensationActivities = {
  async queryCompensationBill({ outBillNo }) {
    calls.push(`bill:${outBillNo}`);
    return { found: true, state: bills.get(outBillNo) ?? 'ACCEPTED', amount: '500', billId: `B${outBillNo}` };
  },
};

let env: TestWorkflowEnvironment;
let stopWorkers: () => void;
let workersDone: Promise<void>;

beforeAll(async () => {
  env = await createTimeSkippingEnv();
  const workflowBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../../src/workflows') });
  const main = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: 'logic',
    workflowBundle,
    activities: { ...activities, lenderEventsSettings: lenderEventsOff },
  });
  const compensation = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: 'logic-compensation',
    activities: compensationActivities,
  });
  workersDone = runWorkersUntil([main, compensation], new Promise<void>((resolve) => (stopWorkers = resolve)));
}, 120_000);

afterAll(async () => {
  stopWorkers?.();
  await workersDone;
  await env?.teardown();
}, 60_000);

async function start(
  code: string,
  count: number,
  mode: 'poll' | 'signal' | 'none' = 'none',
  policy?: PartialLifecyclePolicy,
  firstInDays = 20,
): Promise<Handle> {
  const today = shanghaiDateOf(await env.currentTimeMs());
  const installments = Array.from({ length: count }, (_, i) => ({
    repaymentAmount: '100000',
    minRepaymentAmount: '5000',
    repaymentDate: addDays(today, firstInDays + 30 * i),
  }));
  // A contract the lender started as already signed is in force at WeChat Pay (it holds records only then).
  if (mode === 'none' && !signingAnswer.has(code)) signingAnswer.set(code, 'AUTHORIZED');
  return env.client.workflow.start(repaymentLifecycle, {
    taskQueue: 'logic',
    workflowId: workflowIdFor(code),
    args: [
      {
        plan: {
          outContractCode: code,
          contractId: `WXC${code}`,
          appid: 'wxapp',
          openid: 'oSecretOpenid',
          signature: { mode },
          installments,
        },
        compensationTaskQueue: 'logic-compensation',
        policy: resolvePolicy(policy, undefined),
      },
    ],
  });
}

/** Reports SUCCESS for each DUE installment, skipping time straight to the next repayment date. */
async function lender(handle: Handle): Promise<LifecycleStatus> {
  for (let step = 0; step < 1000; step++) {
    const status = await handle.query(statusQuery);
    if (['COMPLETED', 'TERMINATED', 'CANCELLED'].includes(status.phase)) return status;
    const due = status.installments.filter((i) => i.state === 'DUE');
    for (const record of due)
      await handle.signal(repaymentResultSignal, { outRecordId: record.outRecordId, outcome: 'SUCCESS' });
    if (due.length > 0) {
      await env.sleep('1 minute');
      continue;
    }
    const open = status.installments
      .filter((i) => i.state !== 'SETTLED' && i.state !== 'FAILED')
      .map((i) => i.repaymentDate)
      .sort();
    const now = await env.currentTimeMs();
    await env.sleep(Math.max(60_000, shanghaiMidnight(open[0]!) + 3_600_000 - now));
  }
  throw new Error('lender ran out of steps');
}

async function untilScheduled(handle: Handle): Promise<LifecycleStatus> {
  for (let i = 0; i < 60; i++) {
    const status = await handle.query(statusQuery);
    if (status.installments[0]!.state !== 'WAITING') return status;
    await env.sleep('1 day');
  }
  throw new Error('never scheduled');
}

const count = (prefix: string) => calls.filter((c) => c.startsWith(prefix)).length;

it('completes 12 installments: each scheduled once in its window, polled, settled', async () => {
  const handle = await start('LOGIC12', 12);
  const status = await lender(handle);
  expect(status.phase).toBe('COMPLETED');
  expect(status.installments.every((i) => i.state === 'SETTLED' && i.lastPollResult === 'MATCHES')).toBe(true);
  for (const record of status.installments) {
    expect(count(`create:${record.outRecordId}`)).toBe(1);
    // Scheduled inside the window: 1..14 days before the repayment date (Asia/Shanghai).
    const lead = shanghaiMidnight(record.repaymentDate) - Date.parse(record.scheduledAt!);
    expect(lead).toBeGreaterThan(0);
    expect(lead).toBeLessThanOrEqual(14 * 86_400_000);
  }
  expect(count('terminate:LOGIC12')).toBe(0);
  expect((await handle.describe()).typedSearchAttributes.get(RepaymentPhase)).toBe('COMPLETED');
  const history = await handle.fetchHistory();
  console.log(`12-installment lifecycle (in-memory activities): ${history.events?.length} history events`);
}, 120_000);

it('creates a scheduled record again (same out_record_id) when WeChat Pay verifiably no longer holds it', async () => {
  const handle = await start('LOGICGONE', 2);
  const status = await untilScheduled(handle);
  const id = status.installments[0]!.outRecordId;
  records.delete(id);
  await env.sleep('2 days');
  const now = await handle.query(statusQuery);
  expect(now.phase).toBe('MONITORING');
  // Created again (SCHEDULED), then polled as before.
  expect(['SCHEDULED', 'POLLING']).toContain(now.installments[0]!.state);
  expect(now.alerts).toEqual([]);
  expect(count(`create:${id}`)).toBe(2);
  expect(records.has(id)).toBe(true);
  expect(count('terminate:LOGICGONE')).toBe(0);
  await handle.signal(cancelSignal, { reason: 'test over' });
  await handle.result();
});

it('terminates once on a verified refusal of the create (evidence), after checking WeChat Pay holds no record', async () => {
  createFailure = ApplicationFailure.create({
    type: 'PARAM_ERROR',
    message: 'min_repayment_amount too low',
    nonRetryable: true,
    details: [{ source: 'answer', httpStatus: 400, verified: true }],
  });
  try {
    const handle = await start('LOGICPARAM', 1);
    const result = await handle.result();
    expect(result).toMatchObject({ phase: 'TERMINATED', evidence: 'SCHEDULE_REFUSED' });
    expect(result.failureReason).toMatch(/refused the schedule record \(PARAM_ERROR/);
    const id = result.installments[0]!.outRecordId;
    // The refusal was checked against what WeChat Pay holds before it counted.
    expect(calls.indexOf(`query:${id}`)).toBeGreaterThan(calls.indexOf(`create:${id}`));
    expect(count('terminate:LOGICPARAM')).toBe(1);
  } finally {
    createFailure = undefined;
  }
});

it('a verified "not found" answering the create is for an operator, not evidence: alert, no termination', async () => {
  createFailure = ApplicationFailure.create({
    type: 'RESOURCE_NOT_EXISTS',
    message: 'contract does not exist',
    nonRetryable: true,
    details: [{ source: 'answer', httpStatus: 404, verified: true }],
  });
  try {
    const handle = await start('LOGICNOTFOUND', 1);
    const opens = Date.parse((await handle.query(statusQuery)).installments[0]!.nextActionAt!);
    await env.sleep(opens - (await env.currentTimeMs()) + 5 * 60_000);
    const status = await handle.query(statusQuery);
    expect(['SCHEDULING', 'MONITORING']).toContain(status.phase);
    expect(status.alerts).toEqual([
      expect.objectContaining({ key: `create:${status.installments[0]!.outRecordId}`, kind: 'SCHEDULE_REFUSED' }),
    ]);
    expect(count('terminate:LOGICNOTFOUND')).toBe(0);
    await handle.signal(cancelSignal, { reason: 'test over' });
    await handle.result();
  } finally {
    createFailure = undefined;
  }
});

it('never terminates on an error it cannot classify (an unverified refusal): retries and raises an alert', async () => {
  createFailure = ApplicationFailure.create({
    type: 'PARAM_ERROR',
    message: 'refused, but the answer was not signed',
    nonRetryable: true,
    details: [{ source: 'answer', httpStatus: 400, verified: false }],
  });
  try {
    const handle = await start('LOGICUNSIGNED', 1);
    const opens = Date.parse((await handle.query(statusQuery)).installments[0]!.nextActionAt!);
    await env.sleep(opens - (await env.currentTimeMs()) + 45 * 60_000);
    const status = await handle.query(statusQuery);
    expect(['SCHEDULING', 'MONITORING']).toContain(status.phase);
    expect(status.alerts).toEqual([
      expect.objectContaining({ key: `create:${status.installments[0]!.outRecordId}`, errorClass: 'UNVERIFIED' }),
    ]);
    createFailure = undefined;
    await env.sleep('1 hour');
    const cleared = await handle.query(statusQuery);
    expect(cleared.alerts).toEqual([]);
    expect(cleared.installments[0]!.state).toBe('SCHEDULED');
    expect(count('terminate:LOGICUNSIGNED')).toBe(0);
    await handle.signal(cancelSignal, { reason: 'test over' });
    await handle.result();
  } finally {
    createFailure = undefined;
  }
});

it('terminates an unsigned contract at the signing deadline; the contract is not authorized: already terminated', async () => {
  const handle = await start('LOGICSIGN', 1, 'poll', { signingPollIntervalSeconds: 3600 });
  await env.sleep('73 hours');
  const result = await handle.result();
  expect(result.phase).toBe('TERMINATED');
  expect(result.failureReason).toBe('contract not signed within 72 hours');
  expect(count('create:')).toBeGreaterThan(0); // other tests
  expect(count('terminate:LOGICSIGN')).toBe(1);
});

it('checks the plan against the moment it was started, not when a worker first ran it', async () => {
  const today = shanghaiDateOf(await env.currentTimeMs());
  // Started now; its first workflow task runs three days later (a worker outage, simulated with a start delay).
  const handle = await env.client.workflow.start(repaymentLifecycle, {
    taskQueue: 'logic',
    workflowId: workflowIdFor('LOGICLATE'),
    startDelay: '3 days',
    args: [oneInstallmentInput('LOGICLATE', today, 1, resolvePolicy(undefined, undefined), 'logic-compensation')],
  });
  await env.sleep('3 days');
  let status: LifecycleStatus | undefined;
  for (let i = 0; i < 50 && !status?.alerts.length; i++) {
    status = await handle.query(statusQuery).catch(() => undefined);
    if (!status?.alerts.length) await env.sleep('1 hour');
  }
  // Valid when started; by the time it ran, the date had passed: a missed window for an operator, not a refusal.
  expect(status?.installments[0]!.state).toBe('MISSED');
  expect(status?.alerts[0]).toMatchObject({ kind: 'MISSED_WINDOW' });
  await handle.terminate('test over');
});

it('falls back to a plain remark when WeChat Pay refuses the one built (never the same refusal forever)', async () => {
  terminateAnswers.set('LOGICREMARK', (remark) =>
    remark.startsWith('Cancelled') ? verifiedRefusal('PARAM_ERROR', 'contract_termination_remark') : undefined,
  );
  const handle = await start('LOGICREMARK', 1);
  await handle.signal(cancelSignal, { reason: '理由'.repeat(40) });
  const result = await handle.result();
  expect(result.phase).toBe('CANCELLED');
  expect(result.termination?.remark).toBe('Terminated by the repayment lifecycle');
  expect(count('terminate:LOGICREMARK')).toBe(2);
});

it('keeps retrying a refused termination on a long timer, continuing as new, until it goes through once', async () => {
  // Refused (verified) while the signing query still finds the contract authorized: not done, retried.
  let refuse = true;
  terminateAnswers.set('LOGICTERMCAN', () => (refuse ? verifiedRefusal('INVALID_REQUEST', 'try later') : undefined));
  signingAnswer.set('LOGICTERMCAN', 'AUTHORIZED');
  const handle = await start('LOGICTERMCAN', 1, 'none', { terminationRetryMinutes: 1, continueAsNewAfterEvents: 200 });
  await handle.signal(cancelSignal, { reason: 'loan sold' });
  const refused = await (async () => {
    for (let i = 0; i < 200; i++) {
      const status = await handle.query(statusQuery);
      if (status.continuedAsNewCount >= 1 && status.alerts.some((a) => a.kind === 'TERMINATION_REFUSED')) return status;
      await env.sleep('5 minutes');
    }
    throw new Error('never continued as new while terminating');
  })();
  expect(refused.phase).toBe('TERMINATING');
  refuse = false;
  await handle.executeUpdate(resolveAlertUpdate, { args: [{ alert: 'terminate', action: 'retry' }] });
  const result = await handle.result();
  expect(result.phase).toBe('CANCELLED');
  expect(result.termination?.alreadyTerminated).toBe(false);
  expect(result.alerts).toEqual([]);
  expect(count('terminate:LOGICTERMCAN')).toBeGreaterThan(5);
});

it('validates updates before they enter history, tracks a compensation bill, and cancels', async () => {
  const handle = await start('LOGICUPD', 2);
  await expect(
    handle.executeUpdate(modifyPlanUpdate, {
      args: [{ add: [{ repaymentAmount: '-1', minRepaymentAmount: '1', repaymentDate: '2099-01-01' }] }],
    }),
  ).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
  const events = (await handle.fetchHistory()).events ?? [];
  expect(events.some((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toBe(false);
  const changed = await handle.executeUpdate(modifyPlanUpdate, {
    args: [{ add: [{ repaymentAmount: '100', minRepaymentAmount: '5', repaymentDate: '2099-01-01' }] }],
  });
  expect(changed.installments).toHaveLength(3);

  await handle.signal(compensationBillReportedSignal, { outBillNo: 'LOGICBILL1' });
  await env.sleep('20 minutes');
  expect((await handle.query(statusQuery)).compensationBills[0]?.state).toBe('TRACKING');
  bills.set('LOGICBILL1', 'SUCCESS');
  await env.sleep('20 minutes');
  expect((await handle.query(statusQuery)).compensationBills[0]).toMatchObject({ state: 'SUCCESS', amount: '500' });

  await handle.signal(cancelSignal, { reason: 'loan repaid offline' });
  const result = await handle.result();
  expect(result).toMatchObject({ phase: 'CANCELLED', cancelReason: 'loan repaid offline' });
  expect(count('terminate:LOGICUPD')).toBe(1);
  await expect(handle.executeUpdate(modifyPlanUpdate, { args: [{ add: [] }] })).rejects.toThrow();
});

it('continues a 36-installment contract as new and completes', async () => {
  const handle = await start('LOGIC36', 36, 'none', { continueAsNewAfterEvents: 600, pollIntervalHours: 72 });
  const status = await lender(handle);
  expect(status.phase).toBe('COMPLETED');
  expect(status.continuedAsNewCount).toBeGreaterThanOrEqual(1);
  expect(status.installments.filter((i) => i.state === 'SETTLED')).toHaveLength(36);
  const creates = status.installments.map((r) => count(`create:${r.outRecordId}`));
  expect(creates).toEqual(Array(36).fill(1));
}, 120_000);
