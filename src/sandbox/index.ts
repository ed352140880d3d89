import type { KeyObject } from 'node:crypto';
import { join, resolve } from 'node:path';
import { AuthClock, RequestAuthenticator } from './auth';
import { SandboxControl } from './control';
import { assertControlToken } from './controlAccess';
import { FaultQueue } from './faults';
import { SandboxKeys } from './keys';
import { SlidingWindowLimiter } from './rateLimiter';
import { RequestLog } from './requestLog';
import { SandboxServer } from './server';
import { SandboxStore } from './store';

/**
 * A local WeChat Pay APIv3 for the five endpoints of this project: real HTTP on loopback, real RSA signatures,
 * state, WeChat's error codes, fault injection and a control API. Used by `npm start` (no merchant account
 * needed), `npm run sandbox` and the tests.
 */

export interface SandboxOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (ephemeral). */
  primaryPort?: number;
  /** Default 0 (ephemeral). */
  backupPort?: number;
  /** Keys and state; default `.sandbox` under process.cwd(). Keys are generated on first start. */
  dataDir?: string;
  /**
   * Default false; when true every change is journaled to `<dataDir>/state.journal` (folded into
   * `<dataDir>/state.json` now and then) and the state is loaded at start (store.ts).
   */
  persist?: boolean;
  /** Default '1900000001'. */
  mchid?: string;
  /** Ms since epoch for business rules (schedule window, bill/contract times); default Date.now. */
  businessClock?: () => number | Promise<number>;
  /** Default 14; null disables the repayment_date window check. */
  scheduleWindowDays?: number | null;
  /** Schedule items accepted per batch-create call; default 1 (the live service's rule). */
  maxItemsPerCall?: number;
  /** Default 100. */
  compensationRateLimitPerSecond?: number;
  logger?: (line: string) => void;
  /**
   * Default SANDBOX_CONTROL_TOKEN. With a token every control call must send `Authorization: Bearer <token>`;
   * without one only loopback callers may use the control API (whatever `host` is).
   */
  controlToken?: string;
  /** Also append every request-log entry to this file, as JSON lines (a whole run's log, beyond the last 10 000). */
  requestLogFile?: string;
}

export interface Sandbox {
  primaryUrl: string;
  backupUrl: string;
  mchid: string;
  /** The merchant key the sandbox trusts. */
  merchant: { serialNo: string; privateKeyPath: string; privateKey: KeyObject };
  /** The platform keys' public halves, in creation order (the first active one is the default signer). */
  platformKeys: Array<{ id: string; publicKeyPath: string; publicKey: KeyObject }>;
  /** Platform-certificate mode: the merchant's APIv3 key file (0600) the downloaded certificates are sealed with. */
  apiV3KeyPath: string;
  /** The platform certificates, in creation order, and which one signs now. */
  platformCertificates: Array<{
    serial: string;
    certificatePath: string;
    validFrom: number;
    validTo: number;
    signing: boolean;
  }>;
  /** Whether the control API needs a Bearer token (else: loopback callers only). */
  controlTokenRequired: boolean;
  /** The temporal.yaml `wechatpay:` section a worker needs to talk to this sandbox. */
  configSnippet(): string;
  control: SandboxControl;
  close(): Promise<void>;
}

export const DEFAULT_MCHID = '1900000001';

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const mchid = options.mchid ?? DEFAULT_MCHID;
  if (!/^\d{1,32}$/.test(mchid)) throw new Error('sandbox mchid: must be 1 to 32 digits');
  const controlToken = options.controlToken ?? (process.env.SANDBOX_CONTROL_TOKEN || undefined);
  if (controlToken !== undefined) assertControlToken(controlToken);
  const dataDir = resolve(options.dataDir ?? '.sandbox');
  const keys = SandboxKeys.loadOrCreate(dataDir);
  const store = new SandboxStore(options.persist ? join(dataDir, 'state.json') : undefined);
  const clock = options.businessClock ?? Date.now;
  const businessNow = async (): Promise<number> => (await clock()) + store.data.clockOffsetMs;
  const faults = new FaultQueue();
  const log = new RequestLog(undefined, options.requestLogFile);
  const authClock = new AuthClock();
  const logger = options.logger ?? (() => undefined);

  const server = new SandboxServer({
    host: options.host ?? '127.0.0.1',
    primaryPort: options.primaryPort ?? 0,
    backupPort: options.backupPort ?? 0,
    authenticator: new RequestAuthenticator({
      mchid,
      merchantSerialNo: keys.merchant.serialNo,
      merchantPublicKey: keys.merchant.publicKey,
      nowMs: authClock.now,
    }),
    authNowMs: authClock.now,
    keys,
    faults,
    log,
    compensationLimiter: new SlidingWindowLimiter(options.compensationRateLimitPerSecond ?? 100, 1000),
    endpoints: {
      store,
      mchid,
      businessNow,
      scheduleWindowDays: options.scheduleWindowDays === undefined ? 14 : options.scheduleWindowDays,
      maxItemsPerCall: options.maxItemsPerCall ?? 1,
      certificates: keys.certificates,
    },
    logger,
    ...(controlToken === undefined ? {} : { controlToken }),
  });
  const control = new SandboxControl({ mchid, store, keys, faults, log, primary: server, businessNow, authClock });
  server.attachControl(control);
  await server.start();

  const primaryUrl = server.url('primary');
  const backupUrl = server.url('backup');
  const merchant = {
    serialNo: keys.merchant.serialNo,
    privateKeyPath: keys.merchant.privateKeyPath,
    privateKey: keys.merchant.privateKey,
  };
  return {
    primaryUrl,
    backupUrl,
    mchid,
    merchant,
    get platformKeys() {
      return keys.platformKeys().map((k) => ({ id: k.id, publicKeyPath: k.publicKeyPath, publicKey: k.publicKey }));
    },
    apiV3KeyPath: keys.certificates.apiV3KeyPath,
    get platformCertificates() {
      const signing = keys.certificates.signing.serial;
      return keys.certificates.list().map((c) => ({
        serial: c.serial,
        certificatePath: c.certificatePath,
        validFrom: c.validFrom,
        validTo: c.validTo,
        signing: c.serial === signing,
      }));
    },
    controlTokenRequired: controlToken !== undefined,
    configSnippet: () =>
      configSnippet({
        mchid,
        merchantSerialNo: merchant.serialNo,
        privateKeyFile: merchant.privateKeyPath,
        apiV3KeyFile: keys.certificates.apiV3KeyPath,
        verificationKeys: keys
          .platformKeys()
          .filter((k) => k.active)
          .map((k) => ({ id: k.id, publicKeyFile: k.publicKeyPath })),
        primaryUrl,
        backupUrl,
      }),
    control,
    close: async () => {
      await server.close();
      store.close();
      log.close();
    },
  };
}

interface SnippetInput {
  mchid: string;
  merchantSerialNo: string;
  privateKeyFile: string;
  apiV3KeyFile: string;
  verificationKeys: Array<{ id: string; publicKeyFile: string }>;
  primaryUrl: string;
  backupUrl: string;
}

function configSnippet(s: SnippetInput): string {
  // JSON strings are valid YAML scalars, which keeps paths with spaces or colons safe.
  const q = (value: string): string => JSON.stringify(value);
  return [
    'wechatpay:',
    `  mchid: ${q(s.mchid)}`,
    `  merchantSerialNo: ${q(s.merchantSerialNo)}`,
    `  privateKeyFile: ${q(s.privateKeyFile)}`,
    '  verificationKeys:',
    ...s.verificationKeys.flatMap((k) => [`    - id: ${q(k.id)}`, `      publicKeyFile: ${q(k.publicKeyFile)}`]),
    '  # Platform-certificate mode: download and refresh the platform certificates (drop to use the keys only).',
    `  apiV3KeyFile: ${q(s.apiV3KeyFile)}`,
    '  baseUrls:',
    `    primary: ${q(s.primaryUrl)}`,
    `    backup: ${q(s.backupUrl)}`,
    '',
  ].join('\n');
}

export { SandboxControl } from './control';
export type { AddCertificateInput, PlatformCertificateInfo } from './certificateControl';
export type { CreateBillInput, CreateContractInput, PlatformKeyInfo, RecordPatch } from './control';
export { SandboxError } from './errors';
export { OVERSIZED_PADDING_BYTES } from './answers';
export { DEFAULT_SLOW_DELAY_MS, DEFAULT_TRICKLE_INTERVAL_MS, ENDPOINTS, FAULT_KINDS } from './faults';
export { INVENTED_HEADER, INVENTED_ISSUES } from './inventions';
export type { InventionCatalogue } from './inventions';
export type { EndpointName, Fault, FaultInput, FaultKind } from './faults';
export type { BillState, SandboxBill, SandboxContract, SandboxRecord } from './model';
export type { RequestLogEntry } from './requestLog';
