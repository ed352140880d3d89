import { startSandbox, type Sandbox } from '../../src/sandbox';
import {
  ANSWER_TOO_LARGE,
  createScheduleRecords,
  isVerifiedNotFound,
  queryScheduleRecord,
  terminateContract,
  WechatPayApiError,
  WechatPayHttpClient,
  WechatPayTransportError,
  WechatPayVerificationError,
  type WechatPayClientOptions,
} from '../../src/wechatpay';
import { wechatpayClientFor } from '../harness/sandboxClient';
import { authorizedContract, tempDataDir, verifierFor } from '../sandbox/signedRequest';
import { rejectionOf } from './helpers';

/**
 * The client against the sandbox over real HTTP with real signatures: which answers are evidence (a verified
 * "not found"), which are infrastructure (unsigned, unverifiable, too slow, too large), and that a POST whose
 * outcome is unknown is never resent to the backup (counted in the sandbox's request log).
 */

let sandbox: Sandbox;
const clients: WechatPayHttpClient[] = [];
const client = (options: Partial<Pick<WechatPayClientOptions, 'timeoutMs'>> = {}) => {
  const c = wechatpayClientFor(sandbox, options);
  clients.push(c);
  return c;
};

beforeAll(async () => {
  sandbox = await startSandbox({ dataDir: tempDataDir(), scheduleWindowDays: null });
});
afterEach(async () => {
  clients.splice(0).forEach((c) => c.close());
  await sandbox.control.clearFaults();
  await sandbox.control.clearRequestLog();
});
afterAll(() => sandbox.close());

const queryMissing = (c: WechatPayHttpClient) =>
  rejectionOf(queryScheduleRecord(c, { out_record_id: 'NOSUCH', contract_id: 'WXCNOSUCH' }));
const terminate = (c: WechatPayHttpClient, code: string) =>
  terminateContract(c, { out_contract_code: code, contract_termination_remark: '用户申请提前结清，解除协议' });
const listenersOf = async (endpoint: string) =>
  (await sandbox.control.requestLog(endpoint)).map((entry) => entry.listener);

describe('404 answers', () => {
  it('a verified RESOURCE_NOT_EXISTS is "not found"', async () => {
    const error = await queryMissing(client());
    expect(error).toBeInstanceOf(WechatPayApiError);
    expect(error).toMatchObject({ httpStatus: 404, code: 'RESOURCE_NOT_EXISTS', verified: true, retryable: false });
    expect(isVerifiedNotFound(error)).toBe(true);
  });

  it.each([
    ['unsigned-404', 'RESOURCE_NOT_EXISTS'],
    ['html-404', 'HTTP_404'],
  ] as const)('%s is infrastructure: retryable, unverified, not "not found"', async (kind, code) => {
    await sandbox.control.injectFault({ endpoint: 'schedule-query', kind });
    const error = await queryMissing(client());
    expect(error).toBeInstanceOf(WechatPayApiError);
    expect(error).toMatchObject({ httpStatus: 404, code, verified: false, retryable: true });
    expect(isVerifiedNotFound(error)).toBe(false);
    expect(await listenersOf('schedule-query')).toEqual(['primary']); // a 404 is not a reason to fail over
  });

  it('bad-signature-404 is a retryable verification error, not "not found"', async () => {
    await sandbox.control.injectFault({ endpoint: 'schedule-query', kind: 'bad-signature-404' });
    const error = await queryMissing(client());
    expect(error).toBeInstanceOf(WechatPayVerificationError);
    expect(error).toMatchObject({ httpStatus: 404, reason: 'BAD_SIGNATURE', retryable: true });
    expect(isVerifiedNotFound(error)).toBe(false);
  });
});

describe('401 to our own signature', () => {
  it('is unsigned by WeChat Pay, so unverified, and retryable (infrastructure)', async () => {
    const wrongSerial = new WechatPayHttpClient({
      merchant: {
        mchid: sandbox.mchid,
        serialNo: 'ABCDEF0123456789ABCDEF0123456789ABCDEF01',
        privateKey: sandbox.merchant.privateKey,
      },
      verifier: verifierFor(sandbox),
      baseUrls: { primary: sandbox.primaryUrl, backup: sandbox.backupUrl },
    });
    clients.push(wrongSerial);
    const error = await queryMissing(wrongSerial);
    expect(error).toBeInstanceOf(WechatPayApiError);
    expect(error).toMatchObject({ httpStatus: 401, code: 'SIGN_ERROR', verified: false, retryable: true });
  });
});

describe('bounds', () => {
  it('an answer trickling one byte a second ends at the deadline; the POST, executed, is not resent', async () => {
    await authorizedContract(sandbox, 'TRICKLE1');
    await sandbox.control.injectFault({ endpoint: 'terminate', kind: 'trickle' });
    const started = Date.now();
    const error = await rejectionOf(terminate(client({ timeoutMs: 1500 }), 'TRICKLE1'));
    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(WechatPayTransportError);
    expect(error).toMatchObject({ code: 'ETIMEDOUT', outcomeUnknown: true, retryable: true });
    expect(elapsed).toBeGreaterThanOrEqual(1400);
    expect(elapsed).toBeLessThan(3000);
    expect(await listenersOf('terminate')).toEqual(['primary']);
    expect((await sandbox.control.getContract('TRICKLE1')).state).toBe('TERMINATED');
  });

  it('a GET whose answer trickles fails over to the backup at the deadline', async () => {
    await sandbox.control.injectFault({ endpoint: 'schedule-query', kind: 'trickle' });
    const error = await queryMissing(client({ timeoutMs: 1500 }));
    expect(isVerifiedNotFound(error)).toBe(true); // the backup's own answer
    expect(await listenersOf('schedule-query')).toEqual(['primary', 'backup']);
  });

  it('an oversized answer is refused from its length, quickly, as infrastructure', async () => {
    await authorizedContract(sandbox, 'BIG1');
    await sandbox.control.injectFault({ endpoint: 'terminate', kind: 'oversized' });
    const started = Date.now();
    const error = await rejectionOf(terminate(client(), 'BIG1'));
    expect(error).toBeInstanceOf(WechatPayTransportError);
    expect(error).toMatchObject({ code: ANSWER_TOO_LARGE, outcomeUnknown: true, retryable: true });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await listenersOf('terminate')).toEqual(['primary']);
  });
});

describe('POST with an unknown outcome', () => {
  it('a create whose connection is reset after it was executed is not resent to the backup', async () => {
    const contract = await authorizedContract(sandbox, 'RESET1');
    await sandbox.control.injectFault({ endpoint: 'schedule-create', kind: 'reset' });
    const item = {
      out_record_id: 'RESET1R1',
      repayment_amount: '100',
      min_repayment_amount: '10',
      repayment_date: '2099-01-10',
    };
    const error = await rejectionOf(createScheduleRecords(client(), { ...contract, schedule_items: [item] }));
    expect(error).toMatchObject({ name: 'WechatPayTransportError', code: 'ECONNRESET', outcomeUnknown: true });
    expect(await listenersOf('schedule-create')).toEqual(['primary']);
    expect(await sandbox.control.listRecords(contract.contract_id)).toHaveLength(1); // it was executed
  });

  it('a terminate that times out is not resent to the backup', async () => {
    await authorizedContract(sandbox, 'SLOW1');
    await sandbox.control.injectFault({ endpoint: 'terminate', kind: 'slow', delayMs: 3000 });
    const error = await rejectionOf(terminate(client({ timeoutMs: 500 }), 'SLOW1'));
    expect(error).toMatchObject({ code: 'ETIMEDOUT', outcomeUnknown: true });
    expect(await listenersOf('terminate')).toEqual(['primary']);
  });

  it('a POST the primary never received (connection refused) goes to the backup', async () => {
    await authorizedContract(sandbox, 'DOWN1');
    await sandbox.control.setPrimaryDown(true);
    try {
      const answer = await terminate(client(), 'DOWN1');
      expect(answer.contract_info?.contract_state).toBe('CONTRACT_STATE_TERMINATED');
      expect(await listenersOf('terminate')).toEqual(['backup']);
    } finally {
      await sandbox.control.setPrimaryDown(false);
    }
  });

  it('a GET whose connection is reset fails over', async () => {
    await sandbox.control.injectFault({ endpoint: 'schedule-query', kind: 'reset' });
    expect(isVerifiedNotFound(await queryMissing(client()))).toBe(true);
    expect(await listenersOf('schedule-query')).toEqual(['primary', 'backup']);
  });
});
