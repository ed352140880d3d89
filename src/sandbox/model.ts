/**
 * The sandbox's business state: contracts, schedule records and compensation bills, as plain JSON-able data
 * (it is persisted as is). Field names follow the API where the API has one.
 */

export type ContractStatus = 'UNSIGNED' | 'AUTHORIZED' | 'TERMINATED';
export type TerminationMode = 'BY_MERCHANT' | 'BY_USER';

export interface SandboxContract {
  out_contract_code: string;
  contract_id: string;
  appid: string;
  openid: string;
  plan_id: string;
  display_name: string;
  state: ContractStatus;
  /** RFC 3339, set when authorized. */
  signed_time?: string;
  terminated_time?: string;
  termination_mode?: TerminationMode;
  termination_remark?: string;
  repayment_day?: number;
}

export interface SandboxRecord {
  out_record_id: string;
  contract_id: string;
  appid: string;
  openid: string;
  sub_mchid?: string;
  sub_appid?: string;
  repayment_amount: string;
  min_repayment_amount: string;
  repayment_date: string;
  description?: string;
  attach?: string;
  created_time: string;
}

export const BILL_STATES = ['ACCEPTED', 'SUCCESS', 'CLOSED', 'WAIT_USER_CONFIRM', 'CANCELING', 'CANCELLED'] as const;
export type BillState = (typeof BILL_STATES)[number];

/** Seed 003's state machine; SUCCESS, CLOSED and CANCELLED are final. */
export const BILL_TRANSITIONS: Readonly<Record<BillState, readonly BillState[]>> = {
  ACCEPTED: ['SUCCESS', 'CLOSED', 'WAIT_USER_CONFIRM'],
  WAIT_USER_CONFIRM: ['SUCCESS', 'CLOSED', 'CANCELING'],
  CANCELING: ['CANCELLED'],
  SUCCESS: [],
  CLOSED: [],
  CANCELLED: [],
};

export interface SandboxBill {
  out_bill_no: string;
  bill_id: string;
  /** Integer fen (the compensation API carries it as a JSON integer). */
  amount: number;
  transaction_id: string;
  transaction_type: 'WXPAY' | 'WXVALUE';
  transfer_remark?: string;
  state: BillState;
  accept_time: string;
  success_time?: string;
  close_info?: { close_time: string; close_reason: string };
}

export interface SandboxStateData {
  version: 1;
  contracts: Record<string, SandboxContract>;
  records: Record<string, SandboxRecord>;
  bills: Record<string, SandboxBill>;
  /** Added to the business clock (POST /sandbox/clock). */
  clockOffsetMs: number;
}

export function emptyState(): SandboxStateData {
  return { version: 1, contracts: {}, records: {}, bills: {}, clockOffsetMs: 0 };
}

/** RFC 3339 in Asia/Shanghai, whole seconds, e.g. 2025-11-05T13:29:35+08:00 (the format the seeds show). */
export function shanghaiTimestamp(epochMs: number): string {
  return `${new Date(epochMs + 8 * 3_600_000).toISOString().slice(0, 19)}+08:00`;
}
