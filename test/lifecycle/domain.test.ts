import { addDays, isCalendarDate, shanghaiDateOf, shanghaiMidnight } from '../../src/domain/calendar';
import {
  actionDue,
  applyResult,
  markDue,
  markPolled,
  markScheduled,
  newInstallmentRecord,
  pollJitterMs,
  recordMismatches,
  windowOpensAt,
} from '../../src/domain/installments';
import { applyModification, checkModification } from '../../src/domain/modification';
import {
  deriveOutRecordId,
  parsePlan,
  PlanValidationError,
  workflowIdFor,
  type RepaymentPlanInput,
} from '../../src/domain/plan';
import { DEFAULT_LIFECYCLE_POLICY as POLICY } from '../../src/domain/policy';
import { CancelRequestSchema, CompensationBillOutcomeSchema } from '../../src/domain/signals';
import { terminationRemark } from '../../src/domain/termination';

const plan = (over: Partial<RepaymentPlanInput> = {}): RepaymentPlanInput => ({
  outContractCode: 'C2026001',
  contractId: 'WXC1',
  appid: 'wxapp1',
  openid: 'oUser1',
  signature: { mode: 'none' },
  installments: [
    { repaymentAmount: '10000', minRepaymentAmount: '500', repaymentDate: '2026-12-20' },
    { repaymentAmount: '10000', minRepaymentAmount: '500', repaymentDate: '2027-01-20' },
  ],
  ...over,
});

function issuesOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof PlanValidationError) return error.issues.map((i) => `${i.path}: ${i.rule}`);
    throw error;
  }
  throw new Error('expected a PlanValidationError');
}

describe('calendar (Asia/Shanghai, UTC+8)', () => {
  it('maps instants to Shanghai dates across the UTC midnight', () => {
    expect(shanghaiDateOf(Date.parse('2026-03-01T15:59:59Z'))).toBe('2026-03-01');
    expect(shanghaiDateOf(Date.parse('2026-03-01T16:00:00Z'))).toBe('2026-03-02');
    expect(shanghaiMidnight('2026-03-02')).toBe(Date.parse('2026-03-01T16:00:00Z'));
    expect(addDays('2028-02-28', 1)).toBe('2028-02-29');
    expect(isCalendarDate('2027-02-29')).toBe(false);
    expect(isCalendarDate('2028-02-29')).toBe(true);
  });
});

describe('RepaymentPlanSchema / parsePlan', () => {
  it('derives stable, distinct, valid out_record_ids', () => {
    const parsed = parsePlan(plan());
    const ids = parsed.installments.map((i) => i.outRecordId);
    expect(ids).toEqual([deriveOutRecordId('C2026001', 0), deriveOutRecordId('C2026001', 1)]);
    expect(ids[0]).not.toBe(ids[1]);
    expect(ids[0]).toMatch(/^[0-9A-Za-z]{1,32}$/);
    expect(parsePlan(plan()).installments[0]!.outRecordId).toBe(ids[0]);
    expect(workflowIdFor('C2026001')).toBe('repayment-C2026001');
  });

  it('names the field and the rule for each bad value', () => {
    const issues = issuesOf(() =>
      parsePlan(
        plan({
          outContractCode: 'C-1',
          installments: [
            { repaymentAmount: '10.5', minRepaymentAmount: '1', repaymentDate: '2026-12-20' },
            { repaymentAmount: '100', minRepaymentAmount: '200', repaymentDate: '2026-02-30' },
            { outRecordId: 'R1', repaymentAmount: '100', minRepaymentAmount: '1', repaymentDate: '2027-01-01' },
            { outRecordId: 'R1', repaymentAmount: '100', minRepaymentAmount: '1', repaymentDate: '2027-01-01' },
          ],
        }),
      ),
    );
    expect(issues).toEqual(
      expect.arrayContaining([
        'outContractCode: must contain only digits and letters',
        'installments[0].repaymentAmount: must be a positive integer amount in fen (decimal string)',
        'installments[1].repaymentDate: must be a calendar date YYYY-MM-DD',
        'installments[1].minRepaymentAmount: must not exceed repaymentAmount',
      ]),
    );
    // The uniqueness rules run once the shape is right.
    const dupes = issuesOf(() =>
      parsePlan(
        plan({
          installments: [
            { outRecordId: 'R1', repaymentAmount: '100', minRepaymentAmount: '1', repaymentDate: '2027-01-01' },
            { outRecordId: 'R1', repaymentAmount: '100', minRepaymentAmount: '1', repaymentDate: '2027-01-01' },
          ],
        }),
      ),
    );
    expect(dupes).toEqual([
      'installments[1].outRecordId: duplicates installments[0]',
      'installments[1].repaymentDate: duplicates installments[0]',
    ]);
  });

  it('compares amounts as integers, not strings or floats', () => {
    const ok = plan({
      installments: [
        { repaymentAmount: '9007199254740993', minRepaymentAmount: '9007199254740992', repaymentDate: '2026-12-20' },
      ],
    });
    expect(() => parsePlan(ok)).not.toThrow();
    const bad = plan({
      installments: [{ repaymentAmount: '9', minRepaymentAmount: '10', repaymentDate: '2026-12-20' }],
    });
    expect(issuesOf(() => parsePlan(bad))).toEqual([
      'installments[0].minRepaymentAmount: must not exceed repaymentAmount',
    ]);
  });

  it('rejects repayment dates that are not after today', () => {
    expect(issuesOf(() => parsePlan(plan(), '2026-12-20'))).toEqual([
      'installments[0].repaymentDate: must be after today (2026-12-20, Asia/Shanghai)',
    ]);
    expect(() => parsePlan(plan(), '2026-12-19')).not.toThrow();
  });

  it('refuses unknown fields and empty plans', () => {
    expect(issuesOf(() => parsePlan({ ...plan(), installments: [] }))).toEqual([
      'installments: must hold at least one installment',
    ]);
    expect(issuesOf(() => parsePlan({ ...plan(), extra: 1 }))[0]).toMatch(/^\(root\): /);
  });
});

describe('installment state machine', () => {
  const item = parsePlan(plan()).installments[0]!;

  it('waits for the window, schedules, polls with jitter, becomes due, settles', () => {
    const record = newInstallmentRecord(item, POLICY);
    const opens = windowOpensAt(item.repaymentDate, POLICY.scheduleLeadDays);
    expect(new Date(opens).toISOString()).toBe('2026-12-12T16:00:00.000Z'); // 2026-12-13 00:00 +08:00
    expect(actionDue(record, opens - 1)).toBeUndefined();
    expect(actionDue(record, opens)).toBe('schedule');

    markScheduled(record, opens, POLICY);
    const firstPoll = Date.parse(record.nextActionAt!);
    expect(firstPoll - opens).toBeGreaterThanOrEqual(24 * 3_600_000);
    expect(firstPoll - opens).toBeLessThanOrEqual(25 * 3_600_000);
    expect(actionDue(record, firstPoll)).toBe('poll');
    markPolled(record, firstPoll, 'MATCHES', POLICY);
    expect(record.state).toBe('POLLING');

    const due = shanghaiMidnight(item.repaymentDate);
    expect(actionDue(record, due)).toBe('due');
    markDue(record, POLICY);
    expect(record.state).toBe('DUE');
    expect(actionDue(record, due + 7 * 86_400_000)).toBe('result-overdue');
    expect(applyResult(record, { outcome: 'SUCCESS', reportedAt: 'x' })).toBe(true);
    expect(record.state).toBe('SETTLED');
    expect(applyResult(record, { outcome: 'FAILED', reportedAt: 'y' })).toBe(false);
  });

  it('spreads polls deterministically within the jitter', () => {
    const spreads = ['R1', 'R2', 'R3', 'R4'].map((id) => pollJitterMs(id, 0, 3600));
    expect(new Set(spreads).size).toBeGreaterThan(1);
    spreads.forEach((ms) => expect(ms).toBeLessThanOrEqual(3_600_000));
    expect(pollJitterMs('R1', 0, 3600)).toBe(spreads[0]);
    expect(pollJitterMs('R1', 0, 0)).toBe(0);
  });

  it('lists what differs between the scheduled and the stored record', () => {
    const stored = {
      outRecordId: item.outRecordId,
      contractId: 'WXC1',
      repaymentAmount: '010000',
      minRepaymentAmount: '500',
      repaymentDate: item.repaymentDate,
    };
    expect(recordMismatches(item, 'WXC1', stored)).toEqual([]);
    expect(recordMismatches(item, 'WXC2', { ...stored, repaymentAmount: '9999', repaymentDate: '2026-12-21' })).toEqual(
      ['contract_id', 'repayment_date', 'repayment_amount'],
    );
  });
});

describe('plan modification', () => {
  const records = () => parsePlan(plan()).installments.map((i) => newInstallmentRecord(i, POLICY));
  const context = { outContractCode: 'C2026001', today: '2026-11-30' };

  it('adds with derived ids and reschedules waiting installments', () => {
    const current = records();
    const checked = checkModification(
      current,
      {
        add: [{ repaymentAmount: '300', minRepaymentAmount: '15', repaymentDate: '2027-02-20' }],
        reschedule: [{ outRecordId: current[0]!.outRecordId, repaymentDate: '2026-12-22' }],
      },
      context,
    );
    applyModification(current, checked, POLICY);
    expect(current).toHaveLength(3);
    expect(current[2]!.outRecordId).toBe(deriveOutRecordId('C2026001', 2));
    expect(current[0]!.repaymentDate).toBe('2026-12-22');
    expect(current[0]!.nextActionAt).toBe(new Date(windowOpensAt('2026-12-22', 7)).toISOString());
  });

  it('rejects bad modifications naming the field', () => {
    const current = records();
    current[1]!.state = 'SCHEDULED';
    const issues = issuesOf(() =>
      checkModification(
        current,
        {
          add: [{ repaymentAmount: '300', minRepaymentAmount: '15', repaymentDate: '2026-12-20' }],
          reschedule: [
            { outRecordId: current[1]!.outRecordId, repaymentDate: '2027-03-01' },
            { outRecordId: 'NOPE', repaymentAmount: '1' },
            { outRecordId: current[0]!.outRecordId, repaymentDate: '2026-11-30', minRepaymentAmount: '20000' },
          ],
        },
        context,
      ),
    );
    expect(issues).toEqual(
      expect.arrayContaining([
        'reschedule[0].outRecordId: must name an installment not scheduled yet (it is SCHEDULED)',
        'reschedule[1].outRecordId: must name an installment of this lifecycle',
        'reschedule[2].repaymentDate: must be after today (2026-11-30, Asia/Shanghai)',
        'reschedule[2].minRepaymentAmount: must not exceed repaymentAmount',
      ]),
    );
    expect(
      issuesOf(() =>
        checkModification(
          current,
          { add: [{ repaymentAmount: '3', minRepaymentAmount: '1', repaymentDate: '2027-01-20' }] },
          context,
        ),
      ),
    ).toEqual(['add[0].repaymentDate: must be unique in the plan']);
    expect(issuesOf(() => checkModification(current, {}, context))).toEqual([
      '(root): must add or reschedule at least one installment',
    ]);
  });

  it('refuses to reschedule an installment whose create call is in flight', () => {
    const current = records();
    const id = current[0]!.outRecordId;
    const change = { reschedule: [{ outRecordId: id, repaymentDate: '2026-12-23' }] };
    expect(issuesOf(() => checkModification(current, change, { ...context, busy: (r) => r === id }))).toEqual([
      'reschedule[0].outRecordId: is being scheduled right now; try again once it is SCHEDULED',
    ]);
    expect(() => checkModification(current, change, { ...context, busy: () => false })).not.toThrow();
  });
});

describe('termination remark', () => {
  it('keeps at most 128 bytes of UTF-8, never splits a character, drops 4-byte characters', () => {
    expect(terminationRemark('  short\n reason ')).toBe('short reason');
    const long = terminationRemark('还款失败'.repeat(50));
    expect(Buffer.byteLength(long, 'utf8')).toBeLessThanOrEqual(128);
    expect(Buffer.byteLength(long, 'utf8')).toBeGreaterThan(120);
    expect(long.endsWith('…')).toBe(true);
    expect(terminationRemark('ok 😀 done')).toBe('ok done');
  });
});

describe('text that WeChat Pay APIv3 would refuse', () => {
  it('is refused in a plan and in signals, and never reaches a termination remark', () => {
    const plan = {
      outContractCode: 'TEXT1',
      contractId: 'WXC1',
      appid: 'wxd678efh567hg6787',
      openid: 'oUser',
      signature: { mode: 'none' },
      installments: [
        { repaymentAmount: '100', minRepaymentAmount: '10', repaymentDate: '2099-01-10', description: 'loan 😀' },
      ],
    };
    expect(() => parsePlan(plan)).toThrow(PlanValidationError);
    expect(() => parsePlan(plan)).toThrow(/installments\[0\]\.description: must use only 1-3-byte UTF-8/);
    expect(CancelRequestSchema.safeParse({ reason: 'bad \uD800 half' }).success).toBe(false);
    expect(terminationRemark('cancelled \uD800 by 😀 lender')).toBe('cancelled by lender');
  });
});

describe('compensation bill outcome signal', () => {
  it('accepts only final states with a valid time', () => {
    const ok = { outBillNo: 'BILL1', state: 'SUCCESS', amount: '10000', at: '2026-11-23T12:00:00.000Z' };
    expect(CompensationBillOutcomeSchema.safeParse(ok).success).toBe(true);
    expect(CompensationBillOutcomeSchema.safeParse({ ...ok, state: 'REPORTED' }).success).toBe(false);
    expect(CompensationBillOutcomeSchema.safeParse({ ...ok, amount: '1.5' }).success).toBe(false);
    expect(CompensationBillOutcomeSchema.safeParse({ ...ok, at: 'yesterday' }).success).toBe(false);
  });
});
