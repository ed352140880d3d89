import { Wechatpay } from 'wechatpay-axios-plugin';
import { WechatPayVerificationError } from '../../src/wechatpay/errors';
import type { WechatPayHttpClient } from '../../src/wechatpay/http';
import {
  answer,
  makeClient,
  makeKeys,
  requestSignatureValid,
  startServer,
  type SignOverrides,
  type TestServer,
} from './helpers';

/**
 * wechatpay-axios-plugin, an independent implementation of the same protocol, as an oracle: what it signs
 * passes our server-side check, what we sign passes its verification, and both accept and reject the same answers.
 */

const keys = makeKeys();
const BODY = JSON.stringify({ out_record_id: 'R1', remark: '信贷还款' });
const PATH = '/v3/credit-repayment/partner/schedule-records/R1';

let server: TestServer;
let ours: WechatPayHttpClient;
let plugin: Wechatpay;
let overrides: SignOverrides = {};

beforeAll(async () => {
  server = await startServer((_req, res) => answer(res, keys, 200, BODY, overrides));
  ours = makeClient(keys, { primary: server.url });
  plugin = new Wechatpay({
    mchid: keys.mchid,
    serial: keys.merchantSerial,
    privateKey: keys.merchantPrivate.export({ type: 'pkcs8', format: 'pem' }),
    certs: { [keys.platformSerial]: keys.platformPublic.export({ type: 'spki', format: 'pem' }) },
    baseURL: `${server.url}/`,
  } as ConstructorParameters<typeof Wechatpay>[0]);
});
afterAll(async () => {
  ours.close();
  await server.close();
});
beforeEach(() => {
  overrides = {};
  server.received.length = 0;
});

describe('requests the plugin signs pass our server-side check', () => {
  it('GET with an encoded query', async () => {
    await plugin.chain(PATH.slice(1)).get({ params: { contract_id: 'C 1/x' } });
    const req = server.received[0]!;
    expect(req.url.startsWith(`${PATH}?contract_id=`)).toBe(true);
    expect(requestSignatureValid(keys, req)).toBe(true);
  });

  it('POST with a UTF-8 JSON body, and the check fails when the body is altered', async () => {
    await plugin
      .chain('v3/credit-repayment/partner/contracts/terminate')
      .post({ out_contract_code: 'C1', contract_termination_remark: '签约信息有误' });
    const req = server.received[0]!;
    expect(req.method).toBe('POST');
    expect(requestSignatureValid(keys, req)).toBe(true);
    expect(requestSignatureValid(keys, { ...req, body: req.body.replace('C1', 'C2') })).toBe(false);
  });

  it('our requests and the plugin’s carry the same five Authorization pairs (order aside)', async () => {
    await plugin.chain(PATH.slice(1)).get();
    await ours.request({ method: 'GET', path: PATH });
    const names = server.received.map((r) =>
      String(r.headers.authorization)
        .replace(/^WECHATPAY2-SHA256-RSA2048 /, '')
        .split(',')
        .map((p) => p.split('=')[0])
        .sort(),
    );
    expect(names[0]).toEqual(names[1]);
    expect(server.received.every((r) => requestSignatureValid(keys, r))).toBe(true);
  });
});

describe('both verifiers agree on answers', () => {
  const stale = (): string => String(Math.floor(Date.now() / 1000) - 600);
  const cases: Array<[string, () => SignOverrides, boolean]> = [
    ['a correctly signed answer', () => ({}), true],
    ['a tampered body', () => ({ sentBody: BODY.replace('R1', 'R2') }), false],
    ['a stale timestamp', () => ({ timestamp: stale() }), false],
    ['an unknown serial', () => ({ serial: 'PUB_KEY_ID_UNKNOWN' }), false],
    ['a SIGNTEST probe', () => ({ signature: 'WECHATPAY/SIGNTEST/dGVzdA==' }), false],
    ['a missing Wechatpay-Nonce', () => ({ omit: ['Wechatpay-Nonce'] }), false],
  ];

  it.each(cases)('%s', async (_name, make, accepted) => {
    overrides = make();
    const pluginOutcome = await plugin
      .chain(PATH.slice(1))
      .get()
      .then(
        (res: { data: unknown }) => ({ ok: true, data: res.data }),
        (error: { code?: string }) => ({ ok: false, code: error.code }),
      );
    const ourOutcome = await ours.request({ method: 'GET', path: PATH }).then(
      (res) => ({ ok: true, data: res.data }),
      (error: unknown) => ({ ok: false, error }),
    );
    expect(pluginOutcome.ok).toBe(accepted);
    expect(ourOutcome.ok).toBe(accepted);
    if (accepted) {
      expect(ourOutcome).toEqual(pluginOutcome);
      expect(ourOutcome).toEqual({ ok: true, data: JSON.parse(BODY) });
    } else {
      expect((ourOutcome as { error: unknown }).error).toBeInstanceOf(WechatPayVerificationError);
      // rejected by the plugin's verifier, not by some transport failure
      expect((pluginOutcome as { code?: string }).code).toMatch(/^EV3_RES_/);
    }
  });
});
