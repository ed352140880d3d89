import { z } from 'zod';
import { FenAmountSchema, OutRecordIdSchema } from './plan';

/**
 * Payload schemas of the lifecycle's signals. Signals cannot be rejected once sent, so the lender's client
 * validates with these before sending and the workflow ignores (and logs) a payload that does not parse.
 */

const text = (max: number) =>
  z
    .string({ error: 'must be a string' })
    .min(1, { error: 'must not be empty' })
    .max(max, { error: `must be at most ${max} characters` });

export const ContractSignedSchema = z.strictObject({
  contractId: text(64).optional(),
  signedTime: z.iso.datetime({ offset: true, error: 'must be an RFC 3339 time' }).optional(),
});
export type ContractSigned = z.infer<typeof ContractSignedSchema>;

export const RepaymentResultSignalSchema = z.strictObject({
  outRecordId: OutRecordIdSchema,
  outcome: z.enum(['SUCCESS', 'FAILED'], { error: "must be 'SUCCESS' or 'FAILED'" }),
  amount: FenAmountSchema.optional(),
  transactionId: text(64).optional(),
  reason: text(128).optional(),
});
export type RepaymentResultSignal = z.infer<typeof RepaymentResultSignalSchema>;

export const CompensationBillReportedSchema = z.strictObject({
  outBillNo: text(32).regex(/^[0-9A-Za-z]+$/, { error: 'must contain only digits and letters' }),
});
export type CompensationBillReported = z.infer<typeof CompensationBillReportedSchema>;

export const CancelRequestSchema = z.strictObject({ reason: text(100) });
export type CancelRequest = z.infer<typeof CancelRequestSchema>;
