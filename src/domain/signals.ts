import { z } from 'zod';
import { FenAmountSchema, OutRecordIdSchema } from './plan';
import { apiText } from './text';

/**
 * Payload schemas of the lifecycle's signals. Signals cannot be rejected once sent, so the lender's client
 * validates with these before sending and the workflow ignores (and logs) a payload that does not parse.
 */

export const ContractSignedSchema = z.strictObject({
  contractId: apiText(64).optional(),
  signedTime: z.iso.datetime({ offset: true, error: 'must be an RFC 3339 time' }).optional(),
});
export type ContractSigned = z.infer<typeof ContractSignedSchema>;

export const RepaymentResultSignalSchema = z.strictObject({
  outRecordId: OutRecordIdSchema,
  outcome: z.enum(['SUCCESS', 'FAILED'], { error: "must be 'SUCCESS' or 'FAILED'" }),
  amount: FenAmountSchema.optional(),
  transactionId: apiText(64).optional(),
  reason: apiText(128).optional(),
});
export type RepaymentResultSignal = z.infer<typeof RepaymentResultSignalSchema>;

export const CompensationBillReportedSchema = z.strictObject({
  outBillNo: apiText(32).regex(/^[0-9A-Za-z]+$/, { error: 'must contain only digits and letters' }),
});
export type CompensationBillReported = z.infer<typeof CompensationBillReportedSchema>;

export const CancelRequestSchema = z.strictObject({ reason: apiText(100) });
export type CancelRequest = z.infer<typeof CancelRequestSchema>;

/**
 * What the compensation-bill tracker reports when it stops: only final states, so that no sender can reopen or
 * fake a bill's progress (the signal is internal, but anyone with namespace access can send it).
 */
export const CompensationBillOutcomeSchema = z.strictObject({
  outBillNo: apiText(32).regex(/^[0-9A-Za-z]+$/, { error: 'must contain only digits and letters' }),
  state: z.enum(['SUCCESS', 'CLOSED', 'CANCELLED', 'NOT_FOUND', 'QUERY_FAILED']),
  amount: z
    .string()
    .regex(/^[0-9]{1,16}$/, { error: 'must be an integer amount in fen' })
    .optional(),
  closeReason: apiText(256).optional(),
  error: z.string().max(1024).optional(),
  at: z.iso.datetime({ offset: true, error: 'must be an RFC 3339 time' }),
});
