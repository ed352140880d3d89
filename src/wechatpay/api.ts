import { WechatPayUnexpectedAnswerError, WechatPayValidationError } from './errors';
import type { WechatPayHttpClient, WechatPayResponse } from './http';
import {
  assertAppid,
  assertContractId,
  assertOpenid,
  assertOutContractCodeForQuery,
  assertOutContractCodeForTerminate,
  assertOutId,
  assertRemark,
  assertScheduleItem,
} from './validation';

/**
 * The five endpoints of the seeds, as typed functions over the HTTP client. Field names are the API's.
 * Input is validated before sending; answers are checked for the fields the callers rely on.
 */

// ---- Seed 001: schedule repayments ----

export interface ScheduleItem {
  out_record_id: string;
  sub_mchid?: string;
  sub_appid?: string;
  /** Fen, decimal string. */
  repayment_amount: string;
  /** Fen, decimal string, at most repayment_amount. */
  min_repayment_amount: string;
  /** YYYY-MM-DD, Asia/Shanghai. */
  repayment_date: string;
  description?: string;
  attach?: string;
}

export interface CreateScheduleRecordsRequest {
  contract_id: string;
  appid: string;
  openid: string;
  schedule_items: ScheduleItem[];
}

export interface ScheduleRecord {
  out_record_id: string;
  appid: string;
  sub_appid?: string;
  contract_id: string;
  repayment_amount: string;
  min_repayment_amount: string;
  repayment_date: string;
  description?: string;
  attach?: string;
  openid: string;
}

export interface CreateScheduleRecordsResponse {
  schedule_records: ScheduleRecord[];
}

const RECORD_FIELDS = ['out_record_id', 'contract_id', 'repayment_amount', 'min_repayment_amount', 'repayment_date'];

export async function createScheduleRecords(
  client: WechatPayHttpClient,
  request: CreateScheduleRecordsRequest,
): Promise<CreateScheduleRecordsResponse> {
  assertContractId(request.contract_id);
  assertAppid(request.appid);
  assertOpenid(request.openid);
  const items: unknown = request.schedule_items;
  if (!Array.isArray(items) || items.length === 0) {
    throw new WechatPayValidationError('schedule_items', 'a non-empty list');
  }
  items.forEach((item, i) => assertScheduleItem(item, `schedule_items[${i}]`));
  const answer = await client.request<CreateScheduleRecordsResponse>({
    method: 'POST',
    path: '/v3/credit-repayment/partner/schedule-records/batch-create',
    body: request,
  });
  const records = requireObject(answer).schedule_records;
  if (!Array.isArray(records)) throw unexpected(answer, 'schedule_records is not a list');
  records.forEach((record, i) => requireStrings(answer, record, RECORD_FIELDS, `schedule_records[${i}]`));
  return answer.data;
}

// ---- Seed 000: query one scheduled record ----

export interface QueryScheduleRecordRequest {
  out_record_id: string;
  contract_id: string;
}

export async function queryScheduleRecord(
  client: WechatPayHttpClient,
  request: QueryScheduleRecordRequest,
): Promise<ScheduleRecord> {
  const outRecordId = assertOutId(request.out_record_id, 'out_record_id');
  const contractId = assertContractId(request.contract_id);
  const answer = await client.request<ScheduleRecord>({
    method: 'GET',
    path: `/v3/credit-repayment/partner/schedule-records/${encodeURIComponent(outRecordId)}`,
    query: { contract_id: contractId },
  });
  requireStrings(answer, requireObject(answer), [...RECORD_FIELDS, 'appid', 'openid'], 'answer');
  return answer.data;
}

// ---- Seed 002: query signing by the merchant's contract code ----

export interface QueryContractSigningRequest {
  out_contract_code: string;
  appid: string;
}

export const CONTRACT_AUTH_STATES: readonly ContractAuthState[] = ['AUTHORIZED', 'UNAUTHORIZED'];
export type ContractAuthState = 'AUTHORIZED' | 'UNAUTHORIZED';

export interface ContractSigningInfo {
  individual_auth_id?: string;
  /** RFC 3339. The seed marks it required; tolerated as absent for a contract not yet signed. */
  signed_time?: string;
  auth_state: ContractAuthState;
  individual_openid?: string;
}

export async function queryContractSigning(
  client: WechatPayHttpClient,
  request: QueryContractSigningRequest,
): Promise<ContractSigningInfo> {
  const code = assertOutContractCodeForQuery(request.out_contract_code);
  const appid = assertAppid(request.appid);
  const answer = await client.request<ContractSigningInfo>({
    method: 'GET',
    path: `/v3/ecommerce/individual-contracts/out-contract-code/${encodeURIComponent(code)}`,
    query: { appid },
  });
  requireStrings(answer, requireObject(answer), ['auth_state'], 'answer');
  // Only the two documented states: "not AUTHORIZED" ends a contract as the user's termination, so a state the seed
  // does not name must never be read as one (it is infrastructure until someone looks).
  if (!CONTRACT_AUTH_STATES.includes(answer.data.auth_state)) {
    throw unexpected(answer, `answer.auth_state is not one of ${CONTRACT_AUTH_STATES.join(', ')}`);
  }
  return answer.data;
}

// ---- Seed 003: query a compensation bill ----

export interface QueryCompensationBillRequest {
  out_bill_no: string;
}

export type CompensationBillState = 'ACCEPTED' | 'SUCCESS' | 'CLOSED' | 'WAIT_USER_CONFIRM' | 'CANCELING' | 'CANCELLED';
export const FINAL_COMPENSATION_BILL_STATES: readonly CompensationBillState[] = ['SUCCESS', 'CLOSED', 'CANCELLED'];

export interface CompensationBill {
  sp_mchid: string;
  receiver_detail: {
    receiver: {
      type: 'TRANSACTION_USER';
      transaction_info: { transaction_id: string; type: 'WXPAY' | 'WXVALUE' };
    };
  };
  out_bill_no: string;
  /** Fen, an integer (not a string, unlike the credit-repayment APIs). */
  amount: number;
  transfer_remark?: string;
  bill_id: string;
  state: CompensationBillState;
  accept_time: string;
  success_time?: string;
  close_info?: { close_time?: string; close_reason?: string };
  sponsor_mchid?: string;
}

export async function queryCompensationBill(
  client: WechatPayHttpClient,
  request: QueryCompensationBillRequest,
): Promise<CompensationBill> {
  const outBillNo = assertOutId(request.out_bill_no, 'out_bill_no');
  const answer = await client.request<CompensationBill>({
    method: 'GET',
    path: `/v3/platsolution/ecommerce/mch-transfer/compensate-bills/out-bill-no/${encodeURIComponent(outBillNo)}`,
  });
  const bill = requireObject(answer);
  requireStrings(answer, bill, ['out_bill_no', 'bill_id', 'state'], 'answer');
  if (!Number.isSafeInteger(bill.amount) || (bill.amount as number) < 0) {
    throw unexpected(answer, 'answer.amount is not a non-negative integer');
  }
  return answer.data;
}

// ---- Seed 004: terminate the contract ----

export interface TerminateContractRequest {
  out_contract_code: string;
  contract_termination_remark: string;
}

export type ContractState = 'CONTRACT_STATE_INVALID' | 'CONTRACT_STATE_EFFECTIVE' | 'CONTRACT_STATE_TERMINATED';
export type ContractTerminationMode =
  | 'TERMINATION_MODE_INVALID'
  | 'TERMINATION_MODE_BY_USER'
  | 'TERMINATION_MODE_BY_MERCHANT'
  | 'TERMINATION_MODE_BY_CUSTOMER_SERVICE';

export interface ContractInfo {
  contract_id: string;
  plan_id: string;
  out_contract_code: string;
  display_name: string;
  contract_state: ContractState;
  contract_signed_time?: string;
  contract_terminated_time?: string;
  contract_termination_mode?: ContractTerminationMode;
  contract_termination_remark?: string;
  repayment_day?: number;
}

export interface TerminateContractResponse {
  contract_info?: ContractInfo;
}

export async function terminateContract(
  client: WechatPayHttpClient,
  request: TerminateContractRequest,
): Promise<TerminateContractResponse> {
  assertOutContractCodeForTerminate(request.out_contract_code);
  assertRemark(request.contract_termination_remark);
  const answer = await client.request<TerminateContractResponse | undefined>({
    method: 'POST',
    path: '/v3/credit-repayment/partner/contracts/terminate',
    body: {
      out_contract_code: request.out_contract_code,
      contract_termination_remark: request.contract_termination_remark,
    },
  });
  // contract_info is optional (seed 004), and an empty 2xx body is a success without it.
  if (answer.data === undefined) return {};
  const info = requireObject(answer).contract_info;
  if (info !== undefined) requireStrings(answer, info, ['contract_state'], 'contract_info');
  return answer.data;
}

// ---- answer shape checks ----

function requireObject(answer: WechatPayResponse<unknown>): Record<string, unknown> {
  const { data } = answer;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw unexpected(answer, 'not a JSON object');
  return data as Record<string, unknown>;
}

function requireStrings(answer: WechatPayResponse<unknown>, value: unknown, fields: string[], where: string): void {
  if (typeof value !== 'object' || value === null) throw unexpected(answer, `${where} is not an object`);
  const record = value as Record<string, unknown>;
  for (const field of fields) {
    if (typeof record[field] !== 'string') throw unexpected(answer, `${where}.${field} is missing or not a string`);
  }
}

function unexpected(answer: WechatPayResponse<unknown>, problem: string): WechatPayUnexpectedAnswerError {
  return new WechatPayUnexpectedAnswerError({
    httpStatus: answer.httpStatus,
    message: `the verified answer does not match the documented shape: ${problem}`,
    ...(answer.requestId === undefined ? {} : { requestId: answer.requestId }),
  });
}
