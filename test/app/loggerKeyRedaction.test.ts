import { generateKeyPairSync } from 'node:crypto';
import { JsonLogger } from '../../src/app/logger';

/**
 * Redaction by KEY NAME, with values that no string pattern of the logger recognises (no PEM armour, no
 * WECHATPAY2 scheme): only the sensitive-key list stands between these values and the log. Each secret is
 * distinct, so a line that leaks names the key whose redaction is missing.
 */

const BEARER = 'Bearer tQ7vLm2pXz9Rk4Nw';
const RAW_BEARER = 'Bearer hF3sYc8JqWn6Ue1D';
/** A real PKCS#8 private key as bare base64 (what a secret store or an env variable often holds). */
const BARE_KEY = (
  generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'der' }) as Buffer
).toString('base64');
/** Distinct slices of the key, so that each place it is put is checked separately. */
const KEY_TAIL = BARE_KEY.slice(-48);
const SNAKE_KEY = BARE_KEY.slice(100, 160);
const NESTED_KEY = BARE_KEY.slice(200, 260);
const ERROR_KEY = BARE_KEY.slice(300, 360);

function logOnce(meta: Record<string, unknown>): string {
  const lines: string[] = [];
  new JsonLogger('INFO', (line) => lines.push(line)).error('request failed', meta);
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

describe('JsonLogger redacts by key name, whatever the value looks like', () => {
  it('hides an Authorization header that is not a WECHATPAY2 one, at the top level and in nested headers', () => {
    const line = logOnce({
      authorization: BEARER,
      request: { method: 'GET', headers: { Authorization: RAW_BEARER, Accept: 'application/json' } },
    });
    expect(line).not.toContain(BEARER);
    expect(line).not.toContain(RAW_BEARER);
    expect(line).not.toContain('Bearer');
    // Neighbours survive: the redaction is per key, not a blanket one.
    expect(JSON.parse(line)).toMatchObject({
      authorization: '[REDACTED]',
      request: { method: 'GET', headers: { Authorization: '[REDACTED]', Accept: 'application/json' } },
    });
  });

  it('hides a bare base64 private key under privateKey / private_key / merchantPrivateKey', () => {
    const line = logOnce({
      privateKey: BARE_KEY,
      config: { private_key: SNAKE_KEY, mchid: '1900000001' },
      merchant: { merchantPrivateKey: KEY_TAIL, serialNo: '5157F09EFDC096DE15EBE81A47057A7232F1B8E1' },
    });
    for (const secret of [BARE_KEY, KEY_TAIL, SNAKE_KEY]) expect(line).not.toContain(secret);
    expect(JSON.parse(line)).toMatchObject({
      privateKey: '[REDACTED]',
      config: { private_key: '[REDACTED]', mchid: '1900000001' },
      merchant: { merchantPrivateKey: '[REDACTED]', serialNo: '5157F09EFDC096DE15EBE81A47057A7232F1B8E1' },
    });
  });

  it('hides them inside arrays of objects and arrays of arrays', () => {
    const line = logOnce({
      attempts: [
        { baseUrl: 'https://primary.invalid', headers: { authorization: BEARER } },
        { baseUrl: 'https://backup.invalid', keys: [[{ privateKey: NESTED_KEY }]] },
      ],
    });
    expect(line).not.toContain(BEARER);
    expect(line).not.toContain(NESTED_KEY);
    expect(JSON.parse(line)).toMatchObject({
      attempts: [
        { baseUrl: 'https://primary.invalid', headers: { authorization: '[REDACTED]' } },
        { baseUrl: 'https://backup.invalid', keys: [[{ privateKey: '[REDACTED]' }]] },
      ],
    });
  });

  it('hides them in the own properties of an Error, and of an Error nested in one', () => {
    const inner = Object.assign(new Error('signing failed'), { privateKey: ERROR_KEY });
    const error = Object.assign(new Error('HTTP 401'), {
      code: 'SIGN_ERROR',
      config: { headers: { Authorization: RAW_BEARER } },
      authorization: BEARER,
      inner,
    });
    const line = logOnce({ error });
    for (const secret of [BEARER, RAW_BEARER, ERROR_KEY]) expect(line).not.toContain(secret);
    expect(JSON.parse(line)).toMatchObject({
      error: {
        name: 'Error',
        message: 'HTTP 401',
        code: 'SIGN_ERROR',
        config: { headers: { Authorization: '[REDACTED]' } },
        authorization: '[REDACTED]',
        inner: { message: 'signing failed', privateKey: '[REDACTED]' },
      },
    });
  });

  it('hides them in a child logger’s bound metadata', () => {
    const lines: string[] = [];
    const child = new JsonLogger('INFO', (line) => lines.push(line)).child({
      component: 'wechatpay',
      merchant: { privateKey: BARE_KEY },
    });
    child.info('calling', { headers: { Authorization: BEARER } });
    expect(lines[0]).not.toContain(BARE_KEY);
    expect(lines[0]).not.toContain(BEARER);
    expect(lines[0]).toContain('wechatpay');
  });
});
