import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { startSandbox, type Sandbox } from '../../src/sandbox';
import { newNonce, unixSeconds } from '../../src/wechatpay/signer';
import { carriesSignature, Verifier } from '../../src/wechatpay/verifier';
import { signedRequest, tempDataDir, verifierFor, type SignedRequestOptions } from './signedRequest';
import { Wechatpay } from 'wechatpay-axios-plugin';
import type { AxiosError } from 'axios';

/** Request validation as WeChat Pay does it, signed answers, and key rotation, over real HTTP. */

let sandbox: Sandbox;
const QUERY = '/v3/ecommerce/individual-contracts/out-contract-code/AUTH001?appid=wxd678efh567hg6787';

beforeAll(async () => {
  sandbox = await startSandbox({ dataDir: tempDataDir() });
  await sandbox.control.createContract({
    outContractCode: 'AUTH001',
    contractId: 'WXCAUTH001',
    appid: 'wxd678efh567hg6787',
    openid: 'oUser1',
    authorized: true,
  });
});
afterAll(() => sandbox.close());

describe('accepted requests and signed answers', () => {
  it('accepts a correctly signed request and signs the answer verifiably, with a Request-ID', async () => {
    const answer = await signedRequest(sandbox, { path: QUERY });
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ auth_state: 'AUTHORIZED', individual_openid: 'oUser1' });
    expect(answer.headers['request-id']).toMatch(/^[0-9A-F]{32}$/);
    expect(() => verifierFor(sandbox).verify(answer.headers, answer.text)).not.toThrow();
  });

  it('signs error answers too, except the 401 to a request whose signature it refused, and gives each a Request-ID', async () => {
    const notFound = await signedRequest(sandbox, { path: QUERY.replace('AUTH001', 'NOSUCH') });
    expect(notFound.status).toBe(404);
    expect(() => verifierFor(sandbox).verify(notFound.headers, notFound.text)).not.toThrow();
    const refused = await signedRequest(sandbox, { path: QUERY, signedPath: `${QUERY}x` });
    expect(refused.status).toBe(401);
    expect(refused.json.code).toBe('SIGN_ERROR');
    expect(carriesSignature(refused.headers)).toBe(false);
    for (const answer of [notFound, refused]) expect(answer.headers['request-id']).toBeTruthy();
  });

  it('accepts a request signed by wechatpay-axios-plugin (an independent client), and verifies for it', async () => {
    const client = new Wechatpay({
      mchid: sandbox.mchid,
      serial: sandbox.merchant.serialNo,
      privateKey: readFileSync(sandbox.merchant.privateKeyPath),
      certs: Object.fromEntries(sandbox.platformKeys.map((k) => [k.id, readFileSync(k.publicKeyPath)])),
      baseURL: sandbox.primaryUrl,
    });
    const answer = await client.chain('v3/ecommerce/individual-contracts/out-contract-code/AUTH001').get({
      params: { appid: 'wxd678efh567hg6787' },
    });
    expect(answer.status).toBe(200);
    expect(answer.data.auth_state).toBe('AUTHORIZED');
    const post = await client
      .chain('v3/credit-repayment/partner/contracts/terminate')
      .post({ out_contract_code: 'NOSUCHCONTRACT', contract_termination_remark: '测试' })
      .catch((err: AxiosError) => err.response);
    expect(post?.status).toBe(404);
  });

  it('refuses a request signed by wechatpay-axios-plugin with the wrong private key', async () => {
    const wrongKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    });
    const client = new Wechatpay({
      mchid: sandbox.mchid,
      serial: sandbox.merchant.serialNo,
      privateKey: wrongKey,
      certs: Object.fromEntries(sandbox.platformKeys.map((k) => [k.id, readFileSync(k.publicKeyPath)])),
      baseURL: sandbox.primaryUrl,
    });
    const failure = await client
      .chain('v3/ecommerce/individual-contracts/out-contract-code/AUTH001')
      .get({ params: { appid: 'wxd678efh567hg6787' } })
      .then(
        () => undefined,
        (err: AxiosError<{ code: string }>) => err.response,
      );
    expect(failure?.status).toBe(401);
    expect(failure?.data.code).toBe('SIGN_ERROR');
  });
});

describe('refused requests', () => {
  const now = (): number => Number(unixSeconds());
  const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const terminate = '/v3/credit-repayment/partner/contracts/terminate';
  // Options are built when the test runs, so that timestamps are relative to that moment.
  const cases: Array<{
    what: string;
    options: () => SignedRequestOptions;
    status: number;
    code: string;
    issue?: string;
  }> = [
    {
      what: 'no Accept header',
      options: () => ({ path: QUERY, headers: { Accept: null } }),
      status: 400,
      code: 'INVALID_REQUEST',
    },
    {
      what: 'no User-Agent header',
      options: () => ({ path: QUERY, headers: { 'User-Agent': null } }),
      status: 400,
      code: 'INVALID_REQUEST',
    },
    {
      what: 'a POST without Content-Type: application/json',
      options: () => ({ path: terminate, body: { a: 1 }, headers: { 'Content-Type': 'text/plain' } }),
      status: 400,
      code: 'INVALID_REQUEST',
    },
    {
      what: 'no Authorization',
      options: () => ({ path: QUERY, unsigned: true }),
      status: 401,
      code: 'SIGN_ERROR',
      issue: 'MISSING_AUTHORIZATION',
    },
    {
      what: 'another schema',
      options: () => ({ path: QUERY, headers: { Authorization: 'Bearer abc' } }),
      status: 401,
      code: 'SIGN_ERROR',
      issue: 'MALFORMED_AUTHORIZATION',
    },
    {
      what: 'another mchid',
      options: () => ({ path: QUERY, mchid: '1900000002' }),
      status: 401,
      code: 'SIGN_ERROR',
      issue: 'MCHID_MISMATCH',
    },
    {
      what: 'another merchant serial',
      options: () => ({ path: QUERY, serialNo: 'ABCDEF0123456789ABCDEF0123456789ABCDEF01' }),
      status: 401,
      code: 'SIGN_ERROR',
      issue: 'SERIAL_MISMATCH',
    },
    {
      what: 'a timestamp 301 s old',
      options: () => ({ path: QUERY, timestamp: String(now() - 301) }),
      status: 401,
      code: 'SIGN_ERROR',
      issue: 'TIMESTAMP_EXPIRED',
    },
    {
      what: 'a timestamp 302 s ahead',
      options: () => ({ path: QUERY, timestamp: String(now() + 302) }),
      status: 401,
      code: 'SIGN_ERROR',
      issue: 'TIMESTAMP_EXPIRED',
    },
    {
      what: 'a signature over another query string',
      options: () => ({ path: QUERY, signedPath: QUERY.replace('wxd678', 'wxd679') }),
      status: 401,
      code: 'SIGN_ERROR',
      issue: 'SIGNATURE_MISMATCH',
    },
    {
      what: 'a signature without the query string',
      options: () => ({ path: QUERY, signedPath: QUERY.split('?')[0] as string }),
      status: 401,
      code: 'SIGN_ERROR',
      issue: 'SIGNATURE_MISMATCH',
    },
    {
      what: 'a signature over another body',
      options: () => ({
        path: terminate,
        body: { out_contract_code: 'AUTH001', contract_termination_remark: 'x' },
        signedBody: '{}',
      }),
      status: 401,
      code: 'SIGN_ERROR',
      issue: 'SIGNATURE_MISMATCH',
    },
    {
      what: 'a key the sandbox does not trust',
      options: () => ({ path: QUERY, privateKey: otherKey }),
      status: 401,
      code: 'SIGN_ERROR',
      issue: 'SIGNATURE_MISMATCH',
    },
  ];

  it.each(cases)('refuses $what', async ({ options, status, code, issue }) => {
    const answer = await signedRequest(sandbox, options());
    expect(answer.status).toBe(status);
    expect(answer.json).toMatchObject({ code, message: expect.any(String) });
    if (issue) expect(answer.json.detail).toEqual({ issue });
    expect(answer.headers['request-id']).toBeTruthy();
    // Only the answer to a refused signature goes out unsigned; its issue is the sandbox's own vocabulary.
    if (status === 401) expect(carriesSignature(answer.headers)).toBe(false);
    else expect(() => verifierFor(sandbox).verify(answer.headers, answer.text)).not.toThrow();
    expect(answer.headers['x-sandbox-invented']).toBe(issue ? `detail.issue=${issue}` : undefined);
  });

  it('accepts a timestamp 290 s old (inside the window)', async () => {
    const answer = await signedRequest(sandbox, { path: QUERY, timestamp: String(Number(unixSeconds()) - 290) });
    expect(answer.status).toBe(200);
  });

  it('refuses a nonce used again within the window, but not a fresh one', async () => {
    const nonce = newNonce();
    expect((await signedRequest(sandbox, { path: QUERY, nonce })).status).toBe(200);
    const replay = await signedRequest(sandbox, { path: QUERY, nonce });
    expect(replay.status).toBe(401);
    expect(replay.json.detail).toEqual({ issue: 'NONCE_REUSED' });
    expect((await signedRequest(sandbox, { path: QUERY })).status).toBe(200);
  });

  it('does not let a forged request burn a nonce', async () => {
    const nonce = newNonce();
    const forged = await signedRequest(sandbox, { path: QUERY, nonce, signedPath: '/v3/other' });
    expect(forged.status).toBe(401);
    expect((await signedRequest(sandbox, { path: QUERY, nonce })).status).toBe(200);
  });

  it('answers 404 NOT_FOUND for an unknown /v3 route (after authentication)', async () => {
    const answer = await signedRequest(sandbox, { path: '/v3/no/such/api' });
    expect(answer.status).toBe(404);
    expect(answer.json.code).toBe('NOT_FOUND');
  });
});

describe('platform key rotation', () => {
  it('has two platform keys with PUB_KEY_ID_ ids and signs with the one the request names', async () => {
    expect(sandbox.platformKeys).toHaveLength(2);
    const [first, second] = sandbox.platformKeys as [Sandbox['platformKeys'][0], Sandbox['platformKeys'][0]];
    expect(first.id).toMatch(/^PUB_KEY_ID_\d{28}$/);
    const bySecond = await signedRequest(sandbox, { path: QUERY, headers: { 'Wechatpay-Serial': second.id } });
    expect(bySecond.headers['wechatpay-serial']).toBe(second.id);
    const byFirst = await signedRequest(sandbox, { path: QUERY, headers: { 'Wechatpay-Serial': first.id } });
    expect(byFirst.headers['wechatpay-serial']).toBe(first.id);
    const unnamed = await signedRequest(sandbox, {
      path: QUERY,
      headers: { 'Wechatpay-Serial': 'PUB_KEY_ID_UNKNOWN' },
    });
    expect(unnamed.headers['wechatpay-serial']).toBe(first.id);
    for (const answer of [bySecond, byFirst, unnamed]) {
      expect(() => verifierFor(sandbox).verify(answer.headers, answer.text)).not.toThrow();
    }
    // A verifier that knows only the first key cannot check an answer signed with the second.
    const onlyFirst = new Verifier({ [first.id]: first.publicKey });
    expect(() => onlyFirst.verify(bySecond.headers, bySecond.text)).toThrow(/UNKNOWN_SERIAL/);
  });

  it('falls back to the default key when the named one is deactivated; adds a third key', async () => {
    const [first, second] = sandbox.platformKeys as [Sandbox['platformKeys'][0], Sandbox['platformKeys'][0]];
    await sandbox.control.setPlatformKeyActive(second.id, false);
    const answer = await signedRequest(sandbox, { path: QUERY, headers: { 'Wechatpay-Serial': second.id } });
    expect(answer.headers['wechatpay-serial']).toBe(first.id);
    await sandbox.control.setPlatformKeyActive(second.id, true);

    const third = await sandbox.control.addPlatformKey();
    expect(sandbox.platformKeys.map((k) => k.id)).toContain(third.id);
    const byThird = await signedRequest(sandbox, { path: QUERY, headers: { 'Wechatpay-Serial': third.id } });
    expect(byThird.headers['wechatpay-serial']).toBe(third.id);
    expect(() => verifierFor(sandbox).verify(byThird.headers, byThird.text)).not.toThrow();

    // The default (first) key can be retired: answers then come from the next active key.
    await sandbox.control.setPlatformKeyActive(first.id, false);
    const afterRetire = await signedRequest(sandbox, { path: QUERY, headers: { 'Wechatpay-Serial': first.id } });
    expect(afterRetire.headers['wechatpay-serial']).toBe(second.id);
    await sandbox.control.setPlatformKeyActive(first.id, true);
  });

  it('refuses to deactivate the last active key', async () => {
    const keys = await sandbox.control.listPlatformKeys();
    const [last, ...others] = keys.map((k) => k.id) as [string, ...string[]];
    for (const id of others) await sandbox.control.setPlatformKeyActive(id, false);
    await expect(sandbox.control.setPlatformKeyActive(last, false)).rejects.toMatchObject({ httpStatus: 409 });
    for (const id of others) await sandbox.control.setPlatformKeyActive(id, true);
  });
});
