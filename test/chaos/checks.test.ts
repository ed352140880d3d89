import type { Evidence, RunFacts, WorkflowFacts } from '../../src/chaos/collect';
import { runChecks, type CheckContext, type CheckResult } from '../../src/chaos/checks';
import { Journal } from '../../src/chaos/journal';
import type { LifecycleSpec } from '../../src/chaos/plans';
import type { LogScan } from '../../src/chaos/secrets';
import { addDays, shanghaiDateOf } from '../../src/domain/calendar';
import type { LifecycleStatus } from '../../src/domain/status';
import type { SandboxContract, SandboxRecord } from '../../src/sandbox/model';
import type { RequestLogEntry } from '../../src/sandbox/requestLog';

/**
 * The independent checker on made-up evidence: a clean run passes every check, and each kind of violation the issue
 * names is caught by its check (and only counted there), so that a chaos run's PASS means something.
 */

const NOW = Date.parse('2026-11-28T10:00:00Z');
const TODAY = shanghaiDateOf(NOW);
const MINUTE = 60_000;

function spec(code: string, overrides: Partial<LifecycleSpec> = {}): LifecycleSpec {
  return {
    index: 0,
    plan: {
      outContractCode: code,
      contractId: `WXC${code}`,
      appid: 'wxd678efh567hg6787',
      openid: `oChaos${'x'.repeat(22)}`,
      signature: { mode: 'poll' },
      installments: [
        {
          outRecordId: `R${code}`,
          repaymentAmount: '10000',
          minRepaymentAmount: '1000',
          repaymentDate: addDays(TODAY, 3),
        },
      ],
    },
    signing: 'at-once',
    behaviour: 'monitor',
    cadence: 'weekly',
    window: 'now',
    startAtSec: 0,
    ...overrides,
  };
}

function run(overrides: Partial<RunFacts> = {}): RunFacts {
  return {
    runId: 'run-1',
    status: 'RUNNING',
    startTime: NOW - 20 * MINUTE,
    events: 40,
    openTimers: 1,
    openActivities: 0,
    openChildStarts: 0,
    workflowTaskFailing: false,
    workflowTaskOpen: false,
    alertUpserts: [],
    forgedResults: [],
    plaintextPayloads: 0,
    plaintextHits: [],
    ...overrides,
  };
}

function workflow(code: string, runs: RunFacts[], status?: Partial<LifecycleStatus>): WorkflowFacts {
  const last = runs.at(-1)!;
  return {
    workflowId: `repayment-${code}`,
    type: 'repaymentLifecycle',
    runs,
    ...(status
      ? { phase: status.phase, ...(last.status === 'RUNNING' ? { status: status as LifecycleStatus } : {}) }
      : {}),
  };
}

const contract = (
  code: string,
  state: SandboxContract['state'],
  extra: Partial<SandboxContract> = {},
): SandboxContract => ({
  out_contract_code: code,
  contract_id: `WXC${code}`,
  appid: 'wxd678efh567hg6787',
  openid: 'o',
  plan_id: 'p',
  display_name: 'd',
  state,
  ...(state !== 'UNSIGNED' ? { signed_time: '2026-11-28T17:30:00+08:00' } : {}),
  ...extra,
});

const record = (code: string, extra: Partial<SandboxRecord> = {}): SandboxRecord => ({
  out_record_id: `R${code}`,
  contract_id: `WXC${code}`,
  appid: 'wxd678efh567hg6787',
  openid: 'o',
  repayment_amount: '10000',
  min_repayment_amount: '1000',
  repayment_date: addDays(TODAY, 3),
  created_time: '2026-11-28T17:40:00+08:00',
  ...extra,
});

let seq = 0;
const request = (
  endpoint: RequestLogEntry['endpoint'],
  body: unknown,
  status: number,
  at: number,
  fault?: string,
): RequestLogEntry => ({
  seq: ++seq,
  at: new Date(at).toISOString(),
  listener: 'primary',
  method: 'POST',
  path: '/v3/…',
  endpoint,
  status,
  body,
  ...(fault ? { fault: fault as RequestLogEntry['fault'] } : {}),
});

const cleanLogs = (): LogScan => ({
  files: 3,
  lines: 100,
  findings: [],
  counts: { 'private-key': 0, authorization: 0, 'secret-key': 0, openid: 0 },
});

interface World {
  book: LifecycleSpec[];
  journal: Journal;
  evidence: Evidence;
  logs: LogScan;
}

/** One healthy lifecycle: signed, its record created once as planned, polled on a timer. */
function cleanWorld(): World {
  const journal = new Journal();
  journal.add({ at: NOW - 20 * MINUTE, actor: 'lender', action: 'start', code: 'OK1', outcome: 'ok' });
  return {
    book: [spec('OK1')],
    journal,
    evidence: {
      contracts: [contract('OK1', 'AUTHORIZED')],
      records: [record('OK1')],
      bills: [],
      requests: [
        request(
          'schedule-create',
          { contract_id: 'WXCOK1', schedule_items: [{ out_record_id: 'ROK1' }] },
          200,
          NOW - 19 * MINUTE,
        ),
      ],
      workflows: new Map([['repayment-OK1', workflow('OK1', [run()], { phase: 'MONITORING' })]]),
      collectedAt: NOW,
    },
    logs: cleanLogs(),
  };
}

function check(world: World, healthy = 5 * MINUTE): Map<string, CheckResult> {
  const ctx: CheckContext = {
    ...world,
    signingDeadlineMs: 4 * MINUTE,
    scheduleLeadDays: 7,
    evidenceActsWithinMs: 3 * MINUTE,
    healthyMs: healthy,
  };
  return new Map(runChecks(ctx).map((r) => [r.id, r] as const));
}

function failing(world: World, healthy = 5 * MINUTE): Record<string, number> {
  return Object.fromEntries(
    [...check(world, healthy).values()].filter((r) => !r.passed).map((r) => [r.id, r.violations]),
  );
}

it('passes a clean run, having examined what it judges', () => {
  const results = check(cleanWorld());
  expect(failing(cleanWorld())).toEqual({});
  expect(results.get('lost')?.examined).toBe(1);
  expect(results.get('duplicated')?.examined).toBe(1);
});

it('catches a lifecycle lost: unknown to Temporal, or running on nothing, or an open window with no record', () => {
  const missing = cleanWorld();
  missing.evidence.workflows.clear();
  expect(failing(missing)).toEqual({ lost: 1 });

  const idle = cleanWorld();
  idle.evidence.workflows.set('repayment-OK1', workflow('OK1', [run({ openTimers: 0 })], { phase: 'MONITORING' }));
  expect(failing(idle)).toEqual({ lost: 1 });
  // The same idle run in an alert state is waiting for an operator: not lost.
  idle.evidence.workflows.get('repayment-OK1')!.alert = 'create:SERVER_ERROR';
  expect(failing(idle)).toEqual({});

  const unscheduled = cleanWorld();
  unscheduled.evidence.records = [];
  unscheduled.evidence.requests = [];
  expect(failing(unscheduled)).toEqual({ lost: 1 });
  // Healthy too briefly for a retry to have come round: not decided, and said so.
  expect(failing(unscheduled, 2 * MINUTE)).toEqual({});
  expect(check(unscheduled, 2 * MINUTE).get('lost')?.undecided).toEqual([
    expect.stringContaining('healthy only 120 s'),
  ]);
});

it('catches a record created twice or unlike the plan', () => {
  const twice = cleanWorld();
  twice.evidence.records.push(record('OK1', { out_record_id: 'RSECOND' }));
  // Two records for one installment, and the second one under an id the plan does not give it.
  expect(failing(twice)).toEqual({ duplicated: 2 });

  const resent = cleanWorld();
  resent.evidence.requests.push(
    request(
      'schedule-create',
      { contract_id: 'WXCOK1', schedule_items: [{ out_record_id: 'ROK1' }] },
      200,
      NOW - 5 * MINUTE,
      'reset',
    ),
  );
  expect(failing(resent)).toEqual({ duplicated: 1 });

  const other = cleanWorld();
  other.evidence.records = [record('OK1', { repayment_amount: '10001' })];
  expect(failing(other)).toEqual({ duplicated: 1 });
});

it('catches a termination without evidence, and accepts each kind of evidence', () => {
  const world = cleanWorld();
  world.evidence.contracts = [contract('OK1', 'TERMINATED', { termination_mode: 'BY_MERCHANT' })];
  world.evidence.requests.push(request('terminate', { out_contract_code: 'OK1' }, 200, NOW - 2 * MINUTE));
  world.evidence.workflows.set(
    'repayment-OK1',
    workflow('OK1', [
      run({
        status: 'COMPLETED',
        openTimers: 0,
        result: { phase: 'TERMINATED', evidence: 'SCHEDULE_REFUSED' } as LifecycleStatus,
      }),
    ]),
  );
  world.evidence.workflows.get('repayment-OK1')!.phase = 'TERMINATED';
  expect(failing(world)).toEqual({ 'wrongly-terminated': 1 });

  const cancelled = { ...world, journal: new Journal() };
  cancelled.journal.add({ at: NOW - 20 * MINUTE, actor: 'lender', action: 'start', code: 'OK1', outcome: 'ok' });
  cancelled.journal.add({ at: NOW - 3 * MINUTE, actor: 'lender', action: 'cancel', code: 'OK1', outcome: 'ok' });
  expect(failing(cancelled)).toEqual({});

  // Never signed, terminated after the signing deadline: evidence; before it: none.
  const unsigned = {
    ...world,
    evidence: {
      ...world.evidence,
      contracts: [contract('OK1', 'TERMINATED', { termination_mode: 'BY_MERCHANT', signed_time: undefined })],
    },
  };
  expect(failing(unsigned)).toEqual({});
  unsigned.journal = new Journal();
  unsigned.journal.add({ at: NOW - 5 * MINUTE, actor: 'lender', action: 'start', code: 'OK1', outcome: 'ok' });
  expect(failing(unsigned)).toEqual({ 'wrongly-terminated': 1 });
});

it('catches a terminate request after one went through, even one whose answer was lost', () => {
  const world = cleanWorld();
  world.evidence.contracts = [contract('OK1', 'TERMINATED', { termination_mode: 'BY_MERCHANT' })];
  world.journal.add({ at: NOW - 10 * MINUTE, actor: 'lender', action: 'cancel', code: 'OK1', outcome: 'ok' });
  world.evidence.requests.push(request('terminate', { out_contract_code: 'OK1' }, 503, NOW - 9 * MINUTE));
  world.evidence.requests.push(request('terminate', { out_contract_code: 'OK1' }, 200, NOW - 8 * MINUTE, 'reset'));
  world.evidence.workflows.set('repayment-OK1', workflow('OK1', [run({ status: 'COMPLETED', openTimers: 0 })]));
  expect(failing(world)).toEqual({});
  world.evidence.requests.push(request('terminate', { out_contract_code: 'OK1' }, 400, NOW - 7 * MINUTE));
  // Never answered AUTHORIZED: nothing could confirm the lost answer, so a refused resend is allowed, and said.
  expect(failing(world)).toEqual({});
  expect(check(world).get('terminate-once')!.undecided).toEqual([expect.stringMatching(/^1 contract\(s\) never/)]);
  // Once the signing query answered AUTHORIZED, the worker could have confirmed it: the resend is a violation.
  world.journal.add({ at: NOW - 15 * MINUTE, actor: 'user', action: 'contract', code: 'OK1', outcome: 'ok' });
  world.evidence.requests.push({
    ...request('contract-query', undefined, 200, NOW - 12 * MINUTE),
    method: 'GET',
    path: '/v3/ecommerce/individual-contracts/out-contract-code/OK1?appid=wxd678efh567hg6787',
  });
  expect(failing(world)).toEqual({ 'terminate-once': 1 });
});

it('catches an answer trusted that failed verification', () => {
  const forged = cleanWorld();
  forged.evidence.requests.push(request('schedule-query', undefined, 200, NOW - 4 * MINUTE, 'forged'));
  forged.evidence.workflows.get('repayment-OK1')!.runs[0]!.forgedResults.push('{"repaymentAmount":"404404404"}');
  expect(failing(forged)).toEqual({ 'trusted-unverified': 1 });

  const mismatch = cleanWorld();
  mismatch.evidence.workflows
    .get('repayment-OK1')!
    .runs[0]!.alertUpserts.push({ at: NOW, value: 'poll:RECORD_MISMATCH' });
  expect(failing(mismatch)).toEqual({ 'trusted-unverified': 1 });

  const believedSigned = cleanWorld();
  believedSigned.evidence.requests.push({
    ...request('schedule-create', { contract_id: 'WXCOK1' }, 400, NOW - 4 * MINUTE),
    invented: ['detail.issue=CONTRACT_NOT_AUTHORIZED'],
  });
  expect(failing(believedSigned)).toEqual({ 'trusted-unverified': 1 });
});

it('catches evidence that did not end its lifecycle, and lender results accepted that must be refused', () => {
  const world = cleanWorld();
  world.journal.add({ at: NOW - 10 * MINUTE, actor: 'user', action: 'user-terminate', code: 'OK1', outcome: 'ok' });
  world.evidence.contracts = [contract('OK1', 'TERMINATED', { termination_mode: 'BY_USER' })];
  expect(failing(world)).toEqual({ 'evidence-ends': 1 });

  const lender = cleanWorld();
  lender.journal.add({ at: NOW - 5 * MINUTE, actor: 'lender', action: 'wrong-id-update', code: 'OK1', outcome: 'ok' });
  expect(failing(lender)).toEqual({ 'lender-messages': 1 });
});

it('catches a secret in a log line and a payload in clear in a history', () => {
  const world = cleanWorld();
  world.logs.findings.push({ kind: 'openid', file: 'worker-1.log', line: 7, excerpt: '… [FOUND] …' });
  world.logs.counts.openid = 1;
  expect(failing(world)).toEqual({ secrets: 1 });

  const history = cleanWorld();
  history.evidence.workflows.get('repayment-OK1')!.runs[0]!.plaintextPayloads = 2;
  history.evidence.workflows.get('repayment-OK1')!.runs[0]!.plaintextHits.push('oChaosxxxxxxxxxxxxxxxxxxxxxx');
  expect(failing(history)).toEqual({ secrets: 2 });
});
