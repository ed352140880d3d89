import { FaultBook } from '../../src/domain/alerts';
import { newInstallmentRecord } from '../../src/domain/installments';
import { parsePlan, resolvePolicy, type RepaymentPlan } from '../../src/domain/plan';
import type { LifecyclePolicy } from '../../src/domain/policy';
import type { CarriedState, LifecyclePhase } from '../../src/domain/status';
import type { LifecycleCore } from '../../src/workflows/lifecycle/core';
import {
  currentDetails,
  plannedActions,
  shanghaiTime,
  timerSummary,
} from '../../src/workflows/lifecycle/currentDetails';

/**
 * The Web UI's current details and the main loop's timer summary, from a lifecycle's state (the functions the
 * workflow calls; operatorCommands.test.ts shows the same text in the Web UI of a running lifecycle).
 */

const T0 = Date.parse('2026-11-28T09:00:00Z'); // 17:00 in Shanghai

function coreFor(signature: 'poll' | 'none', busy: string[] = [], policyOverrides = {}): LifecycleCore {
  const plan: RepaymentPlan = parsePlan({
    outContractCode: 'DETAILS1',
    contractId: 'WXCDETAILS1',
    appid: 'wxd678efh567hg6787',
    openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
    signature: { mode: signature },
    installments: [
      { outRecordId: 'R1', repaymentAmount: '100000', minRepaymentAmount: '100', repaymentDate: '2026-11-30' },
      { outRecordId: 'R2', repaymentAmount: '100000', minRepaymentAmount: '100', repaymentDate: '2026-12-30' },
    ],
  });
  const policy: LifecyclePolicy = resolvePolicy(policyOverrides, undefined);
  const state: CarriedState = {
    signed: signature === 'none',
    signingStartedAt: new Date(T0).toISOString(),
    installments: plan.installments.map((item) => newInstallmentRecord(item, policy)),
    compensationBills: [],
    continuedAsNewCount: 0,
    faults: [],
  };
  return {
    plan,
    policy,
    state,
    legacy: false,
    faults: new FaultBook(state.faults!, policy),
    events: {} as LifecycleCore['events'], // the details never read the lender events' outbox
    busy: (key) => busy.includes(key),
    launch: () => undefined,
    requestStop: () => undefined,
    classify: () => {
      throw new Error('not used');
    },
    continueAsNewIfDue: async () => undefined,
  };
}

const details = (core: LifecycleCore, phase: LifecyclePhase, final = false): string =>
  currentDetails(core, phase, final);

it('writes times as the lender reads them, in Asia/Shanghai', () => {
  expect(shanghaiTime(Date.parse('2026-11-28T09:05:00Z'))).toBe('2026-11-28 17:05:00 +08:00');
  expect(shanghaiTime(Date.parse('2026-12-31T16:00:00Z'))).toBe('2027-01-01 00:00:00 +08:00');
  expect(shanghaiTime(Date.parse('not a time'))).toBe('an unknown time');
});

it('before the signature: the next signing query and the deadline', () => {
  const core = coreFor('poll');
  core.state.nextSigningPollAt = new Date(T0 + 300_000).toISOString();
  const text = details(core, 'AWAITING_SIGNATURE');
  expect(text).toContain('- **Phase**: AWAITING_SIGNATURE\n');
  expect(text).toContain('2026-11-28 17:05:00 +08:00: ask WeChat Pay whether the user signed');
  expect(text).toContain('2026-12-01 17:00:00 +08:00: signing deadline: still unsigned then, the contract ends');
  expect(text).toContain('- **Alerts**: none');
  expect(text).not.toContain('oUpF8uMuAJO');
});

it('while monitoring: what runs now, what comes next and when, earliest first, and the demo time scale', () => {
  const core = coreFor('none', ['R2'], { pollJitterSeconds: 0 });
  core.policy.demo = { pollIntervalSeconds: 15 };
  const [r1, r2] = core.state.installments;
  r1!.state = 'POLLING';
  r1!.nextActionAt = new Date(T0 + 15_000).toISOString();
  r2!.state = 'WAITING';
  core.state.nextContractCheckAt = new Date(T0 + 86_400_000).toISOString();
  const text = details(core, 'MONITORING');
  expect(text).toContain('- **Now**: creating the schedule record R2');
  expect(text).toContain(
    '- **Next**: 2026-11-28 17:00:15 +08:00: poll the schedule record R1; then 2026-11-29 17:00:00 +08:00: check ' +
      'that the contract is still in force',
  );
  expect(text).toContain('- **Installments**: 1 POLLING, 1 WAITING; next repayment 2026-11-30');
  expect(text).toContain('- **Time scale**: demo, polls every 15 s');
  // The loop's timer names what it waits for; a time nothing is planned at says so plainly.
  expect(timerSummary(core, T0 + 15_000)).toBe('Until 2026-11-28 17:00:15 +08:00: poll the schedule record R1');
  expect(timerSummary(core, T0 + 7_000)).toBe('Until 2026-11-28 17:00:07 +08:00: the next step');
});

it('names a record that falls due and the waiting window of the next one', () => {
  const core = coreFor('none');
  const [r1] = core.state.installments;
  r1!.state = 'POLLING';
  r1!.nextActionAt = '2026-11-29T16:00:00.000Z'; // 2026-11-30 00:00 in Shanghai: the repayment date begins
  const actions = plannedActions(core).map((action) => action.what);
  expect(actions).toEqual([
    "R1 falls due (2026-11-30): the lender's result is awaited",
    'create the schedule record of R2 (2026-12-30): its window opens',
  ]);
});

it('lists alerts with their kind, since when and the last error, and steps being retried', () => {
  const core = coreFor('none');
  core.faults.decision('poll', 'R1', 'RECORD_MISMATCH', 'repayment_amount differ', T0);
  core.faults.failed(
    'create',
    'R2',
    {
      class: 'infrastructure',
      errorClass: 'SERVER_ERROR',
      code: 'SYSTEM_ERROR',
      httpStatus: 500,
      outcomeUnknown: false,
      message: '500 SYSTEM_ERROR',
    },
    T0,
  );
  const text = details(core, 'MONITORING');
  expect(text).toContain('- **Alerts** (resolveAlert: retry, skip or terminate):\n');
  expect(text).toContain(
    '  - `poll:R1` RECORD_MISMATCH since 2026-11-28 17:00:00 +08:00 (1 failure): repayment_amount differ',
  );
  expect(text).toContain(
    '- **Retrying**: `create:R2` INFRASTRUCTURE/SERVER_ERROR since 2026-11-28 17:00:00 +08:00 (1 failure, next ' +
      'retry 2026-11-28 17:01:00 +08:00): 500 SYSTEM_ERROR',
  );
  expect(plannedActions(core).some((action) => action.what === 'retry creating the schedule record of R2')).toBe(true);
});

it('once ended: the phase with its evidence and reason, and nothing planned', () => {
  const core = coreFor('none');
  core.state.stop = { kind: 'cancel', evidence: 'LENDER_CANCELLED', reason: 'loan repaid early' };
  const text = details(core, 'CANCELLED', true);
  expect(text).toContain('- **Phase**: CANCELLED (LENDER_CANCELLED: loan repaid early)');
  expect(text).not.toContain('**Next**');
});
