import { DAY_MS, shanghaiMidnight } from './calendar';
import { fnv1a64 } from './hash';
import { DEFAULT_SPREAD, MAX_EFFECTIVE_LEAD_DAYS, pollIntervalMs, type LifecyclePolicy } from './policy';

/**
 * Spreading a book's daily work over hours (patch `spread-window-and-polls`). Each contract gets its own instant of
 * the day, derived from its contract code by a seeded hash (so it is the same on every replay, every worker and
 * every continue-as-new), in [spreadStartMinutes, spreadStartMinutes + spreadMinutes] after 00:00 Asia/Shanghai.
 * The window-opening create and every poll of its installments fall on that instant of their day: a book whose
 * installments share a due date makes a trickle of calls for a few hours instead of one burst at midnight.
 */

/** The workflow's patch id: runs that carry its marker use this timing (decided once per run). */
export const SPREAD_PATCH = 'spread-window-and-polls';

/** Changing the seed moves every contract's instant: never change it for running lifecycles. */
const SPREAD_SEED = 'spread-window-and-polls/v1';

export type SpreadPolicy = Pick<
  LifecyclePolicy,
  'scheduleLeadDays' | 'pollIntervalHours' | 'demo' | 'spreadStartMinutes' | 'spreadMinutes'
>;

/**
 * The contract's instant of the day, in ms after 00:00 Asia/Shanghai (whole seconds). A policy pinned by a lifecycle
 * that began before the spread existed lacks its two fields: the defaults apply.
 */
export function contractSlotMs(outContractCode: string, policy: SpreadPolicy): number {
  const startSeconds = (policy.spreadStartMinutes ?? DEFAULT_SPREAD.startMinutes) * 60;
  const spanSeconds = (policy.spreadMinutes ?? DEFAULT_SPREAD.minutes) * 60;
  const offset = Number(fnv1a64(`${SPREAD_SEED}#${outContractCode}`) % BigInt(spanSeconds + 1));
  return (startSeconds + offset) * 1000;
}

/** The lead actually used: a 14-day lead would put the create on the very edge of WeChat Pay's 14-day window. */
export function effectiveLeadDays(policy: SpreadPolicy): number {
  return Math.min(policy.scheduleLeadDays, MAX_EFFECTIVE_LEAD_DAYS);
}

/** The create: on the window's first day (repaymentDate − lead), at the contract's instant of that day. */
export function spreadCreateAt(repaymentDate: string, policy: SpreadPolicy, slotMs: number): number {
  return shanghaiMidnight(repaymentDate) - effectiveLeadDays(policy) * DAY_MS + slotMs;
}

/**
 * The first poll instant after `fromMs`: the create's instant plus whole poll intervals (so daily polls keep the
 * contract's instant of the day, however late an earlier call finished), never past the repayment date's start.
 */
export function spreadNextPollAt(repaymentDate: string, fromMs: number, policy: SpreadPolicy, slotMs: number): number {
  const anchor = spreadCreateAt(repaymentDate, policy, slotMs);
  const interval = pollIntervalMs(policy); // a demo's seconds, else pollIntervalHours
  const intervals = Math.max(1, Math.floor((fromMs - anchor) / interval) + 1);
  return Math.min(anchor + intervals * interval, shanghaiMidnight(repaymentDate));
}
