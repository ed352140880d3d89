import { PlanValidationError, issuesOf } from './plan';
import { RepaymentResultSignalSchema, type RepaymentResultSignal } from './signals';
import { isFinalInstallment, type InstallmentRecord } from './status';

/**
 * The lender's repayment result for one installment, checked against the lifecycle's installments. Shared by the
 * `reportRepaymentResult` update's validator (a bad result is refused to the caller, naming the field) and the
 * `repaymentResult` signal (kept for compatibility: a bad one is logged and counted).
 */

export interface CheckedResult {
  record: InstallmentRecord;
  result: RepaymentResultSignal;
  /** The same result again (a lender retry): accepted, nothing changes. */
  repeat: boolean;
}

export function checkRepaymentResult(records: readonly InstallmentRecord[], input: unknown): CheckedResult {
  const parsed = RepaymentResultSignalSchema.safeParse(input);
  if (!parsed.success) throw new PlanValidationError(issuesOf(parsed.error));
  const result = parsed.data;
  const record = records.find((r) => r.outRecordId === result.outRecordId);
  if (!record) {
    throw new PlanValidationError([
      { path: 'outRecordId', rule: `names no installment of this lifecycle (${result.outRecordId})` },
    ]);
  }
  if (isFinalInstallment(record)) {
    const previous = record.result;
    const same =
      previous !== undefined &&
      previous.outcome === result.outcome &&
      (result.amount === undefined || previous.amount === result.amount) &&
      (result.transactionId === undefined || previous.transactionId === result.transactionId);
    if (same) return { record, result, repeat: true };
    throw new PlanValidationError([
      { path: 'outRecordId', rule: `installment ${record.outRecordId} is already ${record.state}` },
    ]);
  }
  if (result.amount !== undefined) {
    const amount = BigInt(result.amount);
    if (amount > BigInt(record.repaymentAmount)) {
      throw new PlanValidationError([
        { path: 'amount', rule: `must not exceed the installment's repaymentAmount (${record.repaymentAmount})` },
      ]);
    }
    if (result.outcome === 'SUCCESS' && amount < BigInt(record.minRepaymentAmount)) {
      throw new PlanValidationError([
        {
          path: 'amount',
          rule: `must be at least the installment's minRepaymentAmount (${record.minRepaymentAmount})`,
        },
      ]);
    }
  }
  return { record, result, repeat: false };
}
