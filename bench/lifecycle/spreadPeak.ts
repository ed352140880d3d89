import { addDays, shanghaiDateOf, shanghaiMidnight } from '../../src/domain/calendar';
import { markPolled, markScheduled, newInstallmentRecord } from '../../src/domain/installments';
import { resolvePolicy } from '../../src/domain/plan';
import { contractSlotMs } from '../../src/domain/spread';

/**
 * The peak WeChat Pay call rate of a book whose installments are all due on the same day, COMPUTED from the
 * workflow's own timer choices: the pure functions the lifecycle calls to plan each create and poll (not simulated
 * on a server). For every contract: its create, then each poll at the time the function returns. With the spread
 * (patch spread-window-and-polls) and without it (the timing lifecycles begun before keep).
 */

export interface SpreadResult {
  installments: number;
  dueDate: string;
  spread: { peakPerSecond: number; peakPerMinute: number; busySeconds: number; calls: number };
  unspread: { peakPerSecond: number; peakPerMinute: number; busySeconds: number; calls: number };
  /** Calls per minute over the window's first day, for the chart: [minute of day, spread, unspread]. */
  firstDayPerMinute: Array<[number, number, number]>;
}

export function spreadPeak(installments: number, today: string): SpreadResult {
  const policy = resolvePolicy(undefined, undefined);
  const dueDate = addDays(today, 30);
  const firstDay = shanghaiMidnight(addDays(dueDate, -policy.scheduleLeadDays));
  const spread = new Map<number, number>();
  const unspread = new Map<number, number>();
  for (let i = 0; i < installments; i++) {
    const code = `BOOK${i}`;
    const outRecordId = `R${i}`;
    callTimes(outRecordId, dueDate, policy, contractSlotMs(code, policy), spread);
    callTimes(outRecordId, dueDate, policy, undefined, unspread);
  }
  const minuteOfFirstDay = (perSecond: Map<number, number>, minute: number): number => {
    let sum = 0;
    for (let s = 0; s < 60; s++) sum += perSecond.get(Math.floor(firstDay / 1000) + minute * 60 + s) ?? 0;
    return sum;
  };
  return {
    installments,
    dueDate,
    spread: summary(spread),
    unspread: summary(unspread),
    firstDayPerMinute: Array.from({ length: 24 * 60 }, (_, m) => [
      m,
      minuteOfFirstDay(spread, m),
      minuteOfFirstDay(unspread, m),
    ]),
  };
}

/** Adds one installment's create and polls, by epoch second, as the workflow would make them. */
function callTimes(
  outRecordId: string,
  repaymentDate: string,
  policy: ReturnType<typeof resolvePolicy>,
  slotMs: number | undefined,
  perSecond: Map<number, number>,
): void {
  const add = (ms: number): void => {
    const second = Math.floor(ms / 1000);
    perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
  };
  const item = { outRecordId, repaymentAmount: '1', minRepaymentAmount: '1', repaymentDate };
  const record = newInstallmentRecord(item, policy, slotMs);
  const created = Date.parse(record.nextActionAt!);
  add(created);
  markScheduled(record, created, policy, slotMs);
  const due = shanghaiMidnight(repaymentDate);
  for (let polls = 0; Date.parse(record.nextActionAt!) < due && polls < 100; polls++) {
    const at = Date.parse(record.nextActionAt!);
    add(at);
    markPolled(record, at, 'MATCHES', policy, slotMs);
  }
}

function summary(perSecond: Map<number, number>): SpreadResult['spread'] {
  const perMinute = new Map<number, number>();
  let calls = 0;
  for (const [second, n] of perSecond) {
    perMinute.set(Math.floor(second / 60), (perMinute.get(Math.floor(second / 60)) ?? 0) + n);
    calls += n;
  }
  return {
    peakPerSecond: Math.max(...perSecond.values()),
    peakPerMinute: Math.max(...perMinute.values()),
    busySeconds: perSecond.size,
    calls,
  };
}

export const todayInShanghai = (): string => shanghaiDateOf(Date.now());
