import { z } from 'zod';
import {
  CalendarDateSchema,
  deriveOutRecordId,
  FenAmountSchema,
  InstallmentSchema,
  issuesOf,
  MAX_INSTALLMENTS,
  OutRecordIdSchema,
  PlanValidationError,
  type Installment,
  type PlanIssue,
} from './plan';
import type { LifecyclePolicy } from './policy';
import { newInstallmentRecord, rescheduleWaiting } from './installments';
import type { InstallmentRecord } from './status';

/** The modifyPlan update: add installments, or change installments that are not scheduled yet. */
export const PlanModificationSchema = z
  .strictObject({
    add: z.array(InstallmentSchema, { error: 'must be a list of installments' }).optional(),
    reschedule: z
      .array(
        z.strictObject({
          outRecordId: OutRecordIdSchema,
          repaymentDate: CalendarDateSchema.optional(),
          repaymentAmount: FenAmountSchema.optional(),
          minRepaymentAmount: FenAmountSchema.optional(),
        }),
        { error: 'must be a list of changes' },
      )
      .optional(),
  })
  .refine((mod) => (mod.add?.length ?? 0) + (mod.reschedule?.length ?? 0) > 0, {
    error: 'must add or reschedule at least one installment',
  });

export type PlanModificationInput = z.input<typeof PlanModificationSchema>;

export interface CheckedModification {
  add: Installment[];
  reschedule: Array<{
    outRecordId: string;
    repaymentDate: string;
    repaymentAmount: string;
    minRepaymentAmount: string;
  }>;
}

/**
 * Checks a modification against the lifecycle's current installments and today's date (Asia/Shanghai).
 * Pure, so the update's validator and its handler compute the same result. Throws PlanValidationError.
 */
export function checkModification(
  records: readonly InstallmentRecord[],
  input: unknown,
  context: { outContractCode: string; today: string; busy?: (outRecordId: string) => boolean },
): CheckedModification {
  const parsed = PlanModificationSchema.safeParse(input);
  if (!parsed.success) throw new PlanValidationError(issuesOf(parsed.error));
  const issues: PlanIssue[] = [];
  const byId = new Map(records.map((record) => [record.outRecordId, record]));
  const future = (date: string, path: string) => {
    if (date <= context.today) issues.push({ path, rule: `must be after today (${context.today}, Asia/Shanghai)` });
  };

  const reschedule = (parsed.data.reschedule ?? []).flatMap((change, index) => {
    const path = `reschedule[${index}]`;
    const record = byId.get(change.outRecordId);
    if (!record) {
      issues.push({ path: `${path}.outRecordId`, rule: 'must name an installment of this lifecycle' });
      return [];
    }
    // A WAITING installment whose create call is in flight would be scheduled with the old values and then
    // mismatch the changed record, which fails the lifecycle: refuse until the call has settled.
    if (record.state === 'WAITING' && context.busy?.(record.outRecordId)) {
      issues.push({
        path: `${path}.outRecordId`,
        rule: 'is being scheduled right now; try again once it is SCHEDULED',
      });
      return [];
    }
    if (record.state !== 'WAITING' && record.state !== 'MISSED') {
      issues.push({
        path: `${path}.outRecordId`,
        rule: `must name an installment not scheduled yet (it is ${record.state})`,
      });
      return [];
    }
    const next = {
      outRecordId: record.outRecordId,
      repaymentDate: change.repaymentDate ?? record.repaymentDate,
      repaymentAmount: change.repaymentAmount ?? record.repaymentAmount,
      minRepaymentAmount: change.minRepaymentAmount ?? record.minRepaymentAmount,
    };
    if (change.repaymentDate !== undefined) future(change.repaymentDate, `${path}.repaymentDate`);
    if (BigInt(next.minRepaymentAmount) > BigInt(next.repaymentAmount)) {
      issues.push({ path: `${path}.minRepaymentAmount`, rule: 'must not exceed repaymentAmount' });
    }
    return [next];
  });

  const add = (parsed.data.add ?? []).map((item, index) => {
    future(item.repaymentDate, `add[${index}].repaymentDate`);
    return {
      ...item,
      outRecordId: item.outRecordId ?? deriveOutRecordId(context.outContractCode, records.length + index),
    };
  });
  if (records.length + add.length > MAX_INSTALLMENTS) {
    issues.push({ path: 'add', rule: `must keep the plan at most ${MAX_INSTALLMENTS} installments` });
  }

  // Uniqueness over the plan as it would be after the change.
  const rescheduled = new Map(reschedule.map((change) => [change.outRecordId, change]));
  const seenIds = new Set<string>();
  const seenDates = new Set<string>();
  for (const record of records) {
    seenIds.add(record.outRecordId);
    seenDates.add(rescheduled.get(record.outRecordId)?.repaymentDate ?? record.repaymentDate);
  }
  const rescheduledDates = reschedule.map((change) => change.repaymentDate);
  if (new Set(rescheduledDates).size !== rescheduledDates.length) {
    issues.push({ path: 'reschedule', rule: 'must not move two installments to the same date' });
  }
  reschedule.forEach((change, index) => {
    const clash = records.find(
      (r) =>
        r.outRecordId !== change.outRecordId &&
        !rescheduled.has(r.outRecordId) &&
        r.repaymentDate === change.repaymentDate,
    );
    if (clash)
      issues.push({
        path: `reschedule[${index}].repaymentDate`,
        rule: `must differ from the date of ${clash.outRecordId}`,
      });
  });
  add.forEach((item, index) => {
    if (seenIds.has(item.outRecordId))
      issues.push({ path: `add[${index}].outRecordId`, rule: 'must be unique in the plan' });
    if (seenDates.has(item.repaymentDate))
      issues.push({ path: `add[${index}].repaymentDate`, rule: 'must be unique in the plan' });
    seenIds.add(item.outRecordId);
    seenDates.add(item.repaymentDate);
  });

  if (issues.length > 0) throw new PlanValidationError(issues);
  return { add, reschedule };
}

/** Applies a checked modification to the records in place. */
export function applyModification(
  records: InstallmentRecord[],
  mod: CheckedModification,
  policy: LifecyclePolicy,
  /** The contract's instant of the day when the lifecycle spreads its calls (installments.ts). */
  slotMs?: number,
): void {
  for (const change of mod.reschedule) {
    const record = records.find((r) => r.outRecordId === change.outRecordId);
    if (!record) continue;
    record.repaymentDate = change.repaymentDate;
    record.repaymentAmount = change.repaymentAmount;
    record.minRepaymentAmount = change.minRepaymentAmount;
    // A MISSED installment moved to a new date waits for its new window.
    record.state = 'WAITING';
    rescheduleWaiting(record, policy, slotMs);
  }
  for (const item of mod.add) records.push(newInstallmentRecord(item, policy, slotMs));
}
