import { randomInt } from 'node:crypto';
import { z } from 'zod';
import { isCalendarDate } from '../domain/calendar';
import type { AuthClock } from './auth';
import { CertificateControl } from './certificateControl';
import { paramError, SandboxError } from './errors';
import { ENDPOINTS, FAULT_KINDS, type Fault, type FaultInput, type FaultQueue } from './faults';
import { inventionCatalogue, type InventionCatalogue } from './inventions';
import type { SandboxKeys } from './keys';
import {
  BILL_STATES,
  BILL_TRANSITIONS,
  shanghaiTimestamp,
  type BillState,
  type SandboxBill,
  type SandboxContract,
  type SandboxRecord,
} from './model';
import type { RequestLog, RequestLogEntry } from './requestLog';
import type { SandboxStore } from './store';

/**
 * The control operations (one implementation each), used in process as `sandbox.control` and over HTTP under
 * `/sandbox/` (controlRoutes.ts, controlClient.ts). Input is untyped at the HTTP edge, so every operation
 * validates it here: a bad field is `400 PARAM_ERROR` naming it; a missing object is `404 RESOURCE_NOT_EXISTS`;
 * a forbidden state change is `409 INVALID_TRANSITION`.
 */

const fen = z.string().regex(/^[1-9][0-9]*$/, 'a positive integer amount in fen as a decimal string');
const date = z.string().refine(isCalendarDate, 'a real date YYYY-MM-DD');
const alphanumeric32 = z.string().regex(/^[0-9A-Za-z]{1,32}$/, '1 to 32 digits and letters');

const CreateContractSchema = z
  .object({
    outContractCode: z.string().regex(/^[0-9A-Za-z_-]{1,128}$/, '1 to 128 digits, letters, - and _'),
    contractId: z.string().min(1).max(64),
    appid: z.string().min(1).max(32),
    openid: z.string().min(1).max(128),
    planId: z.string().min(1).max(64).optional(),
    displayName: z.string().min(1).max(64).optional(),
    repaymentDay: z.number().int().min(1).max(31).optional(),
    /** Authorized (signed by the user) at once; default false (UNSIGNED). */
    authorized: z.boolean().optional(),
  })
  .strict();
export type CreateContractInput = z.input<typeof CreateContractSchema>;

const RecordPatchSchema = z
  .object({ repayment_amount: fen.optional(), min_repayment_amount: fen.optional(), repayment_date: date.optional() })
  .strict();
export type RecordPatch = z.input<typeof RecordPatchSchema>;

const CreateBillSchema = z
  .object({
    outBillNo: alphanumeric32,
    amount: z.number().int().positive(),
    transactionId: z.string().min(1).max(32).optional(),
    transactionType: z.enum(['WXPAY', 'WXVALUE']).optional(),
    transferRemark: z.string().min(1).max(32).optional(),
    /** Initial state; default ACCEPTED. Any other state is reached from ACCEPTED by the state machine. */
    state: z.enum(BILL_STATES).optional(),
    closeReason: z.string().min(1).optional(),
  })
  .strict();
export type CreateBillInput = z.input<typeof CreateBillSchema>;

const FaultSchema = z
  .object({
    endpoint: z.enum([...ENDPOINTS, '*']),
    // Over HTTP the status kinds may come as numbers or as strings ("500").
    kind: z.preprocess(
      (v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v),
      z.union(FAULT_KINDS.map((k) => z.literal(k))),
    ),
    count: z.number().int().positive().max(1_000_000).optional(),
    delayMs: z.number().int().min(0).max(600_000).optional(),
    ratio: z.number().positive().max(1).optional(),
    forMs: z.number().int().positive().max(86_400_000).optional(),
  })
  .strict();
/** A fault limited by time or share only (no count given) lasts as long as that: its count is this. */
const UNCOUNTED = 1_000_000;

export interface PrimarySwitch {
  readonly primaryUp: boolean;
  setPrimaryUp(up: boolean): Promise<void>;
}

export interface SandboxControlDeps {
  mchid: string;
  store: SandboxStore;
  keys: SandboxKeys;
  faults: FaultQueue;
  log: RequestLog;
  primary: PrimarySwitch;
  businessNow(): Promise<number>;
  authClock: AuthClock;
}

export interface PlatformKeyInfo {
  id: string;
  publicKeyPath: string;
  active: boolean;
}

export class SandboxControl {
  /** Platform certificates and their rotation (platform-certificate mode). */
  readonly certificates: CertificateControl;

  constructor(private readonly deps: SandboxControlDeps) {
    this.certificates = new CertificateControl(deps.keys.certificates);
  }

  async health(): Promise<{ ok: true; mchid: string; primaryUp: boolean; businessTime: string }> {
    return {
      ok: true,
      mchid: this.deps.mchid,
      primaryUp: this.deps.primary.primaryUp,
      businessTime: shanghaiTimestamp(await this.deps.businessNow()),
    };
  }

  // ---- contracts ----
  async createContract(input: CreateContractInput): Promise<SandboxContract> {
    const c = parse(CreateContractSchema, input);
    const contracts = this.deps.store.data.contracts;
    if (contracts[c.outContractCode]) {
      throw new SandboxError(409, 'ALREADY_EXISTS', `contract ${c.outContractCode} already exists`, {
        field: 'outContractCode',
      });
    }
    if (Object.values(contracts).some((other) => other.contract_id === c.contractId)) {
      throw new SandboxError(409, 'ALREADY_EXISTS', `contract_id ${c.contractId} already exists`, {
        field: 'contractId',
      });
    }
    const contract: SandboxContract = {
      out_contract_code: c.outContractCode,
      contract_id: c.contractId,
      appid: c.appid,
      openid: c.openid,
      plan_id: c.planId ?? 'SandboxCreditRepaymentPlan0001',
      display_name: c.displayName ?? '*明',
      state: 'UNSIGNED',
      ...(c.repaymentDay === undefined ? {} : { repayment_day: c.repaymentDay }),
    };
    if (c.authorized) {
      contract.state = 'AUTHORIZED';
      contract.signed_time = shanghaiTimestamp(await this.deps.businessNow());
    }
    contracts[contract.out_contract_code] = contract;
    this.deps.store.changed('contracts', contract.out_contract_code);
    return { ...contract };
  }

  /** Every contract (a chaos checker compares them all with what the lifecycles did). */
  async listContracts(): Promise<SandboxContract[]> {
    return Object.values(this.deps.store.data.contracts).map((c) => ({ ...c }));
  }

  async getContract(outContractCode: string): Promise<SandboxContract> {
    return { ...this.contract(outContractCode) };
  }

  /** The user signs: UNSIGNED → AUTHORIZED. */
  async authorizeContract(outContractCode: string): Promise<SandboxContract> {
    const contract = this.contract(outContractCode);
    if (contract.state !== 'UNSIGNED')
      throw transition(`contract ${outContractCode} is ${contract.state}, not UNSIGNED`);
    contract.state = 'AUTHORIZED';
    contract.signed_time = shanghaiTimestamp(await this.deps.businessNow());
    this.deps.store.changed('contracts', outContractCode);
    return { ...contract };
  }

  /** The user ends the contract in WeChat: UNSIGNED or AUTHORIZED → TERMINATED (BY_USER). */
  async terminateAsUser(
    outContractCode: string,
    remark = '用户解约 (terminated by the user)',
  ): Promise<SandboxContract> {
    const contract = this.contract(outContractCode);
    if (contract.state === 'TERMINATED') throw transition(`contract ${outContractCode} is already TERMINATED`);
    contract.state = 'TERMINATED';
    contract.terminated_time = shanghaiTimestamp(await this.deps.businessNow());
    contract.termination_mode = 'BY_USER';
    contract.termination_remark = remark;
    this.deps.store.changed('contracts', outContractCode);
    return { ...contract };
  }

  // ---- schedule records ----
  async listRecords(contractId?: string): Promise<SandboxRecord[]> {
    const records = Object.values(this.deps.store.data.records);
    return (contractId === undefined ? records : records.filter((r) => r.contract_id === contractId)).map((r) => ({
      ...r,
    }));
  }

  /** Changes a record behind the merchant's back (what the lifecycle's monitoring must notice). */
  async changeRecord(outRecordId: string, patch: RecordPatch): Promise<SandboxRecord> {
    const changes = parse(RecordPatchSchema, patch);
    const record = this.record(outRecordId);
    const next = { ...record, ...changes };
    if (BigInt(next.min_repayment_amount) > BigInt(next.repayment_amount)) {
      throw paramError('min_repayment_amount', 'EXCEEDS_REPAYMENT_AMOUNT', 'must not exceed repayment_amount');
    }
    this.deps.store.data.records[outRecordId] = next;
    this.deps.store.changed('records', outRecordId);
    return { ...next };
  }

  async deleteRecord(outRecordId: string): Promise<void> {
    this.record(outRecordId);
    delete this.deps.store.data.records[outRecordId];
    this.deps.store.changed('records', outRecordId);
  }

  // ---- compensation bills ----
  async createBill(input: CreateBillInput): Promise<SandboxBill> {
    const b = parse(CreateBillSchema, input);
    const bills = this.deps.store.data.bills;
    if (bills[b.outBillNo])
      throw new SandboxError(409, 'ALREADY_EXISTS', `bill ${b.outBillNo} already exists`, { field: 'outBillNo' });
    const bill: SandboxBill = {
      out_bill_no: b.outBillNo,
      bill_id: `13300000711009999911${Array.from({ length: 20 }, () => randomInt(10)).join('')}`,
      amount: b.amount,
      transaction_id: b.transactionId ?? `4200${Array.from({ length: 24 }, () => randomInt(10)).join('')}`,
      transaction_type: b.transactionType ?? 'WXPAY',
      ...(b.transferRemark === undefined ? {} : { transfer_remark: b.transferRemark }),
      state: 'ACCEPTED',
      accept_time: shanghaiTimestamp(await this.deps.businessNow()),
    };
    if (b.state !== undefined && b.state !== 'ACCEPTED') await this.applyBillState(bill, b.state, b.closeReason);
    bills[bill.out_bill_no] = bill;
    this.deps.store.changed('bills', bill.out_bill_no);
    return { ...bill };
  }

  async getBill(outBillNo: string): Promise<SandboxBill> {
    return { ...this.bill(outBillNo) };
  }

  /** Moves a bill along seed 003's state machine; `closeReason` is used for CLOSED (default NOT_ENOUGH). */
  async setBillState(outBillNo: string, state: BillState, closeReason?: string): Promise<SandboxBill> {
    const bill = this.bill(outBillNo);
    const target = parse(z.enum(BILL_STATES), state, 'state');
    const next = { ...bill };
    await this.applyBillState(next, target, closeReason);
    this.deps.store.data.bills[outBillNo] = next;
    this.deps.store.changed('bills', outBillNo);
    return { ...next };
  }

  private async applyBillState(bill: SandboxBill, state: BillState, closeReason: string | undefined): Promise<void> {
    if (!BILL_TRANSITIONS[bill.state].includes(state)) {
      throw transition(`bill ${bill.out_bill_no}: ${bill.state} → ${state} is not allowed`);
    }
    const now = shanghaiTimestamp(await this.deps.businessNow());
    bill.state = state;
    if (state === 'SUCCESS') bill.success_time = now;
    if (state === 'CLOSED') bill.close_info = { close_time: now, close_reason: closeReason ?? 'NOT_ENOUGH' };
  }

  // ---- request log ----
  async requestLog(endpoint?: string): Promise<RequestLogEntry[]> {
    return this.deps.log.list(endpoint);
  }

  async clearRequestLog(): Promise<void> {
    this.deps.log.clear();
  }

  /** What the sandbox's answers invent beyond the seeds and the digest, by the label they carry. */
  async inventions(): Promise<InventionCatalogue> {
    return inventionCatalogue();
  }

  // ---- faults ----
  async injectFault(input: FaultInput): Promise<Fault> {
    const f = parse(FaultSchema, input);
    const bounded = f.ratio !== undefined || f.forMs !== undefined;
    return this.deps.faults.add({
      endpoint: f.endpoint,
      kind: f.kind,
      count: f.count ?? (bounded ? UNCOUNTED : 1),
      ...(f.delayMs === undefined ? {} : { delayMs: f.delayMs }),
      ...(f.ratio === undefined ? {} : { ratio: f.ratio }),
      ...(f.forMs === undefined ? {} : { forMs: f.forMs }),
    });
  }

  async listFaults(): Promise<Fault[]> {
    return this.deps.faults.list();
  }

  async clearFaults(): Promise<void> {
    this.deps.faults.clear();
  }

  // ---- listeners, clock, reset ----
  /** Down: the primary listener refuses connections (open ones are destroyed); up: it listens on the same port. */
  async setPrimaryDown(down: boolean): Promise<{ primaryUp: boolean }> {
    await this.deps.primary.setPrimaryUp(!parse(z.boolean(), down, 'down'));
    return { primaryUp: this.deps.primary.primaryUp };
  }

  /** Shifts the business clock (schedule window, bill and contract times) by `offsetMs` from its source. */
  async setClockOffset(offsetMs: number): Promise<{ offsetMs: number; businessTime: string }> {
    this.deps.store.data.clockOffsetMs = parse(z.number().int(), offsetMs, 'offsetMs');
    this.deps.store.clockChanged();
    return {
      offsetMs: this.deps.store.data.clockOffsetMs,
      businessTime: shanghaiTimestamp(await this.deps.businessNow()),
    };
  }

  /**
   * Moves the clock requests are authenticated and answers timestamped with (auth.ts, AuthClock): beyond ±300 s
   * every request is refused with 401 SIGN_ERROR and every answer is stale. 0 puts it back. Not persisted.
   */
  async setAuthClockOffset(offsetMs: number): Promise<{ offsetMs: number; authTime: string }> {
    this.deps.authClock.offsetMs = parse(z.number().int().min(-86_400_000).max(86_400_000), offsetMs, 'offsetMs');
    return { offsetMs: this.deps.authClock.offsetMs, authTime: shanghaiTimestamp(this.deps.authClock.now()) };
  }

  /** Clears the state (contracts, records, bills, clock offset), the request log and the faults; keys stay. */
  async reset(): Promise<void> {
    this.deps.store.reset();
    this.deps.log.clear();
    this.deps.faults.clear();
    this.deps.authClock.offsetMs = 0;
  }

  // ---- platform keys (rotation) ----
  async listPlatformKeys(): Promise<PlatformKeyInfo[]> {
    return this.deps.keys.platformKeys().map(keyInfo);
  }

  async addPlatformKey(): Promise<PlatformKeyInfo> {
    return keyInfo(this.deps.keys.addPlatformKey());
  }

  async setPlatformKeyActive(id: string, active: boolean): Promise<PlatformKeyInfo> {
    const wanted = parse(z.boolean(), active, 'active');
    let key;
    try {
      key = this.deps.keys.setActive(id, wanted);
    } catch (err) {
      throw transition((err as Error).message);
    }
    if (!key) throw notFound(`platform key ${id}`);
    return keyInfo(key);
  }

  private contract(code: string): SandboxContract {
    const contract = this.deps.store.data.contracts[code];
    if (!contract) throw notFound(`contract ${code}`);
    return contract;
  }

  private record(outRecordId: string): SandboxRecord {
    const record = this.deps.store.data.records[outRecordId];
    if (!record) throw notFound(`schedule record ${outRecordId}`);
    return record;
  }

  private bill(outBillNo: string): SandboxBill {
    const bill = this.deps.store.data.bills[outBillNo];
    if (!bill) throw notFound(`bill ${outBillNo}`);
    return bill;
  }
}

function keyInfo(key: { id: string; publicKeyPath: string; active: boolean }): PlatformKeyInfo {
  return { id: key.id, publicKeyPath: key.publicKeyPath, active: key.active };
}

function notFound(what: string): SandboxError {
  return new SandboxError(404, 'RESOURCE_NOT_EXISTS', `${what} does not exist`);
}

function transition(message: string): SandboxError {
  return new SandboxError(409, 'INVALID_TRANSITION', message);
}

function parse<T extends z.ZodType>(schema: T, input: unknown, field?: string): z.output<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = [field, ...(issue?.path ?? [])].filter((p) => p !== undefined).join('.') || 'body';
  throw paramError(path, 'INVALID', issue?.message ?? 'invalid');
}
