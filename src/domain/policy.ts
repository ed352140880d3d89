import { z } from 'zod';

/**
 * How a lifecycle behaves in time. Defaults here; temporal.yaml's `lifecycle:` section (read by the client)
 * and a plan's own `policy` override them, in that order.
 */
export const LifecyclePolicySchema = z.strictObject({
  signingDeadlineHours: z
    .number()
    .int()
    .min(1)
    .max(24 * 90),
  signingPollIntervalSeconds: z.number().int().min(10).max(86_400),
  /** The window opens at repaymentDate − lead, 00:00 Asia/Shanghai; the live API accepts dates day+1..day+14. */
  scheduleLeadDays: z.number().int().min(1).max(14),
  pollIntervalHours: z
    .number()
    .int()
    .min(1)
    .max(24 * 14),
  /** Polls are spread over this many seconds (derived from the record id) so contracts do not poll in lockstep. */
  pollJitterSeconds: z.number().int().min(0).max(86_400),
  /** A DUE installment with no reported result after this many days is a failure. */
  resultDeadlineDays: z.number().int().min(1).max(90),
  onRepaymentFailed: z.enum(['terminate', 'continue']),
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
});

export type LifecyclePolicy = z.infer<typeof LifecyclePolicySchema>;

export const DEFAULT_LIFECYCLE_POLICY: Readonly<LifecyclePolicy> = Object.freeze({
  signingDeadlineHours: 72,
  signingPollIntervalSeconds: 300,
  scheduleLeadDays: 7,
  pollIntervalHours: 24,
  pollJitterSeconds: 3600,
  resultDeadlineDays: 7,
  onRepaymentFailed: 'terminate',
  continueAsNewAfterEvents: 4000,
  terminationRetryMinutes: 60,
  compensationPollIntervalSeconds: 600,
  compensationNotFoundHours: 24,
});

export const PartialLifecyclePolicySchema = LifecyclePolicySchema.partial();
export type PartialLifecyclePolicy = z.infer<typeof PartialLifecyclePolicySchema>;
