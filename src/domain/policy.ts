import { z } from 'zod';
import { DEFAULT_EVIDENCE_CODES } from './failurePolicy';

/**
 * A demo's time scale (`npm run demo`), never a production setting: a scheduled record is polled every
 * `pollIntervalSeconds` instead of every `pollIntervalHours`. Only an explicit `startLifecycle(plan, { demo })` of the
 * lender client sets it; a plan's own `policy` and temporal.yaml's `lifecycle:` cannot (PartialLifecyclePolicySchema
 * leaves it out), so the production minimum of one hour stays the rule everywhere else.
 */
export const DemoTimeScaleSchema = z.strictObject({
  pollIntervalSeconds: z.number().int().min(5).max(3600),
});
export type DemoTimeScale = z.infer<typeof DemoTimeScaleSchema>;

/**
 * How a lifecycle behaves in time. Defaults here; temporal.yaml's `lifecycle:` section (read by the client)
 * and a plan's own `policy` override them, in that order.
 */
const LifecyclePolicyFields = z.strictObject({
  /** Whole hours, at least 1; fractions down to one minute only with `shortIntervals` (see below). */
  signingDeadlineHours: z
    .number()
    .positive()
    .max(24 * 90),
  signingPollIntervalSeconds: z.number().int().min(10).max(86_400),
  /**
   * The window opens at repaymentDate − lead, 00:00 Asia/Shanghai; the live API accepts dates day+1..day+14. At most
   * 13 is used (MAX_EFFECTIVE_LEAD_DAYS), so that the create lands strictly inside the window; 14 stays valid here
   * because lifecycles started with it re-check their input on replay and continue-as-new (temporal.yaml refuses it).
   */
  scheduleLeadDays: z.number().int().min(1).max(14),
  /** Whole hours, at least 1; fractions down to one minute only with `shortIntervals` (see below). */
  pollIntervalHours: z
    .number()
    .positive()
    .max(24 * 14),
  /**
   * Contract checks (and the polls of lifecycles begun before the spread below) are spread over this many seconds,
   * derived from the record id, so contracts do not call in lockstep.
   */
  pollJitterSeconds: z.number().int().min(0).max(86_400),
  /**
   * Each contract creates and polls at its own instant of the day (src/domain/spread.ts), spread over spreadMinutes
   * from spreadStartMinutes after 00:00 Asia/Shanghai. Together at most 22 h: the create stays on the window's first
   * day, before the repayment date. Optional: a policy pinned before they existed must still count as whole (the
   * workflow re-checks its input on replay); src/domain/spread.ts then uses the defaults.
   */
  spreadStartMinutes: z.number().int().min(0).max(600).optional(),
  spreadMinutes: z.number().int().min(0).max(720).optional(),
  /** A DUE installment with no reported result after this many days raises an alert (RESULT_OVERDUE). */
  resultDeadlineDays: z.number().int().min(1).max(90),
  onRepaymentFailed: z.enum(['terminate', 'continue']),
  /**
   * A run continues as new once its history holds this many events (at a quiescent point). Shorter runs replay
   * faster when an evicted lifecycle wakes (README "Performance"); each new run carries the whole state.
   */
  continueAsNewAfterEvents: z.number().int().min(200).max(40_000),
  /** Wait between attempts when the terminate call fails with a non-retryable error (retryable ones retry in the activity). */
  terminationRetryMinutes: z
    .number()
    .int()
    .min(1)
    .max(24 * 60),
  compensationPollIntervalSeconds: z.number().int().min(10).max(86_400),
  /** A compensation bill that is still unknown to WeChat Pay after this long is reported as NOT_FOUND. */
  compensationNotFoundHours: z
    .number()
    .int()
    .min(1)
    .max(24 * 30),
  /** A step failing on infrastructure for this long raises an alert (RepaymentAlert, status, metrics). */
  alertThresholdMinutes: z
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 60),
  /** Cap of the backoff between the lifecycle's own rounds of retries of a failing step. */
  infraRetryMaxMinutes: z
    .number()
    .int()
    .min(1)
    .max(24 * 60),
  /**
   * Verified WeChat Pay refusal codes that count as evidence (failurePolicy.ts). Not in the seeds for each case, so
   * configuration: a code not listed is an infrastructure alert, never a termination.
   */
  evidenceCodes: z.array(z.string().regex(/^[A-Z][A-Z0-9_]{1,63}$/, { error: 'must be a WeChat Pay error code' })),
  /**
   * While signed, the contract's state (seed 002) is checked this often, so that a contract the user terminated ends
   * its lifecycle (evidence) instead of being scheduled against.
   */
  contractCheckIntervalMinutes: z
    .number()
    .int()
    .min(1)
    .max(30 * 24 * 60),
  /** What a verified refusal of a schedule record (evidence) leads to: terminate the contract, or an alert. */
  onScheduleRefused: z.enum(['terminate', 'alert']),
  /**
   * For chaos runs only: lets `signingDeadlineHours` and `pollIntervalHours` be fractions of an hour (down to one
   * minute), so that a signing deadline passes and records are polled within minutes. Said in the policy itself, so
   * that no deployment default can shorten a production lifecycle by accident. (A demo's `demo` time scale shortens
   * the polls only.)
   */
  shortIntervals: z.literal(true, { error: 'must be true when given (tests and demos only)' }).optional(),
  /** Present only on a demo's lifecycle (see DemoTimeScaleSchema). */
  demo: DemoTimeScaleSchema.optional(),
});

const SHORT_HOUR_FIELDS = ['signingDeadlineHours', 'pollIntervalHours'] as const;
const ONE_MINUTE_IN_HOURS = 1 / 60;

/** Whole hours ≥ 1, unless the same policy says `shortIntervals: true` (then ≥ one minute). */
function checkHourFields(
  policy: Partial<Record<(typeof SHORT_HOUR_FIELDS)[number], number>> & {
    shortIntervals?: true;
  },
  ctx: z.RefinementCtx,
): void {
  for (const field of SHORT_HOUR_FIELDS) {
    const hours = policy[field];
    if (hours === undefined) continue;
    if (policy.shortIntervals) {
      if (hours < ONE_MINUTE_IN_HOURS)
        ctx.addIssue({ code: 'custom', path: [field], message: 'must be at least one minute (1/60)' });
    } else if (!Number.isInteger(hours) || hours < 1) {
      ctx.addIssue({
        code: 'custom',
        path: [field],
        message: 'must be a whole number of hours, at least 1 (fractions only with shortIntervals: true, for tests)',
      });
    }
  }
}

export const LifecyclePolicySchema = LifecyclePolicyFields.superRefine(checkHourFields);

export type LifecyclePolicy = z.infer<typeof LifecyclePolicySchema>;

/** The longest lead a schedule create is planned with (with 14 it would sit on the window's last day). */
export const MAX_EFFECTIVE_LEAD_DAYS = 13;
/** Creates and polls spread over 00:30-04:30 Asia/Shanghai by default. */
export const DEFAULT_SPREAD = { startMinutes: 30, minutes: 240 } as const;

export const DEFAULT_LIFECYCLE_POLICY: Readonly<LifecyclePolicy> = Object.freeze({
  signingDeadlineHours: 72,
  signingPollIntervalSeconds: 300,
  scheduleLeadDays: 7,
  pollIntervalHours: 24,
  pollJitterSeconds: 3600,
  spreadStartMinutes: DEFAULT_SPREAD.startMinutes,
  spreadMinutes: DEFAULT_SPREAD.minutes,
  resultDeadlineDays: 7,
  onRepaymentFailed: 'terminate',
  continueAsNewAfterEvents: 1500,
  terminationRetryMinutes: 60,
  compensationPollIntervalSeconds: 600,
  compensationNotFoundHours: 24,
  alertThresholdMinutes: 30,
  infraRetryMaxMinutes: 30,
  evidenceCodes: [...DEFAULT_EVIDENCE_CODES],
  contractCheckIntervalMinutes: 3 * 24 * 60,
  onScheduleRefused: 'terminate',
});

export const PartialLifecyclePolicySchema = LifecyclePolicyFields.omit({ demo: true })
  .partial()
  .superRefine(checkHourFields);
export type PartialLifecyclePolicy = z.infer<typeof PartialLifecyclePolicySchema>;

/** The time between two polls of a scheduled record (before its jitter). */
export function pollIntervalMs(policy: Pick<LifecyclePolicy, 'demo' | 'pollIntervalHours'>): number {
  return policy.demo ? policy.demo.pollIntervalSeconds * 1000 : policy.pollIntervalHours * 3_600_000;
}
