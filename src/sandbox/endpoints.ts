import { addDays, shanghaiDateOf } from '../domain/calendar';
import { invalidRequest, paramError, resourceNotExists } from './errors';
import type { EndpointName } from './faults';
import { shanghaiTimestamp, type SandboxBill, type SandboxContract, type SandboxRecord } from './model';
import {
  ALPHANUMERIC,
  calendarDate,
  CONTRACT_CODE_CHARS,
  fenAmount,
  jsonObject,
  optionalText,
  outId,
  requiredText,
} from './rules';
import type { SandboxStore } from './store';

/**
 * The five endpoints of the seeds over the sandbox's state, and the platform-certificate download. Each handler
 * returns the 200 answer's JSON body.
 */

export interface EndpointContext {
  store: SandboxStore;
  mchid: string;
  businessNow(): Promise<number>;
  /** null: no repayment_date window check. */
  scheduleWindowDays: number | null;
  maxItemsPerCall: number;
  /** The platform certificates (`GET /v3/certificates`). */
  certificates: { downloadAnswer(nowMs: number): unknown };
}

interface EndpointInput {
  pathParam: string;
  query: URLSearchParams;
  body: unknown;
}

type Handler = (ctx: EndpointContext, input: EndpointInput) => Promise<unknown>;

interface Route {
  method: 'GET' | 'POST';
  pattern: RegExp;
  endpoint: EndpointName;
  handler: Handler;
}

export interface MatchedRoute {
  endpoint: EndpointName;
  run(ctx: EndpointContext, query: URLSearchParams, body: unknown): Promise<unknown>;
}

const SCHEDULE_RECORDS = '/v3/credit-repayment/partner/schedule-records';

/** Finds the endpoint of a /v3 request by method and path (query excluded). */
export function matchEndpoint(method: string, pathname: string): MatchedRoute | undefined {
  for (const route of ROUTES) {
    if (route.method !== method) continue;
    const match = route.pattern.exec(pathname);
    if (!match) continue;
    const raw = match[1] ?? '';
    return {
      endpoint: route.endpoint,
      run: (ctx, query, body) => route.handler(ctx, { pathParam: decodePathParam(raw), query, body }),
    };
  }
  return undefined;
}

function decodePathParam(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw paramError('path', 'INVALID_ENCODING', 'the path parameter is not valid percent-encoding');
  }
}

// ---- seed 001: batch-create ----
async function createScheduleRecords(ctx: EndpointContext, { body }: EndpointInput): Promise<unknown> {
  const request = jsonObject(body, 'body');
  const contractId = requiredText(request.contract_id, 'contract_id', { maxChars: 64 });
  const appid = requiredText(request.appid, 'appid', { maxChars: 32 });
  const openid = requiredText(request.openid, 'openid', { maxChars: 128 });
  const items = request.schedule_items;
  if (!Array.isArray(items) || items.length === 0) {
    throw paramError('schedule_items', 'REQUIRED', 'required, a non-empty list');
  }
  if (items.length > ctx.maxItemsPerCall) {
    throw paramError('schedule_items', 'TOO_MANY_ITEMS', `at most ${ctx.maxItemsPerCall} item(s) per call`);
  }
  const now = await ctx.businessNow();
  const today = shanghaiDateOf(now);
  const parsed = items.map((item, i) => scheduleItem(item, `schedule_items[${i}]`, today, ctx.scheduleWindowDays));

  const contract = Object.values(ctx.store.data.contracts).find((c) => c.contract_id === contractId);
  if (!contract)
    throw invalidRequest(`还款协议不存在 (no contract with contract_id ${contractId})`, {
      field: 'contract_id',
      issue: 'CONTRACT_NOT_FOUND',
    });
  if (contract.state !== 'AUTHORIZED') {
    throw invalidRequest(`还款协议未生效 (contract ${contractId} is ${contract.state}, not authorized)`, {
      field: 'contract_id',
      issue: 'CONTRACT_NOT_AUTHORIZED',
    });
  }
  if (contract.appid !== appid)
    throw invalidRequest('appid 与协议不匹配 (appid does not match the contract)', {
      field: 'appid',
      issue: 'MISMATCH',
    });
  if (contract.openid !== openid) {
    throw invalidRequest('openid 与协议不匹配 (openid does not match the contract)', {
      field: 'openid',
      issue: 'MISMATCH',
    });
  }
  const seen = new Set<string>();
  for (const item of parsed) {
    if (ctx.store.data.records[item.out_record_id] || seen.has(item.out_record_id)) {
      throw invalidRequest('out_record_id 重复 (duplicate out_record_id)', {
        field: 'out_record_id',
        issue: 'DUPLICATE',
      });
    }
    seen.add(item.out_record_id);
  }
  const created = parsed.map((item): SandboxRecord => {
    const record: SandboxRecord = {
      ...item,
      contract_id: contractId,
      appid,
      openid,
      created_time: shanghaiTimestamp(now),
    };
    ctx.store.data.records[record.out_record_id] = record;
    ctx.store.changed('records', record.out_record_id);
    return record;
  });
  return { schedule_records: created.map((r) => recordAnswer(r, true)) };
}

type ParsedItem = Omit<SandboxRecord, 'contract_id' | 'appid' | 'openid' | 'created_time'>;

function scheduleItem(value: unknown, path: string, today: string, windowDays: number | null): ParsedItem {
  const item = jsonObject(value, path);
  const out_record_id = outId(item.out_record_id, `${path}.out_record_id`);
  const repayment_amount = fenAmount(item.repayment_amount, `${path}.repayment_amount`);
  const min_repayment_amount = fenAmount(item.min_repayment_amount, `${path}.min_repayment_amount`);
  if (BigInt(min_repayment_amount) > BigInt(repayment_amount)) {
    throw paramError(`${path}.min_repayment_amount`, 'EXCEEDS_REPAYMENT_AMOUNT', 'must not exceed repayment_amount');
  }
  const repayment_date = calendarDate(item.repayment_date, `${path}.repayment_date`);
  if (windowDays !== null) {
    const first = addDays(today, 1);
    const last = addDays(today, windowDays);
    if (repayment_date < first || repayment_date > last) {
      throw paramError(
        `${path}.repayment_date`,
        'OUT_OF_WINDOW',
        `must be between ${first} and ${last} (the day after today to ${windowDays} days after, Asia/Shanghai)`,
      );
    }
  }
  const optional = {
    sub_mchid: optionalText(item.sub_mchid, `${path}.sub_mchid`, { maxChars: 32 }),
    sub_appid: optionalText(item.sub_appid, `${path}.sub_appid`, { maxChars: 32 }),
    // The seeds give no length for these two; they still must be APIv3 text.
    description: optionalText(item.description, `${path}.description`),
    attach: optionalText(item.attach, `${path}.attach`),
  };
  return { out_record_id, repayment_amount, min_repayment_amount, repayment_date, ...withoutUndefined(optional) };
}

function recordAnswer(record: SandboxRecord, withTexts: boolean): Record<string, unknown> {
  return withoutUndefined({
    out_record_id: record.out_record_id,
    appid: record.appid,
    sub_appid: record.sub_appid,
    contract_id: record.contract_id,
    repayment_amount: record.repayment_amount,
    min_repayment_amount: record.min_repayment_amount,
    repayment_date: record.repayment_date,
    description: withTexts ? record.description : undefined,
    attach: withTexts ? record.attach : undefined,
    openid: record.openid,
  });
}

// ---- seed 000: query a schedule record ----
async function queryScheduleRecord(ctx: EndpointContext, { pathParam, query }: EndpointInput): Promise<unknown> {
  const outRecordId = outId(pathParam, 'out_record_id');
  const contractId = requiredText(query.get('contract_id') ?? undefined, 'contract_id', { maxChars: 64 });
  const record = ctx.store.data.records[outRecordId];
  if (!record || record.contract_id !== contractId) throw resourceNotExists('预约还款记录 (schedule record)');
  return recordAnswer(record, false);
}

// ---- seed 002: query signing by out_contract_code ----
async function queryContractSigning(ctx: EndpointContext, { pathParam, query }: EndpointInput): Promise<unknown> {
  const code = requiredText(pathParam, 'out_contract_code', {
    maxChars: 128,
    charset: CONTRACT_CODE_CHARS,
    charsetRule: 'digits, letters, - and _ only',
  });
  const appid = requiredText(query.get('appid') ?? undefined, 'appid', { maxChars: 32 });
  const contract = ctx.store.data.contracts[code];
  if (!contract) throw resourceNotExists('签约信息 (contract)');
  if (contract.appid !== appid) throw paramError('appid', 'MISMATCH', 'appid does not match the contract');
  return withoutUndefined({
    individual_auth_id: contract.signed_time === undefined ? undefined : `AUTH${contract.contract_id}`,
    signed_time: contract.signed_time,
    auth_state: contract.state === 'AUTHORIZED' ? 'AUTHORIZED' : 'UNAUTHORIZED',
    individual_openid: contract.signed_time === undefined ? undefined : contract.openid,
  });
}

// ---- seed 003: query a compensation bill ----
async function queryCompensationBill(ctx: EndpointContext, { pathParam }: EndpointInput): Promise<unknown> {
  const outBillNo = outId(pathParam, 'out_bill_no');
  const bill = ctx.store.data.bills[outBillNo];
  if (!bill) throw resourceNotExists('赔付单 (compensation bill)');
  return billAnswer(ctx.mchid, bill);
}

function billAnswer(mchid: string, bill: SandboxBill): Record<string, unknown> {
  return withoutUndefined({
    sp_mchid: mchid,
    receiver_detail: {
      receiver: {
        type: 'TRANSACTION_USER',
        transaction_info: { transaction_id: bill.transaction_id, type: bill.transaction_type },
      },
    },
    out_bill_no: bill.out_bill_no,
    amount: bill.amount,
    transfer_remark: bill.transfer_remark,
    bill_id: bill.bill_id,
    state: bill.state,
    accept_time: bill.accept_time,
    success_time: bill.success_time,
    close_info: bill.close_info,
  });
}

// ---- seed 004: terminate ----
async function terminateContract(ctx: EndpointContext, { body }: EndpointInput): Promise<unknown> {
  const request = jsonObject(body, 'body');
  const code = requiredText(request.out_contract_code, 'out_contract_code', {
    maxChars: 64,
    charset: ALPHANUMERIC,
    charsetRule: 'digits and letters only',
  });
  const remark = requiredText(request.contract_termination_remark, 'contract_termination_remark', { maxChars: 128 });
  const contract = ctx.store.data.contracts[code];
  // Whether the live terminate answers 404 for an unknown contract is not documented: labelled as invented.
  if (!contract)
    throw resourceNotExists('协议 (contract)', { field: 'out_contract_code', issue: 'CONTRACT_NOT_FOUND' });
  if (contract.state === 'TERMINATED') {
    throw invalidRequest('协议已解约 (contract already terminated)', {
      field: 'out_contract_code',
      issue: 'ALREADY_TERMINATED',
    });
  }
  contract.state = 'TERMINATED';
  contract.terminated_time = shanghaiTimestamp(await ctx.businessNow());
  contract.termination_mode = 'BY_MERCHANT';
  contract.termination_remark = remark;
  ctx.store.changed('contracts', code);
  return { contract_info: contractInfo(contract) };
}

export function contractInfo(contract: SandboxContract): Record<string, unknown> {
  const state = {
    UNSIGNED: 'CONTRACT_STATE_INVALID',
    AUTHORIZED: 'CONTRACT_STATE_EFFECTIVE',
    TERMINATED: 'CONTRACT_STATE_TERMINATED',
  };
  return withoutUndefined({
    contract_id: contract.contract_id,
    plan_id: contract.plan_id,
    out_contract_code: contract.out_contract_code,
    display_name: contract.display_name,
    contract_state: state[contract.state],
    contract_signed_time: contract.signed_time,
    contract_terminated_time: contract.terminated_time,
    contract_termination_mode: contract.termination_mode && `TERMINATION_MODE_${contract.termination_mode}`,
    contract_termination_remark: contract.termination_remark,
    repayment_day: contract.repayment_day,
  });
}

function withoutUndefined<T extends Record<string, unknown>>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

const ROUTES: Route[] = [
  {
    method: 'POST',
    pattern: /^\/v3\/credit-repayment\/partner\/schedule-records\/batch-create$/,
    endpoint: 'schedule-create',
    handler: createScheduleRecords,
  },
  {
    method: 'GET',
    pattern: new RegExp(`^${SCHEDULE_RECORDS}/([^/]+)$`),
    endpoint: 'schedule-query',
    handler: queryScheduleRecord,
  },
  {
    method: 'GET',
    pattern: /^\/v3\/ecommerce\/individual-contracts\/out-contract-code\/([^/]+)$/,
    endpoint: 'contract-query',
    handler: queryContractSigning,
  },
  {
    method: 'GET',
    pattern: /^\/v3\/platsolution\/ecommerce\/mch-transfer\/compensate-bills\/out-bill-no\/([^/]+)$/,
    endpoint: 'compensation-query',
    handler: queryCompensationBill,
  },
  {
    method: 'POST',
    pattern: /^\/v3\/credit-repayment\/partner\/contracts\/terminate$/,
    endpoint: 'terminate',
    handler: terminateContract,
  },
  {
    // Not one of the seeds: the platform-certificate download, for platform-certificate mode. Validity is real time.
    method: 'GET',
    pattern: /^\/v3\/certificates$/,
    endpoint: 'certificates',
    handler: async (ctx) => ctx.certificates.downloadAnswer(Date.now()),
  },
];
