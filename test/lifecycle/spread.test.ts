import { addDays, DAY_MS, shanghaiDateOf, shanghaiMidnight } from '../../src/domain/calendar';
import {
  actionDue,
  markDue,
  markPolled,
  markScheduled,
  newInstallmentRecord,
  windowOpensAt,
} from '../../src/domain/installments';
import { DEFAULT_LIFECYCLE_POLICY, type LifecyclePolicy } from '../../src/domain/policy';
import { contractSlotMs } from '../../src/domain/spread';
import type { InstallmentRecord } from '../../src/domain/status';

/**
 * The spread (patch spread-window-and-polls) as pure functions: each contract's instant of the day comes from its
 * code alone, so replays and continued runs compute the same timers; every create lands on the window's first day
 * strictly inside WeChat Pay's 14-day window, in Asia/Shanghai dates (the CST date line is 16:00 UTC), and every
 * poll falls on the contract's instant of a day before the repayment date, for every day of two years.
 */

const HOUR_MS = 3_600_000;
const POLICY: LifecyclePolicy = { ...DEFAULT_LIFECYCLE_POLICY };
const timeOfDay = (epochMs: number): number => (epochMs - shanghaiMidnight(shanghaiDateOf(epochMs))) % DAY_MS;
const utcDate = (epochMs: number): string => new Date(epochMs).toISOString().slice(0, 10);

function record(repaymentDate: string, policy: LifecyclePolicy, slotMs: number | undefined): InstallmentRecord {
  const item = { outRecordId: 'R1', repaymentAmount: '100000', minRepaymentAmount: '5000', repaymentDate };
  return newInstallmentRecord(item, policy, slotMs);
}

/**
 * Runs one installment through its window as the workflow does (create at its time, poll at each next time) and
 * returns what breaks a rule, so that thousands of cases cost one assertion each.
 */
function violations(date: string, policy: LifecyclePolicy, slotMs: number): string[] {
  const found: string[] = [];
  const check = (ok: boolean, what: string): void => void (ok || found.push(`${date}: ${what}`));
  const lead = Math.min(policy.scheduleLeadDays, 13);
  const interval = policy.pollIntervalHours * HOUR_MS;
  const r = record(date, policy, slotMs);
  const create = Date.parse(r.nextActionAt!);
  check(actionDue(r, create - 1) === undefined && actionDue(r, create) === 'schedule', 'create not due at its time');
  // On the window's first day (Asia/Shanghai) at the contract's instant, so WeChat Pay's "today" sees the date
  // 1..13 days ahead: strictly inside its 14-day window.
  const today = shanghaiDateOf(create);
  check(today === addDays(date, -lead), `create on ${today}, not the window's first day`);
  check(date > today && date <= addDays(today, 13), `create on ${today} outside the window`);
  check(timeOfDay(create) === slotMs, 'create off the contract instant');
  markScheduled(r, create + 250, policy, slotMs); // the call took a moment
  let polls = 0;
  let last = create;
  for (let i = 0; i < 400; i++) {
    const at = Date.parse(r.nextActionAt!);
    if (actionDue(r, at) === 'due') {
      check(at === shanghaiMidnight(date), 'due before the repayment date began');
      markDue(r, policy);
      break;
    }
    // Each poll after the last, at the contract's instant, on a day before the repayment date.
    check(actionDue(r, at) === 'poll' && at > last, 'poll out of order');
    check(shanghaiDateOf(at) < date, `poll on ${shanghaiDateOf(at)}`);
    check((at - create) % interval === 0, 'poll off the contract instant');
    polls++;
    last = at;
    markPolled(r, at + 1_500, 'MATCHES', policy, slotMs);
  }
  check(r.state === 'DUE', 'never became due');
  const planned = Math.ceil((lead * DAY_MS - slotMs) / interval) - 1;
  check(polls === planned, `${polls} polls, planned ${planned}`);
  return found;
}

describe("a contract's instant of the day", () => {
  it('depends on the contract code alone: the same on every call, replay and continued run', () => {
    // Pinned: a change of hash or seed would move every running lifecycle's timers.
    expect(contractSlotMs('LOAN20261124001', POLICY)).toBe(7_878_000); // 02:11:18
    expect(contractSlotMs('C2026001', POLICY)).toBe(4_386_000); // 01:13:06
    expect(contractSlotMs('C2026001', { ...POLICY, scheduleLeadDays: 3, pollIntervalHours: 72 })).toBe(4_386_000);
    // A policy pinned before the spread existed lacks its fields: the defaults apply.
    const { spreadStartMinutes: _s, spreadMinutes: _m, ...older } = POLICY;
    expect(contractSlotMs('C2026001', older)).toBe(4_386_000);
    // Carried across continue-as-new (JSON) the record keeps computing the same times.
    const slot = contractSlotMs('C2026001', POLICY);
    const first = record('2027-03-01', POLICY, slot);
    markScheduled(first, Date.parse(first.nextActionAt!), POLICY, slot);
    const carried = JSON.parse(JSON.stringify(first)) as InstallmentRecord;
    markPolled(first, Date.parse(first.nextActionAt!) + 10, 'MATCHES', POLICY, slot);
    markPolled(carried, Date.parse(carried.nextActionAt!) + 10, 'MATCHES', POLICY, slot);
    expect(carried).toEqual(first);
  });

  it('spreads 10,000 contracts over the span from 00:30, a handful per second at most', () => {
    const slots = Array.from({ length: 10_000 }, (_, i) => contractSlotMs(`BOOK${i}`, POLICY));
    expect(Math.min(...slots)).toBeGreaterThanOrEqual(30 * 60_000);
    expect(Math.max(...slots)).toBeLessThanOrEqual((30 + 240) * 60_000);
    expect(slots.filter((slot) => slot % 1000 !== 0)).toEqual([]);
    const perSecond = new Map<number, number>();
    for (const slot of slots) perSecond.set(slot, (perSecond.get(slot) ?? 0) + 1);
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(8);
    expect(perSecond.size).toBeGreaterThan(7_000);
    expect(contractSlotMs('ANY', { ...POLICY, spreadStartMinutes: 45, spreadMinutes: 0 })).toBe(45 * 60_000);
  });
});

describe('creates and polls inside the window, every day of two years', () => {
  const dates = Array.from({ length: 731 }, (_, i) => addDays('2027-01-01', i)); // 2028 is a leap year
  const codes = ['LOAN20261124001', 'C2026001', 'BOOK17', 'BOOK4242', 'Z'];
  const policies: Array<[string, LifecyclePolicy]> = [
    ['default (lead 7, daily)', POLICY],
    ['lead 1', { ...POLICY, scheduleLeadDays: 1 }],
    ['lead 13', { ...POLICY, scheduleLeadDays: 13 }],
    ['lead 14 (used as 13)', { ...POLICY, scheduleLeadDays: 14 }],
    ['at 00:00 sharp', { ...POLICY, spreadStartMinutes: 0, spreadMinutes: 0 }],
    ['latest span, to 22:00', { ...POLICY, spreadStartMinutes: 600, spreadMinutes: 720, scheduleLeadDays: 2 }],
    ['every 72 h', { ...POLICY, pollIntervalHours: 72, scheduleLeadDays: 10 }],
  ];

  it.each(policies)('%s', (_name, policy) => {
    const found: string[] = [];
    let acrossDateLine = 0;
    for (const code of codes) {
      const slot = contractSlotMs(code, policy);
      for (const date of dates) {
        found.push(...violations(date, policy, slot).map((v) => `${code} ${v}`));
        const create = Date.parse(record(date, policy, slot).nextActionAt!);
        if (utcDate(create) !== shanghaiDateOf(create)) acrossDateLine++;
      }
    }
    expect(found.slice(0, 10)).toEqual([]);
    // Slots before 08:00 Shanghai are on the previous UTC date: the window rule is judged in Shanghai dates.
    if (codes.some((code) => contractSlotMs(code, policy) < 8 * HOUR_MS)) expect(acrossDateLine).toBeGreaterThan(0);
  });

  it('keeps the old timing for lifecycles without the patch: at 00:00 on the window opening, polls jittered', () => {
    const r = record('2027-03-01', POLICY, undefined);
    expect(r.nextActionAt).toBe(new Date(windowOpensAt('2027-03-01', 7)).toISOString());
    expect(r.nextActionAt).toBe('2027-02-21T16:00:00.000Z');
    const opens = Date.parse(r.nextActionAt!);
    markScheduled(r, opens, POLICY);
    const firstPoll = Date.parse(r.nextActionAt!) - opens;
    expect(firstPoll).toBeGreaterThanOrEqual(24 * HOUR_MS);
    expect(firstPoll).toBeLessThanOrEqual(25 * HOUR_MS);
  });
});
