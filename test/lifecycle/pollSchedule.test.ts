import { tsToMs } from '@temporalio/common/lib/time';
import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { RepaymentPlanInput } from '../../src/domain/plan';
import type { PartialLifecyclePolicy } from '../../src/domain/policy';
import type { repaymentLifecycle } from '../../src/workflows';
import { simulateLender, useLifecycleFixture } from './fixture';

/**
 * The exact poll schedule of each installment, counted, in skipped time: the number of record queries and the
 * Asia/Shanghai instants (hence dates) at which the lifecycle made them equal what the policy plans, around
 * month and year ends. The expectation is derived here from the policy's numbers alone (not from
 * src/domain): the record is scheduled when its window opens, at 00:00 Shanghai of repaymentDate −
 * scheduleLeadDays, and polled every pollIntervalHours after that while the repayment date has not begun.
 *
 * Where the polls are read: the sandbox's request log counts the queries that reached WeChat Pay, per record;
 * its times are wall-clock (the sandbox logs real time), so WHEN each poll happened in the lifecycle's own
 * (skipped) clock is read from the workflow history: the time of each ActivityTaskScheduled of
 * `queryScheduleRecord`.
 */

const HOUR_MS = 3_600_000;
/** A poll happens at the planned instant plus the few real milliseconds each earlier call took (never before). */
const DRIFT_MS = 60_000;
/**
 * Month and year ends: 31 Dec / 1 Jan, 31 Jan / 1 Feb, 1 Mar (after 28 or 29 February), in two lifecycles whose
 * windows never overlap. Overlapping windows poll at the same instants, and the Java test server then strands
 * the run now and then (a workflow task that cancels a timer which fired meanwhile: "invalid history builder
 * state for action", temporalio/sdk-java#3088), so that time stops advancing.
 */
const MONTH_END_GROUPS = [
  ['12-31', '01-31', '03-01'],
  ['01-01', '02-01'],
];

const fixture = useLifecycleFixture();

/** 00:00 Asia/Shanghai (UTC+8, no DST) of a calendar date. */
const shanghaiMidnight = (date: string): number => Date.parse(`${date}T00:00:00+08:00`);
const shanghaiIso = (epochMs: number): string =>
  new Date(epochMs + 8 * HOUR_MS).toISOString().replace(/\.\d{3}Z$/, '+08:00');

/** The next occurrence of each month-day that is at least `minDaysAhead` days after `now`, ascending. */
function nextOccurrences(monthDays: string[], now: number, minDaysAhead: number): string[] {
  const earliest = now + minDaysAhead * 24 * HOUR_MS;
  const year = new Date(now + 8 * HOUR_MS).getUTCFullYear();
  return monthDays
    .map((monthDay) =>
      [year, year + 1, year + 2].map((y) => `${y}-${monthDay}`).find((date) => shanghaiMidnight(date) > earliest)!,
    )
    .sort();
}

/** The planned poll instants of one installment (the window opens after the lifecycle started). */
function plannedPolls(repaymentDate: string, leadDays: number, intervalHours: number): number[] {
  const due = shanghaiMidnight(repaymentDate);
  const windowOpens = due - leadDays * 24 * HOUR_MS;
  const polls: number[] = [];
  for (let at = windowOpens + intervalHours * HOUR_MS; at < due; at += intervalHours * HOUR_MS) polls.push(at);
  return polls;
}

/**
 * When the workflow scheduled each `queryScheduleRecord`, per out_record_id, in history order, over every run of
 * the lifecycle (it continues as new when its history grows).
 */
async function pollsInHistory(
  handle: WorkflowHandleWithFirstExecutionRunId<typeof repaymentLifecycle>,
): Promise<Map<string, number[]>> {
  const polls = new Map<string, number[]>();
  const events = [];
  const client = fixture().env.client;
  for (let runId: string | undefined = handle.firstExecutionRunId, runs = 0; runId && runs < 20; runs++) {
    const history = await client.workflow.getHandle(handle.workflowId, runId).fetchHistory();
    events.push(...(history.events ?? []));
    runId = history.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  for (const event of events) {
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled?.activityType?.name !== 'queryScheduleRecord') continue;
    const [input] = (scheduled.input?.payloads ?? []).map(
      (p) => JSON.parse(Buffer.from(p.data!).toString('utf8')) as { outRecordId: string },
    );
    polls.set(input!.outRecordId, [...(polls.get(input!.outRecordId) ?? []), tsToMs(event.eventTime)]);
  }
  return polls;
}

/**
 * Runs one lifecycle per group of month ends to completion (the lender reports each installment paid) and
 * compares its polls with the plan; returns the planned polls, Shanghai time, by "repaymentDate outRecordId".
 */
async function runAndCompare(
  code: string,
  policy: PartialLifecyclePolicy & { pollIntervalHours: number; scheduleLeadDays: number },
): Promise<Record<string, string[]>> {
  const expected: Record<string, string[]> = {};
  for (const [group, monthDays] of MONTH_END_GROUPS.entries()) {
    Object.assign(expected, await runOneAndCompare(`${code}${group + 1}`, monthDays, policy));
  }
  return expected;
}

async function runOneAndCompare(
  code: string,
  monthDays: string[],
  policy: PartialLifecyclePolicy & { pollIntervalHours: number; scheduleLeadDays: number },
): Promise<Record<string, string[]>> {
  const fx = fixture();
  const leadDays = policy.scheduleLeadDays;
  // Every window opens well after the start, so the record is scheduled exactly when its window opens.
  const dates = nextOccurrences(monthDays, await fx.env.currentTimeMs(), leadDays + 2);
  const plan: RepaymentPlanInput = {
    ...(await fx.newContract(code, { installments: 1 })),
    installments: dates.map((repaymentDate) => ({
      repaymentAmount: '100000',
      minRepaymentAmount: '5000',
      repaymentDate,
    })),
  };
  const handle = await fx.start(plan, { ...policy, pollJitterSeconds: 0 });
  const status = await simulateLender(fx, handle);
  expect(status.phase).toBe('COMPLETED');

  const fromHistory = await pollsInHistory(handle);
  const queries = await fx.calls(plan, 'schedule-query');
  const expected: Record<string, string[]> = {};
  const actual: Record<string, string[]> = {};
  const logged: Record<string, number> = {};
  const counted: Record<string, number> = {};
  for (const installment of status.installments) {
    const key = `${installment.repaymentDate} ${installment.outRecordId}`;
    const planned = plannedPolls(installment.repaymentDate, leadDays, policy.pollIntervalHours);
    const polled = fromHistory.get(installment.outRecordId) ?? [];
    expected[key] = planned.map(shanghaiIso);
    // Each poll is reported at its planned instant if it came no earlier and at most DRIFT_MS later.
    actual[key] = polled.map((at, i) => {
      const plannedAt = planned[i];
      return plannedAt !== undefined && at >= plannedAt && at - plannedAt < DRIFT_MS
        ? shanghaiIso(plannedAt)
        : `${shanghaiIso(at)} (off plan)`;
    });
    logged[key] = queries.filter((q) => q.path.includes(`/${encodeURIComponent(installment.outRecordId)}?`)).length;
    counted[key] = installment.pollCount;
  }
  expect(actual).toEqual(expected);
  // Each poll reached WeChat Pay once and was answered cleanly: the log holds exactly the planned number.
  const plannedCounts = Object.fromEntries(Object.entries(expected).map(([key, polls]) => [key, polls.length]));
  expect(logged).toEqual(plannedCounts);
  expect(queries.every((q) => q.status === 200 && q.fault === undefined)).toBe(true);
  // And the status the lender sees counts the same.
  expect(counted).toEqual(plannedCounts);
  return expected;
}

it('polls daily on each day of the window up to the day before the repayment date, across month ends', async () => {
  const expected = await runAndCompare('POLLDAILY', { pollIntervalHours: 24, scheduleLeadDays: 7 });
  // Spelled out for one installment: window opens 22/23 Feb 00:00, six polls, the last on 28/29 Feb.
  const march = Object.entries(expected).find(([key]) => key.includes('-03-01 '))!;
  const year = Number(march[0].slice(0, 4));
  const lastFebruary = new Date(Date.UTC(year, 2, 0)).getUTCDate();
  expect(march[1].map((at) => at.slice(0, 10))).toEqual(
    [5, 4, 3, 2, 1, 0].map((back) => `${year}-02-${String(lastFebruary - back).padStart(2, '0')}`),
  );
  expect(Object.values(expected).map((polls) => polls.length)).toEqual([6, 6, 6, 6, 6]);
}, 120_000);

it('polls every 72 hours from the window opening, the last poll before the repayment date included', async () => {
  const expected = await runAndCompare('POLL72H', { pollIntervalHours: 72, scheduleLeadDays: 10 });
  // 10 days = 240 h: polls at +72 h, +144 h and +216 h (the day before the date); +288 h is past it.
  for (const [key, polls] of Object.entries(expected)) {
    const date = key.slice(0, 10);
    expect(polls).toEqual([7, 4, 1].map((back) => shanghaiIso(shanghaiMidnight(date) - back * 24 * HOUR_MS)));
  }
}, 120_000);
