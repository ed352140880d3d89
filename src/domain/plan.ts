import { z } from 'zod';
import { apiText } from './text';
import { isCalendarDate } from './calendar';
import { fnv1a64Hex } from './hash';
import {
  DEFAULT_LIFECYCLE_POLICY,
  LifecyclePolicySchema,
  PartialLifecyclePolicySchema,
  type LifecyclePolicy,
  type PartialLifecyclePolicy,
} from './policy';

/**
 * The lender's repayment plan for one contract: one schema shared by the workflow's start validation, the
 * modifyPlan update's validator and the lender's client, so that they can never disagree.
 */

const ALNUM = /^[0-9A-Za-z]+$/;
const FEN = /^[1-9][0-9]{0,15}$/;
export const MAX_INSTALLMENTS = 360;

const FEN_RULE = 'must be a positive integer amount in fen (decimal string)';

export const FenAmountSchema = z.string({ error: FEN_RULE }).regex(FEN, { error: FEN_RULE });
export const CalendarDateSchema = z
  .string({ error: 'must be a calendar date YYYY-MM-DD' })
  .refine(isCalendarDate, { error: 'must be a calendar date YYYY-MM-DD' });
export const OutRecordIdSchema = z
  .string({ error: 'must be a string' })
  .min(1, { error: 'must not be empty' })
  .max(32, { error: 'must be at most 32 characters' })
  .regex(ALNUM, { error: 'must contain only digits and letters' });

export const InstallmentSchema = z
  .strictObject({
    outRecordId: OutRecordIdSchema.optional(),
    repaymentAmount: FenAmountSchema,
    minRepaymentAmount: FenAmountSchema,
    repaymentDate: CalendarDateSchema,
    description: apiText(256).optional(),
    attach: apiText(128).optional(),
  })
  .superRefine((item, ctx) => {
    if (FEN.test(item.repaymentAmount) && FEN.test(item.minRepaymentAmount)) {
      if (BigInt(item.minRepaymentAmount) > BigInt(item.repaymentAmount)) {
        ctx.addIssue({
          code: 'custom',
          path: ['minRepaymentAmount'],
          message: 'must not exceed repaymentAmount',
        });
      }
    }
  });

export const RepaymentPlanSchema = z
  .strictObject({
    outContractCode: apiText(64).regex(ALNUM, { error: 'must contain only digits and letters' }),
    contractId: apiText(64),
    appid: apiText(32),
    openid: apiText(128),
    subMchid: apiText(32).optional(),
    subAppid: apiText(32).optional(),
    signature: z.strictObject({
      mode: z.enum(['poll', 'signal', 'none'], { error: "must be 'poll', 'signal' or 'none'" }),
    }),
    installments: z
      .array(InstallmentSchema, { error: 'must be a list of installments' })
      .min(1, { error: 'must hold at least one installment' })
      .max(MAX_INSTALLMENTS, { error: `must hold at most ${MAX_INSTALLMENTS} installments` }),
    policy: PartialLifecyclePolicySchema.optional(),
  })
  .transform((plan) => ({
    ...plan,
    installments: plan.installments.map((item, index) => ({
      ...item,
      outRecordId: item.outRecordId ?? deriveOutRecordId(plan.outContractCode, index),
    })),
  }))
  .superRefine((plan, ctx) => {
    addUniquenessIssues(plan.installments, ctx, ['installments']);
  });

/** What the lender submits (outRecordId optional). */
export type RepaymentPlanInput = z.input<typeof RepaymentPlanSchema>;
/** A validated plan: every installment has its outRecordId. */
export type RepaymentPlan = z.output<typeof RepaymentPlanSchema>;
export type InstallmentInput = z.input<typeof InstallmentSchema>;
export type Installment = RepaymentPlan['installments'][number];

/** Workflow id of a contract's lifecycle: one per out_contract_code, so a second start can never make a twin. */
export function workflowIdFor(outContractCode: string): string {
  return `repayment-${outContractCode}`;
}

/**
 * A stable out_record_id for an installment the lender did not name: the same contract code and position always
 * give the same id, so a retried or replayed schedule call can never create a second record.
 */
export function deriveOutRecordId(outContractCode: string, index: number): string {
  return `R${fnv1a64Hex(`${outContractCode}#${index}`)}`;
}

export interface PlanIssue {
  path: string;
  rule: string;
}

/** A plan or modification that breaks a rule; the message names every field and its rule. */
export class PlanValidationError extends Error {
  override readonly name = 'PlanValidationError';
  readonly code = 'INVALID_INPUT';
  readonly retryable = false;
  readonly issues: PlanIssue[];
  constructor(issues: PlanIssue[]) {
    super(issues.map((issue) => `${issue.path}: ${issue.rule}`).join('; '));
    this.issues = issues;
  }
}

export function formatPath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const key of path) {
    if (typeof key === 'number') text += `[${key}]`;
    else text += text ? `.${String(key)}` : String(key);
  }
  return text || '(root)';
}

export function issuesOf(error: z.ZodError, prefix: readonly PropertyKey[] = []): PlanIssue[] {
  return error.issues.map((issue) => ({ path: formatPath([...prefix, ...issue.path]), rule: issue.message }));
}

interface DatedItem {
  outRecordId: string;
  repaymentDate: string;
}

function addUniquenessIssues(items: readonly DatedItem[], ctx: z.RefinementCtx, prefix: PropertyKey[]): void {
  const ids = new Map<string, number>();
  const dates = new Map<string, number>();
  items.forEach((item, index) => {
    const sameId = ids.get(item.outRecordId);
    if (sameId !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: [...prefix, index, 'outRecordId'],
        message: `duplicates installments[${sameId}]`,
      });
    } else ids.set(item.outRecordId, index);
    const sameDate = dates.get(item.repaymentDate);
    if (sameDate !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: [...prefix, index, 'repaymentDate'],
        message: `duplicates installments[${sameDate}]`,
      });
    } else dates.set(item.repaymentDate, index);
  });
}

/**
 * Validates a plan against the schema and against the clock: every repayment date must be after `today`
 * (Asia/Shanghai). Throws PlanValidationError naming each bad field.
 */
export function parsePlan(input: unknown, today?: string): RepaymentPlan {
  const parsed = RepaymentPlanSchema.safeParse(input);
  if (!parsed.success) throw new PlanValidationError(issuesOf(parsed.error));
  if (today !== undefined) {
    const late: PlanIssue[] = [];
    parsed.data.installments.forEach((item, index) => {
      if (item.repaymentDate <= today) {
        late.push({
          path: `installments[${index}].repaymentDate`,
          rule: `must be after today (${today}, Asia/Shanghai)`,
        });
      }
    });
    if (late.length > 0) throw new PlanValidationError(late);
  }
  return parsed.data;
}

/**
 * The policy a lifecycle runs with: the defaults, then the deployment's overrides (temporal.yaml's `lifecycle:`,
 * carried in the workflow input), then the plan's own. The client checks it before starting; the workflow again.
 */
export function resolvePolicy(
  overrides: PartialLifecyclePolicy | undefined,
  planPolicy: PartialLifecyclePolicy | undefined,
): LifecyclePolicy {
  const merged = LifecyclePolicySchema.safeParse({ ...DEFAULT_LIFECYCLE_POLICY, ...overrides, ...planPolicy });
  if (!merged.success) throw new PlanValidationError(issuesOf(merged.error, ['policy']));
  return merged.data;
}
