import { resolvePolicy, PlanValidationError } from '../../src/domain/plan';
import { PartialLifecyclePolicySchema } from '../../src/domain/policy';

/** Short intervals (chaos runs, demos) are accepted only when the policy itself says `shortIntervals: true`. */

it('refuses fractions of an hour without the flag, naming the field and the way out', () => {
  expect(() => resolvePolicy({ pollIntervalHours: 0.05 }, undefined)).toThrow(PlanValidationError);
  expect(() => resolvePolicy(undefined, { signingDeadlineHours: 0.1 })).toThrow(
    /policy\.signingDeadlineHours: must be a whole number of hours.*shortIntervals: true/,
  );
  expect(PartialLifecyclePolicySchema.safeParse({ pollIntervalHours: 1.5 }).success).toBe(false);
});

it('accepts fractions down to one minute with the flag, and nothing shorter', () => {
  const policy = resolvePolicy({ shortIntervals: true, pollIntervalHours: 0.05, signingDeadlineHours: 0.1 }, undefined);
  expect(policy).toMatchObject({ shortIntervals: true, pollIntervalHours: 0.05, signingDeadlineHours: 0.1 });
  expect(() => resolvePolicy({ shortIntervals: true, pollIntervalHours: 0.01 }, undefined)).toThrow(
    /policy\.pollIntervalHours: must be at least one minute/,
  );
});

it('keeps whole hours valid with or without the flag, and the flag is only ever true', () => {
  expect(resolvePolicy({ pollIntervalHours: 12 }, { signingDeadlineHours: 48 })).toMatchObject({
    pollIntervalHours: 12,
    signingDeadlineHours: 48,
  });
  expect(PartialLifecyclePolicySchema.safeParse({ shortIntervals: false }).success).toBe(false);
});
