import { request as httpRequest } from 'node:http';
import type { AddCertificateInput, PlatformCertificateInfo } from './certificateControl';
import type { CreateBillInput, CreateContractInput, PlatformKeyInfo, RecordPatch } from './control';
import { SandboxError } from './errors';
import type { Fault, FaultInput } from './faults';
import type { InventionCatalogue } from './inventions';
import type { BillState, SandboxBill, SandboxContract, SandboxRecord } from './model';
import type { RequestLogEntry } from './requestLog';

/**
 * A typed HTTP client for the sandbox's control API (see controlRoutes.ts), for tests, the CLI demo and other
 * processes. Same operations and results as `sandbox.control`; an error answer is thrown as a SandboxError
 * carrying its status, code and detail.
 */
export interface SandboxControlClientOptions {
  /** Per call; default 10 000. */
  timeoutMs?: number;
  /** Sent as `Authorization: Bearer …`; default SANDBOX_CONTROL_TOKEN; none when unset or empty. */
  token?: string;
}

export class SandboxControlClient {
  private readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly token: string | undefined;

  constructor(baseUrl: string, options: SandboxControlClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 10_000;
    const token = options.token ?? process.env.SANDBOX_CONTROL_TOKEN;
    this.token = token ? token : undefined; // an empty token means none
  }

  health(): Promise<{ ok: true; mchid: string; primaryUp: boolean; businessTime: string }> {
    return this.call('GET', '/sandbox/health');
  }

  createContract(input: CreateContractInput): Promise<SandboxContract> {
    return this.call('POST', '/sandbox/contracts', input);
  }

  listContracts(): Promise<SandboxContract[]> {
    return this.call('GET', '/sandbox/contracts');
  }

  getContract(outContractCode: string): Promise<SandboxContract> {
    return this.call('GET', `/sandbox/contracts/${enc(outContractCode)}`);
  }

  authorizeContract(outContractCode: string): Promise<SandboxContract> {
    return this.call('POST', `/sandbox/contracts/${enc(outContractCode)}/authorize`);
  }

  terminateAsUser(outContractCode: string, remark?: string): Promise<SandboxContract> {
    return this.call(
      'POST',
      `/sandbox/contracts/${enc(outContractCode)}/terminate-as-user`,
      remark === undefined ? {} : { remark },
    );
  }

  listRecords(contractId?: string): Promise<SandboxRecord[]> {
    return this.call('GET', `/sandbox/records${contractId === undefined ? '' : `?contract_id=${enc(contractId)}`}`);
  }

  changeRecord(outRecordId: string, patch: RecordPatch): Promise<SandboxRecord> {
    return this.call('PATCH', `/sandbox/records/${enc(outRecordId)}`, patch);
  }

  async deleteRecord(outRecordId: string): Promise<void> {
    await this.call('DELETE', `/sandbox/records/${enc(outRecordId)}`);
  }

  createBill(input: CreateBillInput): Promise<SandboxBill> {
    return this.call('POST', '/sandbox/bills', input);
  }

  getBill(outBillNo: string): Promise<SandboxBill> {
    return this.call('GET', `/sandbox/bills/${enc(outBillNo)}`);
  }

  setBillState(outBillNo: string, state: BillState, closeReason?: string): Promise<SandboxBill> {
    return this.call('POST', `/sandbox/bills/${enc(outBillNo)}/state`, {
      state,
      ...(closeReason === undefined ? {} : { closeReason }),
    });
  }

  requestLog(endpoint?: string): Promise<RequestLogEntry[]> {
    return this.call('GET', `/sandbox/requests${endpoint === undefined ? '' : `?endpoint=${enc(endpoint)}`}`);
  }

  async clearRequestLog(): Promise<void> {
    await this.call('DELETE', '/sandbox/requests');
  }

  inventions(): Promise<InventionCatalogue> {
    return this.call('GET', '/sandbox/inventions');
  }

  injectFault(input: FaultInput): Promise<Fault> {
    return this.call('POST', '/sandbox/faults', input);
  }

  listFaults(): Promise<Fault[]> {
    return this.call('GET', '/sandbox/faults');
  }

  async clearFaults(): Promise<void> {
    await this.call('DELETE', '/sandbox/faults');
  }

  setPrimaryDown(down: boolean): Promise<{ primaryUp: boolean }> {
    return this.call('POST', '/sandbox/primary', { up: !down });
  }

  setClockOffset(offsetMs: number): Promise<{ offsetMs: number; businessTime: string }> {
    return this.call('POST', '/sandbox/clock', { offsetMs });
  }

  /** Clock drift: requests are authenticated and answers timestamped `offsetMs` away from real time (0: back). */
  setAuthClockOffset(offsetMs: number): Promise<{ offsetMs: number; authTime: string }> {
    return this.call('POST', '/sandbox/auth-clock', { offsetMs });
  }

  async reset(): Promise<void> {
    await this.call('POST', '/sandbox/reset');
  }

  listPlatformKeys(): Promise<PlatformKeyInfo[]> {
    return this.call('GET', '/sandbox/keys');
  }

  addPlatformKey(): Promise<PlatformKeyInfo> {
    return this.call('POST', '/sandbox/keys');
  }

  setPlatformKeyActive(id: string, active: boolean): Promise<PlatformKeyInfo> {
    return this.call('POST', `/sandbox/keys/${enc(id)}`, { active });
  }

  listPlatformCertificates(): Promise<PlatformCertificateInfo[]> {
    return this.call('GET', '/sandbox/certificates');
  }

  /** A rotation: a new platform certificate that signs from now on (unless `signing: false`). */
  addPlatformCertificate(input: AddCertificateInput = {}): Promise<PlatformCertificateInfo> {
    return this.call('POST', '/sandbox/certificates', input);
  }

  useCertificateForSigning(serial: string): Promise<PlatformCertificateInfo> {
    return this.call('POST', `/sandbox/certificates/${enc(serial)}/sign`);
  }

  /** One request on a fresh connection (no keep-alive socket outlives the call). */
  private call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<T>((resolve, reject) => {
      const req = httpRequest(
        `${this.baseUrl}${path}`,
        {
          method,
          agent: false,
          timeout: this.timeoutMs,
          headers: {
            Accept: 'application/json',
            ...(this.token === undefined ? {} : { Authorization: `Bearer ${this.token}` }),
            ...(payload === undefined
              ? {}
              : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            let parsed: unknown;
            try {
              parsed = text.length === 0 ? undefined : JSON.parse(text);
            } catch {
              reject(new SandboxError(status, 'UNEXPECTED_ANSWER', `${method} ${path}: answer is not JSON`));
              return;
            }
            if (status >= 200 && status < 300) {
              resolve(parsed as T);
              return;
            }
            const error = (parsed ?? {}) as { code?: string; message?: string; detail?: Record<string, unknown> };
            reject(
              new SandboxError(
                status,
                error.code ?? 'HTTP_ERROR',
                error.message ?? `${method} ${path}: HTTP ${status}`,
                error.detail,
              ),
            );
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }
}

const enc = encodeURIComponent;
