import { generateKeyPairSync, type KeyObject, X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startSandbox, type Sandbox } from '../../src/sandbox';
import {
  createScheduleRecords,
  PlatformCertificateClient,
  PlatformCertificateError,
  PlatformCertificateStore,
  queryContractSigning,
  queryScheduleRecord,
  readCertificateFile,
  terminateContract,
  WechatPayError,
  WechatPayVerificationError,
} from '../../src/wechatpay';
import { authorizedContract, tempDataDir } from '../sandbox/signedRequest';
import { everythingIn, rejectionOf } from './helpers';

/**
 * Platform-certificate mode against the sandbox over real HTTP: download, decrypt and verify; refusals; refresh
 * after a rotation (on the unknown serial, rate-limited, and on the schedule); expiry.
 */

const APPID = 'wxd678efh567hg6787';

interface Options {
  configured?: ReadonlyMap<string, KeyObject>;
  apiV3Key?: Buffer;
  storeFile?: string;
  nowMs?: () => number;
  unknownSerialCooldownMs?: number;
  refreshIntervalMs?: number;
}

/** A client in platform-certificate mode that trusts the sandbox's PUB_KEY_ID keys (unless told otherwise). */
function certificateClient(sandbox: Sandbox, options: Options = {}) {
  const configured =
    options.configured ?? new Map(sandbox.platformKeys.map((k) => [k.id, k.publicKey] as [string, KeyObject]));
  const store = new PlatformCertificateStore(configured, [], options.nowMs);
  const client = new PlatformCertificateClient(
    {
      merchant: { mchid: sandbox.mchid, serialNo: sandbox.merchant.serialNo, privateKey: sandbox.merchant.privateKey },
      baseUrls: { primary: sandbox.primaryUrl, backup: sandbox.backupUrl },
      timeoutMs: 5_000,
    },
    {
      store,
      apiV3Key: options.apiV3Key ?? readFileSync(sandbox.apiV3KeyPath),
      ...(options.storeFile === undefined ? {} : { storeFile: options.storeFile }),
      ...(options.nowMs === undefined ? {} : { nowMs: options.nowMs }),
      ...(options.unknownSerialCooldownMs === undefined
        ? {}
        : { unknownSerialCooldownMs: options.unknownSerialCooldownMs }),
      ...(options.refreshIntervalMs === undefined ? {} : { refreshIntervalMs: options.refreshIntervalMs }),
    },
  );
  return { client, store };
}

async function downloads(sandbox: Sandbox): Promise<number> {
  return (await sandbox.control.requestLog('certificates')).length;
}

/**
 * Runs a call as an activity would: a retryable failure is recorded and tried again (at most 3 attempts). Where
 * the activity waits for its retry interval, the test waits for the refresh the failure started.
 */
async function asActivity<T>(client: PlatformCertificateClient, failures: WechatPayError[], call: () => Promise<T>) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof WechatPayError) || !error.retryable || attempt >= 3) throw error;
      failures.push(error);
      await client.certificates.whenIdle();
    }
  }
}

describe('download, decrypt, verify', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ dataDir: tempDataDir() });
  });
  afterAll(() => sandbox.close());
  afterEach(() => sandbox.control.clearFaults());

  it('keeps the certificates of a download verified with a configured key, and then verifies answers with them', async () => {
    const storeFile = join(tempDataDir(), 'state', 'certificates.json');
    const { client, store } = certificateClient(sandbox, { storeFile });
    try {
      const [sandboxCert] = sandbox.platformCertificates;
      expect(await client.certificates.refresh()).toEqual({ added: [sandboxCert?.serial], dropped: [] });
      expect(store.preferredSerial()).toBe(sandboxCert?.serial);
      const issued = new X509Certificate(readFileSync(sandboxCert?.certificatePath ?? ''));
      expect(store.certificates()[0]?.fingerprint256).toBe(issued.fingerprint256);
      expect(readCertificateFile(storeFile).map((c) => c.serial)).toEqual([sandboxCert?.serial]);
      expect(statSync(storeFile).mode & 0o777).toBe(0o600);
    } finally {
      client.close();
    }

    // A client that trusts nothing but the kept certificate verifies the sandbox's answers.
    const certOnly = new PlatformCertificateClient(
      {
        merchant: {
          mchid: sandbox.mchid,
          serialNo: sandbox.merchant.serialNo,
          privateKey: sandbox.merchant.privateKey,
        },
        baseUrls: { primary: sandbox.primaryUrl },
      },
      { store: new PlatformCertificateStore(new Map(), readCertificateFile(storeFile)), apiV3Key: Buffer.alloc(32) },
    );
    try {
      await authorizedContract(sandbox, 'DL1');
      expect(await queryContractSigning(certOnly, { out_contract_code: 'DL1', appid: APPID })).toMatchObject({
        auth_state: 'AUTHORIZED',
      });
    } finally {
      certOnly.close();
    }
  });

  it('refuses a download signed by a key it does not trust, and keeps nothing', async () => {
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    const { client, store } = certificateClient(sandbox, { configured: new Map([['PUB_KEY_ID_STRANGER', stranger]]) });
    try {
      const error = await rejectionOf(client.certificates.refresh());
      expect(error).toBeInstanceOf(WechatPayVerificationError);
      expect(error).toMatchObject({ reason: 'UNKNOWN_SERIAL', retryable: true });
      expect(store.certificates()).toEqual([]);
    } finally {
      client.close();
    }
  });

  it('refuses a tampered download, keeps nothing, and takes the next good one', async () => {
    const { client, store } = certificateClient(sandbox);
    try {
      await sandbox.control.injectFault({ endpoint: 'certificates', kind: 'tampered' });
      expect(await rejectionOf(client.certificates.refresh())).toMatchObject({ reason: 'BAD_SIGNATURE' });
      expect(store.certificates()).toEqual([]);
      expect((await client.certificates.refresh()).added).toHaveLength(1);
    } finally {
      client.close();
    }
  });

  it('refuses certificates that do not open with its APIv3 key, without showing the key', async () => {
    const wrongKey = Buffer.from('WrongAPIv3Key0123456789abcdefghi', 'utf8');
    const { client, store } = certificateClient(sandbox, { apiV3Key: wrongKey });
    try {
      const error = await rejectionOf(client.certificates.refresh());
      expect(error).toBeInstanceOf(PlatformCertificateError);
      expect(error).toMatchObject({ code: 'CERTIFICATE_DOWNLOAD_INVALID', retryable: true, httpStatus: 200 });
      expect((error as Error).message).toMatch(/wrong APIv3 key/);
      expect(everythingIn(error)).not.toContain(wrongKey.toString());
      expect(store.certificates()).toEqual([]);
    } finally {
      client.close();
    }
  });
});

/**
 * Certificate times have whole seconds, and the newest certificate is preferred: waits (under a second) until a
 * certificate added now starts in a later second than every one the sandbox holds.
 */
async function intoTheNextSecond(sandbox: Sandbox): Promise<void> {
  const latest = Math.max(...sandbox.platformCertificates.map((c) => c.validFrom));
  const next = (Math.floor(latest / 1000) + 1) * 1000;
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - Date.now() + 5)));
}

describe('a rotation mid-run', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ dataDir: tempDataDir(), scheduleWindowDays: null });
  });
  afterAll(() => sandbox.close());

  it('costs one retryable verification failure; the retry verifies with the refreshed certificate', async () => {
    const { client, store } = certificateClient(sandbox);
    const failures: WechatPayError[] = [];
    const run = <T>(call: () => Promise<T>) => asActivity(client, failures, call);
    try {
      await client.certificates.refresh();
      const before = store.preferredSerial();
      const { contract_id, openid } = await authorizedContract(sandbox, 'ROT1');
      const record = { out_record_id: 'ROT1R1', contract_id };

      await run(() => queryContractSigning(client, { out_contract_code: 'ROT1', appid: APPID }));
      await run(() =>
        createScheduleRecords(client, {
          contract_id,
          appid: APPID,
          openid,
          schedule_items: [
            {
              out_record_id: 'ROT1R1',
              repayment_amount: '10000',
              min_repayment_amount: '1000',
              repayment_date: '2027-03-10',
            },
          ],
        }),
      );
      await run(() => queryScheduleRecord(client, record));
      await intoTheNextSecond(sandbox);
      const rotated = await sandbox.control.certificates.add();
      expect(rotated.serial).not.toBe(before);
      await run(() => queryScheduleRecord(client, record));
      await run(() => queryContractSigning(client, { out_contract_code: 'ROT1', appid: APPID }));
      expect(failures).toHaveLength(1);
      expect(failures[0]).toMatchObject({ reason: 'UNKNOWN_SERIAL', serial: rotated.serial, retryable: true });
      expect(store.preferredSerial()).toBe(rotated.serial);
      expect(await downloads(sandbox)).toBe(2);

      // The old certificate is kept until it expires: answers signed with it still verify, without a download.
      expect(store.certificates().map((c) => c.serial)).toEqual([before, rotated.serial]);
      await sandbox.control.certificates.useForSigning(before ?? '');
      await run(() => terminateContract(client, { out_contract_code: 'ROT1', contract_termination_remark: 'done' }));
      expect(failures).toHaveLength(1);
      expect(await downloads(sandbox)).toBe(2);
    } finally {
      client.close();
    }
  });

  it('refreshes on unknown serials at most once per cooldown', async () => {
    await sandbox.control.clearRequestLog();
    const { client } = certificateClient(sandbox, { unknownSerialCooldownMs: 60_000 });
    try {
      await client.certificates.refresh();
      await authorizedContract(sandbox, 'ROT2');
      await sandbox.control.injectFault({ endpoint: 'contract-query', kind: 'unknown-serial', count: 3 });
      for (let i = 0; i < 3; i++) {
        const error = await rejectionOf(queryContractSigning(client, { out_contract_code: 'ROT2', appid: APPID }));
        expect(error).toMatchObject({ reason: 'UNKNOWN_SERIAL' });
        await client.certificates.whenIdle();
      }
      expect(await downloads(sandbox)).toBe(2); // the first refresh, and one for the three unknown serials
      await queryContractSigning(client, { out_contract_code: 'ROT2', appid: APPID });
    } finally {
      client.close();
    }
  });

  it('refreshes on its schedule, and stops when the client closes', async () => {
    const { client, store } = certificateClient(sandbox, { refreshIntervalMs: 200 });
    client.certificates.start();
    const added = await sandbox.control.certificates.add({ signing: false });
    const deadline = Date.now() + 5_000;
    while (!store.certificates().some((c) => c.serial === added.serial) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(store.certificates().map((c) => c.serial)).toContain(added.serial);
    client.close();
    await client.certificates.whenIdle();
    const count = await downloads(sandbox);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(await downloads(sandbox)).toBe(count);
  });
});

describe('expiry', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ dataDir: tempDataDir() });
  });
  afterAll(() => sandbox.close());

  it('stops trusting a certificate at its validTo and drops it at the next refresh', async () => {
    const [original] = sandbox.platformCertificates;
    // Certificate times have whole seconds: the new one starts two seconds after the original so that it is
    // the newest even when the sandbox started within the same second.
    const notBefore = (original?.validFrom ?? Date.now()) + 2_000;
    let now = Math.max(Date.now(), notBefore + 1_000);
    const storeFile = join(tempDataDir(), 'certificates.json');
    const { client, store } = certificateClient(sandbox, { nowMs: () => now, storeFile });
    try {
      const shortLived = await sandbox.control.certificates.add({
        notBefore: new Date(notBefore).toISOString(),
        notAfter: new Date(now + 3_600_000).toISOString(),
      });
      expect((await client.certificates.refresh()).added.sort()).toEqual([original?.serial, shortLived.serial].sort());
      expect(store.preferredSerial()).toBe(shortLived.serial);

      now += 2 * 3_600_000; // the worker's clock passes the certificate's validTo
      expect(store.keyFor(shortLived.serial)).toBeUndefined();
      expect(store.preferredSerial()).toBe(original?.serial);
      // The sandbox still signs with it (its own clock): the worker refuses the answer, as infrastructure.
      await authorizedContract(sandbox, 'EXP1');
      const error = await rejectionOf(queryContractSigning(client, { out_contract_code: 'EXP1', appid: APPID }));
      expect(error).toMatchObject({ reason: 'UNKNOWN_SERIAL', serial: shortLived.serial, retryable: true });
      await client.certificates.whenIdle();
      expect(readCertificateFile(storeFile).map((c) => c.serial)).toEqual([original?.serial]);
      expect(store.certificates().map((c) => c.serial)).toEqual([original?.serial]);
    } finally {
      client.close();
    }
  });
});
