import { createPublicKey, createVerify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadPrivateKey } from '../../src/wechatpay/keys';
import {
  buildAuthorization,
  buildAuthorizationAsync,
  parseAuthorization,
  requestSignMessage,
  responseSignMessage,
  signMessage,
  signMessageAsync,
  verifyMessage,
} from '../../src/wechatpay/signer';

// A throw-away RSA-2048 key made for this test only (openssl genpkey); it signs nothing real.
const KAT_PEM = readFileSync(join(__dirname, 'fixtures', 'kat-merchant-key.pem'));
const KAT_URL = '/v3/credit-repayment/partner/schedule-records/R%201%2Fx?contract_id=C1';
const KAT_TIMESTAMP = '1700000000';
const KAT_NONCE = '593BEC0C930BF1AFEB40B4A08C8FB242';
// `printf 'GET\n<url>\n<ts>\n<nonce>\n\n' | openssl dgst -sha256 -sign kat-merchant-key.pem | base64 -w0`
const KAT_SIGNATURE =
  'ntzYHXRghlwR4WBKWDx9FyygOuFeOTH+CKOpVjnmfU5nC/KJf7Yx8eZvYib99YYOYf/MqePKynEzOeUtRM12vOeqgNUruQSMoT/pyuEE0YyM6Ai6YL8Yea' +
  '27xEFCtmraMiAL9dmfihtXhxfVWinx2dUtuAGW6hYVIbc1OfVgVpmL64jGr1F/5QbIcDXzUCR1l1W85HjvbuqbMe9pkVzz74yF0L3AXEiRmjcWhiYiIJlYllW0QG' +
  'oBU+Ons8QbTyR76XpNGQkPi/k8NtDeZa4hHjr0vjvoPCYBxexwoCZvthcVjmRnqajcajvtan1suDb5BAGde88UdyciGNz+Z6CHmg==';

const pkcs8 = loadPrivateKey(KAT_PEM);
const pkcs1 = loadPrivateKey(pkcs8.export({ type: 'pkcs1', format: 'pem' }));
const publicKey = createPublicKey(pkcs8);
const merchant = { mchid: '1900000001', serialNo: '1DDE55AD98E00000000000000000000000000001', privateKey: pkcs8 };

describe('signer', () => {
  it('builds the five-line request message and the three-line answer message', () => {
    expect(requestSignMessage('get', KAT_URL, KAT_TIMESTAMP, KAT_NONCE, '')).toBe(
      `GET\n${KAT_URL}\n${KAT_TIMESTAMP}\n${KAT_NONCE}\n\n`,
    );
    expect(responseSignMessage('1', 'n', '').toString()).toBe('1\nn\n\n');
    // A Buffer body goes in byte for byte, even when it is not valid UTF-8.
    expect(responseSignMessage('1', 'n', Buffer.from([0xff, 0x7b]))).toEqual(Buffer.from('1\nn\n\xff{\n', 'latin1'));
  });

  it('matches the signature openssl computed over the same message (known answer)', () => {
    const message = requestSignMessage('GET', KAT_URL, KAT_TIMESTAMP, KAT_NONCE, '');
    expect(signMessage(pkcs8, message)).toBe(KAT_SIGNATURE);
    expect(signMessage(pkcs1, message)).toBe(KAT_SIGNATURE);
  });

  it('signs identically on the thread pool', async () => {
    const message = requestSignMessage('GET', KAT_URL, KAT_TIMESTAMP, KAT_NONCE, '');
    await expect(signMessageAsync(pkcs8, message)).resolves.toBe(KAT_SIGNATURE);
  });

  it('produces signatures node:crypto verifies independently, over UTF-8 bodies', () => {
    const body = JSON.stringify({ remark: '签约信息有误' });
    const message = requestSignMessage('POST', '/v3/x', KAT_TIMESTAMP, KAT_NONCE, body);
    const signature = signMessage(pkcs1, message);
    expect(createVerify('RSA-SHA256').update(Buffer.from(message, 'utf8')).verify(publicKey, signature, 'base64')).toBe(
      true,
    );
    expect(verifyMessage(publicKey, message, signature)).toBe(true);
    expect(verifyMessage(publicKey, message.replace('签', '簽'), signature)).toBe(false);
    expect(verifyMessage(publicKey, message, '')).toBe(false);
    expect(verifyMessage(publicKey, message, 'not base64 at all!')).toBe(false);
  });

  it('builds an Authorization header that round-trips through parseAuthorization', async () => {
    const header = buildAuthorization(merchant, 'GET', KAT_URL, '', KAT_TIMESTAMP, KAT_NONCE);
    expect(header).toBe(
      `WECHATPAY2-SHA256-RSA2048 mchid="1900000001",nonce_str="${KAT_NONCE}",timestamp="${KAT_TIMESTAMP}",` +
        `serial_no="${merchant.serialNo}",signature="${KAT_SIGNATURE}"`,
    );
    await expect(buildAuthorizationAsync(merchant, 'GET', KAT_URL, '', KAT_TIMESTAMP, KAT_NONCE)).resolves.toBe(header);
    expect(parseAuthorization(header)).toEqual({
      mchid: '1900000001',
      nonce_str: KAT_NONCE,
      timestamp: KAT_TIMESTAMP,
      serial_no: merchant.serialNo,
      signature: KAT_SIGNATURE,
    });
  });

  it('uses a fresh nonce and the current time by default', () => {
    const a = parseAuthorization(buildAuthorization(merchant, 'GET', '/x', ''))!;
    const b = parseAuthorization(buildAuthorization(merchant, 'GET', '/x', ''))!;
    expect(a.nonce_str).toMatch(/^[0-9A-Za-z]{32}$/);
    expect(a.nonce_str).not.toBe(b.nonce_str);
    expect(Math.abs(Number(a.timestamp) - Date.now() / 1000)).toBeLessThan(5);
  });
});

describe('parseAuthorization', () => {
  const pairs = ['mchid="1"', 'nonce_str="n"', 'timestamp="2"', 'serial_no="s"', 'signature="c2ln"'];
  const expected = { mchid: '1', nonce_str: 'n', timestamp: '2', serial_no: 's', signature: 'c2ln' };

  it('accepts the five pairs in any order', () => {
    expect(parseAuthorization(`WECHATPAY2-SHA256-RSA2048 ${[...pairs].reverse().join(',')}`)).toEqual(expected);
    expect(
      parseAuthorization(`WECHATPAY2-SHA256-RSA2048 ${[pairs[2], pairs[0], pairs[4], pairs[1], pairs[3]].join(',')}`),
    ).toEqual(expected);
  });

  it.each([
    ['a wrong schema', `WECHATPAY2-SHA256-RSA4096 ${pairs.join(',')}`],
    ['a missing pair', `WECHATPAY2-SHA256-RSA2048 ${pairs.slice(1).join(',')}`],
    ['a duplicated pair', `WECHATPAY2-SHA256-RSA2048 ${[...pairs, 'mchid="2"'].join(',')}`],
    ['a duplicate replacing a pair', `WECHATPAY2-SHA256-RSA2048 ${[...pairs.slice(1), 'nonce_str="m"'].join(',')}`],
    ['an unknown pair', `WECHATPAY2-SHA256-RSA2048 ${[...pairs, 'x="1"'].join(',')}`],
    ['an unquoted value', `WECHATPAY2-SHA256-RSA2048 ${[...pairs.slice(1), 'mchid=1'].join(',')}`],
    ['an empty header', ''],
  ])('rejects %s', (_name, header) => {
    expect(parseAuthorization(header)).toBeUndefined();
  });
});
