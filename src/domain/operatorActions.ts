import { z } from 'zod';
import { issuesOf, PlanValidationError } from './plan';
import type { StepFault } from './status';
import { apiText } from './text';

/**
 * The `resolveAlert` update: an operator's decision on an alert (or on a step still retrying).
 * - retry: try the step again now (an infrastructure fault, a refused or changed record, a refused termination),
 *   or wait another grace period for an overdue result;
 * - skip: leave the installment out (SKIPPED; WeChat Pay's record, if any, is left as it is);
 * - terminate: end the contract (evidence: the operator's decision, with the reason).
 */

export const ResolveAlertSchema = z.strictObject({
  /** The alert's key as `status` shows it (`create:R…`, `poll:R…`, `signing`, …); optional when there is one. */
  alert: z.string().min(1).max(80).optional(),
  action: z.enum(['retry', 'skip', 'terminate'], { error: "must be 'retry', 'skip' or 'terminate'" }),
  reason: apiText(100).optional(),
});
export type ResolveAlertInput = z.input<typeof ResolveAlertSchema>;

export interface CheckedResolution {
  fault: StepFault;
  action: 'retry' | 'skip' | 'terminate';
  reason?: string;
}

export function checkResolution(
  faults: readonly StepFault[],
  input: unknown,
  context: { stopping: boolean },
): CheckedResolution {
  const parsed = ResolveAlertSchema.safeParse(input);
  if (!parsed.success) throw new PlanValidationError(issuesOf(parsed.error));
  const { alert, action, reason } = parsed.data;
  const fail = (path: string, rule: string): never => {
    throw new PlanValidationError([{ path, rule }]);
  };
  const keys = faults.map((f) => f.key);
  let fault: StepFault | undefined;
  if (alert !== undefined) {
    fault = faults.find((f) => f.key === alert);
    if (!fault) fail('alert', `names no alert of this lifecycle (${alert}); open: ${keys.join(', ') || 'none'}`);
  } else if (faults.length === 1) {
    fault = faults[0];
  } else {
    fail('alert', faults.length === 0 ? 'there is no alert to resolve' : `must name one of: ${keys.join(', ')}`);
  }
  const chosen = fault!;
  if (context.stopping && chosen.step !== 'terminate' && chosen.step !== 'events') {
    fail('alert', 'the lifecycle is stopping: only its termination (or its lender events) can be retried');
  }
  if (action === 'retry' && chosen.kind === 'MISSED_WINDOW') {
    fail('action', 'the window has closed: reschedule the installment (modifyPlan), skip it or terminate');
  }
  if (action === 'skip' && !chosen.outRecordId)
    fail('action', `skip applies to an installment's alert, not ${chosen.key}`);
  if (action === 'terminate') {
    if (chosen.step === 'terminate') fail('action', 'the contract is already being terminated');
    if (chosen.step === 'events') fail('action', "the lender's event receiver failing says nothing about the contract");
    if (!reason) fail('reason', 'is required to terminate');
  }
  return { fault: chosen, action, ...(reason ? { reason } : {}) };
}
