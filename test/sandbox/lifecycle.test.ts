import { wechatpayClientFor } from '../harness/sandboxClient';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { WechatPaySectionSchema } from '../../src/config/schema';
import { startSandbox, type Sandbox } from '../../src/sandbox';
import { SandboxControlClient } from '../../src/sandbox/controlClient';
import { SandboxError } from '../../src/sandbox/errors';
import { queryContractSigning, terminateContract, WechatPayApiError } from '../../src/wechatpay';
import { loadPrivateKeyFile, loadPublicKeyFile } from '../../src/wechatpay/keys';
import { signedRequest, tempDataDir } from './signedRequest';

/** Keys and start-up, persistence across a restart, the config snippet, the HTTP control client, the real client. */

const APPID = 'wxd678efh567hg6787';

describe('keys, persistence and restart', () => {
  const dataDir = tempDataDir();
  let first: Sandbox;

  afterAll(() => first?.close());

  it('generates keys on first start with private files at mode 0600, and reuses them after', async () => {
    first = await startSandbox({ dataDir, persist: true });
    expect(first.merchant.serialNo).toMatch(/^[0-9A-F]{40}$/);
    expect(first.merchant.privateKeyPath).toBe(join(dataDir, 'keys', 'apiclient_key.pem'));
    expect(readFileSync(first.merchant.privateKeyPath, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(statSync(first.merchant.privateKeyPath).mode & 0o777).toBe(0o600);
    for (const key of first.platformKeys) {
      expect(readFileSync(key.publicKeyPath, 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----/);
      expect(statSync(join(dataDir, 'keys', `wxp_key_${key.id}.pem`)).mode & 0o777).toBe(0o600);
      expect(loadPublicKeyFile(key.publicKeyPath).equals(key.publicKey)).toBe(true);
    }
    expect(loadPrivateKeyFile(first.merchant.privateKeyPath).equals(first.merchant.privateKey)).toBe(true);
  });

  it('keeps contracts, records, bills and the clock offset across a restart; keys and ids stay the same', async () => {
    await first.control.createContract({
      outContractCode: 'P001',
      contractId: 'WXCP001',
      appid: APPID,
      openid: 'oP',
      authorized: true,
    });
    const tomorrow = new Date(Date.now() + 8 * 3_600_000 + 86_400_000).toISOString().slice(0, 10);
    const created = await signedRequest(first, {
      path: '/v3/credit-repayment/partner/schedule-records/batch-create',
      body: {
        contract_id: 'WXCP001',
        appid: APPID,
        openid: 'oP',
        schedule_items: [
          { out_record_id: 'P001R1', repayment_amount: '100', min_repayment_amount: '5', repayment_date: tomorrow },
        ],
      },
    });
    expect(created.status).toBe(200);
    await first.control.createBill({ outBillNo: 'PB1', amount: 42 });
    await first.control.setBillState('PB1', 'SUCCESS');
    await first.control.setClockOffset(3_600_000);
    const keysBefore = { serial: first.merchant.serialNo, platform: first.platformKeys.map((k) => k.id) };
    // On disk at once, as an appended journal line (store.ts), before any orderly close.
    expect(readFileSync(join(dataDir, 'state.journal'), 'utf8')).toContain('"c":"records","k":"P001R1"');
    await first.close();

    const second = await startSandbox({ dataDir, persist: true });
    try {
      expect({ serial: second.merchant.serialNo, platform: second.platformKeys.map((k) => k.id) }).toEqual(keysBefore);
      const record = await signedRequest(second, {
        path: '/v3/credit-repayment/partner/schedule-records/P001R1?contract_id=WXCP001',
      });
      expect(record.json).toMatchObject({ repayment_amount: '100', repayment_date: tomorrow });
      expect((await second.control.getBill('PB1')).state).toBe('SUCCESS');
      expect((await second.control.getContract('P001')).state).toBe('AUTHORIZED');
      const health = await second.control.health();
      expect(Date.parse(health.businessTime) - Date.now()).toBeGreaterThan(3_500_000);
    } finally {
      await second.close();
    }
  });

  it('does not persist without persist: true, and reset clears the state but keeps the keys', async () => {
    const dir = tempDataDir();
    const volatile = await startSandbox({ dataDir: dir });
    await volatile.control.createContract({ outContractCode: 'V1', contractId: 'WXCV1', appid: APPID, openid: 'o' });
    const serial = volatile.merchant.serialNo;
    await volatile.close();
    const again = await startSandbox({ dataDir: dir });
    await expect(again.control.getContract('V1')).rejects.toMatchObject({ httpStatus: 404 });
    expect(again.merchant.serialNo).toBe(serial);
    await again.control.createContract({ outContractCode: 'V2', contractId: 'WXCV2', appid: APPID, openid: 'o' });
    await again.control.reset();
    await expect(again.control.getContract('V2')).rejects.toMatchObject({ httpStatus: 404 });
    expect(again.merchant.serialNo).toBe(serial);
    await again.close();
  });
});

describe('config snippet and the real client', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ dataDir: tempDataDir() });
  });
  afterAll(() => sandbox.close());

  it('gives a temporal.yaml wechatpay section that the config schema accepts and that points at this sandbox', () => {
    const parsed = parseYaml(sandbox.configSnippet()) as { wechatpay: unknown };
    const section = WechatPaySectionSchema.parse(parsed.wechatpay);
    expect(section).toMatchObject({
      mchid: sandbox.mchid,
      merchantSerialNo: sandbox.merchant.serialNo,
      privateKeyFile: sandbox.merchant.privateKeyPath,
      baseUrls: { primary: sandbox.primaryUrl, backup: sandbox.backupUrl },
    });
    expect(section.verificationKeys?.map((k) => k.id)).toEqual(sandbox.platformKeys.map((k) => k.id));
    expect(sandbox.configSnippet()).not.toMatch(/PRIVATE KEY/);
  });

  it('serves the project client (src/wechatpay) over real HTTP with real signatures', async () => {
    const client = wechatpayClientFor(sandbox, { timeoutMs: 5_000 });
    await sandbox.control.createContract({
      outContractCode: 'RC1',
      contractId: 'WXCRC1',
      appid: APPID,
      openid: 'oRC',
      authorized: true,
    });
    expect(await queryContractSigning(client, { out_contract_code: 'RC1', appid: APPID })).toMatchObject({
      auth_state: 'AUTHORIZED',
    });
    const terminated = await terminateContract(client, {
      out_contract_code: 'RC1',
      contract_termination_remark: 'done',
    });
    expect(terminated.contract_info?.contract_state).toBe('CONTRACT_STATE_TERMINATED');
    const again = await terminateContract(client, {
      out_contract_code: 'RC1',
      contract_termination_remark: 'done',
    }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(WechatPayApiError);
    expect(again).toMatchObject({ httpStatus: 400, code: 'INVALID_REQUEST' });
  });
});

describe('SandboxControlClient (the control API over HTTP)', () => {
  let sandbox: Sandbox;
  let client: SandboxControlClient;
  beforeAll(async () => {
    sandbox = await startSandbox({
      dataDir: tempDataDir(),
      businessClock: () => Date.parse('2026-05-01T12:00:00+08:00'),
    });
    client = new SandboxControlClient(sandbox.backupUrl);
  });
  afterAll(() => sandbox.close());

  it('runs every operation over HTTP with the same results as in process', async () => {
    expect(await client.health()).toMatchObject({
      ok: true,
      mchid: sandbox.mchid,
      primaryUp: true,
      businessTime: '2026-05-01T12:00:00+08:00',
    });
    expect(
      await client.createContract({ outContractCode: 'H1', contractId: 'WXCH1', appid: APPID, openid: 'oH' }),
    ).toMatchObject({ state: 'UNSIGNED' });
    expect(await client.authorizeContract('H1')).toMatchObject({
      state: 'AUTHORIZED',
      signed_time: '2026-05-01T12:00:00+08:00',
    });
    expect(await client.getContract('H1')).toEqual(await sandbox.control.getContract('H1'));

    await sandbox.control.createContract({
      outContractCode: 'H2',
      contractId: 'WXCH2',
      appid: APPID,
      openid: 'oH2',
      authorized: true,
    });
    expect(await client.terminateAsUser('H2', 'user left')).toMatchObject({
      state: 'TERMINATED',
      termination_mode: 'BY_USER',
      termination_remark: 'user left',
    });

    const created = await signedRequest(sandbox, {
      path: '/v3/credit-repayment/partner/schedule-records/batch-create',
      body: {
        contract_id: 'WXCH1',
        appid: APPID,
        openid: 'oH',
        schedule_items: [
          { out_record_id: 'HR1', repayment_amount: '500', min_repayment_amount: '50', repayment_date: '2026-05-02' },
        ],
      },
    });
    expect(created.status).toBe(200);
    expect(await client.listRecords('WXCH1')).toMatchObject([{ out_record_id: 'HR1' }]);
    expect(await client.listRecords('WXCNONE')).toEqual([]);
    expect(await client.changeRecord('HR1', { min_repayment_amount: '500' })).toMatchObject({
      min_repayment_amount: '500',
    });
    await client.deleteRecord('HR1');
    expect(await client.listRecords()).toEqual([]);

    expect(await client.createBill({ outBillNo: 'HB1', amount: 10 })).toMatchObject({ state: 'ACCEPTED', amount: 10 });
    expect(await client.setBillState('HB1', 'CLOSED', 'BLOCKED')).toMatchObject({
      close_info: { close_reason: 'BLOCKED' },
    });
    expect((await client.getBill('HB1')).state).toBe('CLOSED');

    expect(await client.injectFault({ endpoint: 'contract-query', kind: 'stale', count: 3 })).toMatchObject({
      remaining: 3,
    });
    expect(await client.injectFault({ endpoint: 'terminate', kind: '503' as never })).toMatchObject({ kind: 503 });
    expect(await client.listFaults()).toHaveLength(2);
    await client.clearFaults();
    expect(await client.listFaults()).toEqual([]);

    expect((await client.requestLog('schedule-create')).map((e) => e.status)).toEqual([200]);
    await client.clearRequestLog();
    expect(await client.requestLog()).toEqual([]);

    expect(await client.setClockOffset(86_400_000)).toMatchObject({ businessTime: '2026-05-02T12:00:00+08:00' });
    const keys = await client.listPlatformKeys();
    expect(keys.map((k) => k.id)).toEqual(sandbox.platformKeys.map((k) => k.id));
    const added = await client.addPlatformKey();
    expect(await client.setPlatformKeyActive(added.id, false)).toMatchObject({ id: added.id, active: false });

    expect(await client.setPrimaryDown(true)).toEqual({ primaryUp: false });
    expect(await client.setPrimaryDown(false)).toEqual({ primaryUp: true });
    await client.reset();
    expect(await client.listRecords()).toEqual([]);
    await expect(client.getContract('H1')).rejects.toMatchObject({ httpStatus: 404 });
  });

  it('throws typed errors naming the field, in WeChat shape', async () => {
    const error = await client
      .createContract({ outContractCode: 'bad code!', contractId: 'x', appid: 'a', openid: 'o' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SandboxError);
    expect(error).toMatchObject({ httpStatus: 400, code: 'PARAM_ERROR', detail: { field: 'outContractCode' } });
    await expect(
      client.createContract({ outContractCode: 'C1', contractId: 'x', appid: 'a', openid: 'o', extra: 1 } as never),
    ).rejects.toMatchObject({ code: 'PARAM_ERROR' });
    await expect(client.getBill('NOSUCH')).rejects.toMatchObject({ httpStatus: 404, code: 'RESOURCE_NOT_EXISTS' });
    await expect(client.setClockOffset('soon' as never)).rejects.toMatchObject({ detail: { field: 'offsetMs' } });
    const unknown = await signedRequest(sandbox, { path: '/sandbox/nothing-here' });
    expect([unknown.status, unknown.json.code]).toEqual([404, 'NOT_FOUND']);
    expect(unknown.headers['request-id']).toBeTruthy();
  });
});
