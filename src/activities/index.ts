import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import {
  createScheduleRecords,
  queryCompensationBill,
  queryContractSigning,
  queryScheduleRecord,
  terminateContract,
} from '../wechatpay/api';
import { isVerifiedNotFound } from '../wechatpay/errors';
import type { WechatPayHttpClient } from '../wechatpay/http';
import { UNEXPECTED_ANSWER } from '../domain/failureTypes';
import { toActivityFailure } from './failures';

/**
 * One activity per WeChat Pay endpoint, thin over the client. Answers are reduced to what the workflow needs,
 * so personal data (openid) never enters workflow history through an activity result, and nothing here logs.
 * A VERIFIED "not found" answer is a normal result for the queries (the workflow decides what it means); any other
 * 404 (unsigned, unverifiable, an HTML page) is an infrastructure failure like a 5xx.
 *
 * The two state-changing calls (create, terminate) never resend blindly: a retry attempt, or a call the workflow
 * marks `reconcileFirst` (an earlier outcome was unknown), first asks WeChat Pay what it holds and resends only when
 * a verified answer says the change is not there.
 */

export interface ActivityDependencies {
  wechatpay: WechatPayHttpClient;
}

export interface SigningQuery {
  outContractCode: string;
  appid: string;
}
export type SigningState = { found: false } | { found: true; authState: string; signedTime?: string };

export interface ScheduleItem {
  outRecordId: string;
  repaymentAmount: string;
  minRepaymentAmount: string;
  repaymentDate: string;
  description?: string;
  attach?: string;
}
export interface ScheduleRequest {
  contractId: string;
  appid: string;
  openid: string;
  subMchid?: string;
  subAppid?: string;
  item: ScheduleItem;
  /** An earlier create's outcome is unknown: query the record before sending the create again. */
  reconcileFirst?: boolean;
}
export interface ScheduledRecord {
  outRecordId: string;
  contractId: string;
  repaymentAmount: string;
  minRepaymentAmount: string;
  repaymentDate: string;
  /** The record was found by the reconciling query (an earlier call had created it): nothing was sent. */
  reconciled?: boolean;
}
export type ScheduleRecordLookup = { found: false } | { found: true; record: ScheduledRecord };

export type CompensationBillLookup =
  { found: false } | { found: true; state: string; amount: string; billId: string; closeReason?: string };

export interface TerminationRequest {
  outContractCode: string;
  remark: string;
  /**
   * Set when the contract was verifiably AUTHORIZED (its appid): after an unknown outcome, a verified "no longer
   * authorized" from the signing query means the termination went through.
   */
  authorizedAppid?: string;
  reconcileFirst?: boolean;
}
export interface TerminationAnswer {
  contractState?: string;
  terminatedTime?: string;
  /** Not sent: a verified signing query found the contract no longer authorized (an earlier call went through). */
  confirmedBySigningQuery?: boolean;
}

const attempt = (): number => Context.current().info.attempt;

async function call<T>(run: () => Promise<T>, stateChanging = false): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw toActivityFailure(error, attempt(), stateChanging);
  }
}

async function lookup<T>(run: () => Promise<T>): Promise<T | { found: false }> {
  try {
    return await run();
  } catch (error) {
    if (isVerifiedNotFound(error)) return { found: false };
    throw toActivityFailure(error, attempt());
  }
}

interface RecordFields {
  out_record_id: string;
  contract_id: string;
  repayment_amount: string;
  min_repayment_amount: string;
  repayment_date: string;
}

const toScheduledRecord = (record: RecordFields): ScheduledRecord => ({
  outRecordId: record.out_record_id,
  contractId: record.contract_id,
  repaymentAmount: record.repayment_amount,
  minRepaymentAmount: record.min_repayment_amount,
  repaymentDate: record.repayment_date,
});

export function createActivities({ wechatpay }: ActivityDependencies) {
  const signingState = (request: SigningQuery): Promise<SigningState> =>
    lookup(async () => {
      const answer = await queryContractSigning(wechatpay, {
        out_contract_code: request.outContractCode,
        appid: request.appid,
      });
      return {
        found: true as const,
        authState: answer.auth_state,
        ...(answer.signed_time ? { signedTime: answer.signed_time } : {}),
      };
    });
  const recordLookup = (request: { outRecordId: string; contractId: string }): Promise<ScheduleRecordLookup> =>
    lookup(async () => {
      const answer = await queryScheduleRecord(wechatpay, {
        out_record_id: request.outRecordId,
        contract_id: request.contractId,
      });
      return { found: true as const, record: toScheduledRecord(answer) };
    });

  return {
    /** Seed 002: the signing state of the contract by the merchant's contract code. */
    async querySigning(request: SigningQuery): Promise<SigningState> {
      return signingState(request);
    },

    /**
     * Seed 001 with exactly one item (the live service's rule). Returns the record as WeChat Pay stored it. On a
     * retry (or when asked) the record is queried first: found means an earlier call created it.
     */
    async createScheduleRecord(request: ScheduleRequest): Promise<ScheduledRecord> {
      const { item } = request;
      if (request.reconcileFirst || attempt() > 1) {
        const existing = await recordLookup({ outRecordId: item.outRecordId, contractId: request.contractId });
        if (existing.found) return { ...existing.record, reconciled: true };
      }
      return call(async () => {
        const answer = await createScheduleRecords(wechatpay, {
          contract_id: request.contractId,
          appid: request.appid,
          openid: request.openid,
          schedule_items: [
            {
              out_record_id: item.outRecordId,
              repayment_amount: item.repaymentAmount,
              min_repayment_amount: item.minRepaymentAmount,
              repayment_date: item.repaymentDate,
              ...(request.subMchid ? { sub_mchid: request.subMchid } : {}),
              ...(request.subAppid ? { sub_appid: request.subAppid } : {}),
              ...(item.description ? { description: item.description } : {}),
              ...(item.attach ? { attach: item.attach } : {}),
            },
          ],
        });
        const record = answer.schedule_records?.find((r) => r.out_record_id === item.outRecordId);
        if (!record) {
          // Verified but not what we asked for: the outcome is unknown, the workflow reconciles by querying.
          throw ApplicationFailure.create({
            type: UNEXPECTED_ANSWER,
            message: `the answer does not list record ${item.outRecordId}`,
            nonRetryable: true,
          });
        }
        return toScheduledRecord(record);
      }, true);
    },

    /** Seed 000: the record as WeChat Pay holds it now, or (verified) not found. */
    async queryScheduleRecord(request: { outRecordId: string; contractId: string }): Promise<ScheduleRecordLookup> {
      return recordLookup(request);
    },

    /** Seed 003 (100 calls/s per merchant: runs on its own rate-limited task queue). */
    async queryCompensationBill(request: { outBillNo: string }): Promise<CompensationBillLookup> {
      return lookup(async () => {
        const answer = await queryCompensationBill(wechatpay, { out_bill_no: request.outBillNo });
        return {
          found: true as const,
          state: answer.state,
          amount: String(answer.amount),
          billId: answer.bill_id,
          ...(answer.close_info?.close_reason ? { closeReason: answer.close_info.close_reason } : {}),
        };
      });
    },

    /**
     * Seed 004. On a retry (or when asked) of a contract that was authorized, the signing query (seed 002) is asked
     * first: a verified "no longer authorized" means an earlier call went through, and nothing is sent again.
     */
    async terminateContract(request: TerminationRequest): Promise<TerminationAnswer> {
      if (request.authorizedAppid && (request.reconcileFirst || attempt() > 1)) {
        const state = await signingState({ outContractCode: request.outContractCode, appid: request.authorizedAppid });
        if (state.found && state.authState !== 'AUTHORIZED') return { confirmedBySigningQuery: true };
      }
      return call(async () => {
        const answer = await terminateContract(wechatpay, {
          out_contract_code: request.outContractCode,
          contract_termination_remark: request.remark,
        });
        const info = answer.contract_info;
        return {
          ...(info?.contract_state ? { contractState: info.contract_state } : {}),
          ...(info?.contract_terminated_time ? { terminatedTime: info.contract_terminated_time } : {}),
        };
      }, true);
    },
  };
}

export type RepaymentActivities = ReturnType<typeof createActivities>;
/** Activities registered on the main task queue; the compensation query has its own queue. */
export type MainQueueActivities = Omit<RepaymentActivities, 'queryCompensationBill'>;
export type CompensationActivities = Pick<RepaymentActivities, 'queryCompensationBill'>;
