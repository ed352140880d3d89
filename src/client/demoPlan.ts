import { addDays, shanghaiDateOf, shanghaiMidnight } from '../domain/calendar';
import type { RepaymentPlanInput } from '../domain/plan';
import type { DemoTimeScale } from '../domain/policy';

export interface DemoPlanOptions {
  outContractCode?: string;
  installments?: number;
  signature?: 'poll' | 'signal' | 'none';
  now?: number;
  /**
   * The live demo: the first installment this many days ahead (1..7, inside the default 7-day scheduling window, so
   * it is created at once), the others monthly from next month, and a plan policy without poll jitter.
   */
  firstInDays?: number;
}

/**
 * The live demo's time scale (`npm run demo`): a scheduled record is polled every 15 s instead of every 24 h.
 * Passed explicitly as `startLifecycle(plan, { demo: LIVE_DEMO_TIME_SCALE })`; never a production policy.
 */
export const LIVE_DEMO_TIME_SCALE: Readonly<DemoTimeScale> = Object.freeze({ pollIntervalSeconds: 15 });

/**
 * An example plan to try the service with: monthly installments of 1000.00 CNY on the 10th, from next month
 * (Asia/Shanghai), so every date is valid and in the future; with `firstInDays`, the live demo's plan. The default contract code is derived from the
 * current second, so that repeated demos do not collide with the lifecycle of an earlier one.
 */
export function demoPlan(options: DemoPlanOptions = {}): RepaymentPlanInput {
  const now = options.now ?? Date.now();
  const today = shanghaiDateOf(now);
  const code = options.outContractCode ?? `DEMO${shanghaiStamp(now)}`;
  const count = options.installments ?? 12;
  const [year, month] = [Number(today.slice(0, 4)), Number(today.slice(5, 7))];
  const live = options.firstInDays !== undefined;
  const monthly = live ? count - 1 : count;
  const dates = Array.from({ length: monthly }, (_, i) => {
    const monthIndex = month + i; // month is 1-based, so this is next month + i, 0-based
    return `${year + Math.floor(monthIndex / 12)}-${String((monthIndex % 12) + 1).padStart(2, '0')}-10`;
  });
  if (live) {
    const days = options.firstInDays!;
    if (!Number.isInteger(days) || days < 1 || days > 7) throw new RangeError('firstInDays must be from 1 to 7');
    // At most the 7th of next month: never one of the monthly dates (the 10th).
    dates.unshift(addDays(today, days));
  }
  return {
    outContractCode: code,
    contractId: `WXC${code}`,
    appid: 'wxd678efh567hg6787',
    openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
    signature: { mode: options.signature ?? 'poll' },
    installments: dates.map((date, i) => ({
      repaymentAmount: '100000',
      minRepaymentAmount: '10000',
      repaymentDate: date,
      description: `Installment ${i + 1} of ${count}`,
    })),
    ...(live ? { policy: { pollJitterSeconds: 0 } } : {}),
  };
}

/** `yyyymmddHHMMSS` in Asia/Shanghai. */
function shanghaiStamp(now: number): string {
  const today = shanghaiDateOf(now);
  const time = new Date(now - shanghaiMidnight(today)).toISOString().slice(11, 19).replace(/:/g, '');
  return `${today.replace(/-/g, '')}${time}`;
}
