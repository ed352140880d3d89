import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WechatPayVerificationError } from '../../src/wechatpay/errors';
import { loadPrivateKey, loadPublicKey } from '../../src/wechatpay/keys';
import { responseSignMessage, signMessage } from '../../src/wechatpay/signer';
import { Verifier } from '../../src/wechatpay/verifier';
import { makeKeys, signedHeaders } from './helpers';

const keys = makeKeys();
const rotated = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ROTATED_SERIAL = 'PUB_KEY_ID_0114232134912410000000000000002';
const BODY = JSON.stringify({ auth_state: 'AUTHORIZED' });
const NOW_MS = 1_763_000_000_000;
const now = String(NOW_MS / 1000);

function verifier(): Verifier {
  return new Verifier(
    new Map([
      [keys.platformSerial, keys.platformPublic],
      [ROTATED_SERIAL, rotated.publicKey],
    ]),
    { nowMs: () => NOW_MS },
  );
}

function rejection(headers: Record<string, string>, body: string | Buffer = BODY): WechatPayVerificationError {
  try {
    verifier().verify(headers, body, 200);
  } catch (error) {
    expect(error).toBeInstanceOf(WechatPayVerificationError);
    return error as WechatPayVerificationError;
  }
  throw new Error('expected a verification failure');
}

describe('Verifier', () => {
  it('accepts a correctly signed answer, over the exact bytes (string or Buffer), headers in any case', () => {
    const headers = signedHeaders(keys, BODY, { timestamp: now });
    expect(() => verifier().verify(headers, BODY)).not.toThrow();
    expect(() => verifier().verify(headers, Buffer.from(BODY))).not.toThrow();
    const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
    expect(() => verifier().verify(lower, BODY)).not.toThrow();
  });

  it('accepts an empty body signed as such', () => {
    expect(() => verifier().verify(signedHeaders(keys, '', { timestamp: now }), '')).not.toThrow();
  });

  it.each(['Wechatpay-Timestamp', 'Wechatpay-Nonce', 'Wechatpay-Signature', 'Wechatpay-Serial'])(
    'rejects a missing %s',
    (name) => {
      const error = rejection(signedHeaders(keys, BODY, { timestamp: now, omit: [name] }));
      expect(error.reason).toBe('MISSING_HEADER');
      expect(error.message).toContain(name);
      expect(error).toMatchObject({ httpStatus: 200, retryable: true, code: 'RESPONSE_VERIFICATION_FAILED' });
    },
  );

  it('rejects a timestamp more than 300 s away, either way, and a non-numeric one', () => {
    for (const timestamp of [String(NOW_MS / 1000 - 301), String(NOW_MS / 1000 + 301), 'soon', '1e9']) {
      expect(rejection(signedHeaders(keys, BODY, { timestamp })).reason).toBe('STALE_TIMESTAMP');
    }
    expect(() =>
      verifier().verify(signedHeaders(keys, BODY, { timestamp: String(NOW_MS / 1000 - 300) }), BODY),
    ).not.toThrow();
  });

  it('rejects an unknown serial', () => {
    const error = rejection(signedHeaders(keys, BODY, { timestamp: now, serial: 'PUB_KEY_ID_OTHER' }));
    expect(error).toMatchObject({ reason: 'UNKNOWN_SERIAL', serial: 'PUB_KEY_ID_OTHER' });
  });

  it('rejects the WECHATPAY/SIGNTEST/ probe', () => {
    expect(rejection(signedHeaders(keys, BODY, { timestamp: now, signature: 'WECHATPAY/SIGNTEST/Zm9v' })).reason).toBe(
      'SIGNTEST_PROBE',
    );
  });

  it('rejects a tampered body, nonce, timestamp or signature', () => {
    const headers = signedHeaders(keys, BODY, { timestamp: now });
    expect(rejection(headers, BODY.replace('AUTHORIZED', 'UNAUTHORIZED')).reason).toBe('BAD_SIGNATURE');
    expect(rejection(headers, `${BODY} `).reason).toBe('BAD_SIGNATURE');
    expect(rejection({ ...headers, 'Wechatpay-Nonce': 'other' }).reason).toBe('BAD_SIGNATURE');
    expect(rejection({ ...headers, 'Wechatpay-Timestamp': String(NOW_MS / 1000 + 1) }).reason).toBe('BAD_SIGNATURE');
    expect(rejection({ ...headers, 'Wechatpay-Signature': 'AAAA' }).reason).toBe('BAD_SIGNATURE');
  });

  it('rejects an answer signed with another key under a known serial', () => {
    const signature = signMessage(rotated.privateKey, responseSignMessage(now, 'n', BODY));
    expect(rejection(signedHeaders(keys, BODY, { timestamp: now, nonce: 'n', signature })).reason).toBe(
      'BAD_SIGNATURE',
    );
  });

  it('holds several keys during a rotation and picks the one the serial names', () => {
    const nonce = 'rotation';
    const signature = signMessage(rotated.privateKey, responseSignMessage(now, nonce, BODY));
    expect(() =>
      verifier().verify(signedHeaders(keys, BODY, { timestamp: now, nonce, signature, serial: ROTATED_SERIAL }), BODY),
    ).not.toThrow();
    expect(() => verifier().verify(signedHeaders(keys, BODY, { timestamp: now }), BODY)).not.toThrow();
    expect(verifier().preferredSerial).toBe(keys.platformSerial);
    expect(verifier().hasSerial(ROTATED_SERIAL)).toBe(true);
  });

  it('requires at least one key', () => {
    expect(() => new Verifier({})).toThrow(/at least one/);
  });
});

const openssl = (() => {
  try {
    execFileSync('which', ['openssl'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

(openssl ? describe : describe.skip)('platform certificate as verification key (openssl)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'wxp-cert-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=Tenpay.com Root CA',
      ],
      { stdio: 'ignore' },
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('verifies answers signed by the certificate key, looked up by the certificate serial', () => {
    const certificate = loadPublicKey(readFileSync(join(dir, 'cert.pem')));
    const privateKey = loadPrivateKey(readFileSync(join(dir, 'key.pem')));
    const serial = execFileSync('openssl', ['x509', '-in', join(dir, 'cert.pem'), '-noout', '-serial'])
      .toString()
      .trim()
      .replace(/^serial=/, '');
    const v = new Verifier(
      { [serial]: certificate, [keys.platformSerial]: keys.platformPublic },
      { nowMs: () => NOW_MS },
    );
    const signature = signMessage(privateKey, responseSignMessage(now, 'c', BODY));
    const headers = signedHeaders(keys, BODY, { timestamp: now, nonce: 'c', signature, serial });
    expect(() => v.verify(headers, BODY)).not.toThrow();
    expect(() => v.verify(headers, `${BODY}x`)).toThrow(WechatPayVerificationError);
  });
});

describe('keys', () => {
  it('rejects a key that is not RSA, and one shorter than 2048 bits, without echoing it', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    });
    expect(() => loadPrivateKey(ec)).toThrow(/must be an RSA key/);
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({
      type: 'pkcs1',
      format: 'pem',
    });
    expect(() => loadPrivateKey(small)).toThrow(/at least 2048 bits/);
    let message = '';
    try {
      loadPrivateKey('-----BEGIN PRIVATE KEY-----\nSECRETSTUFF\n-----END PRIVATE KEY-----');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/not a PEM-encoded/);
    expect(message).not.toContain('SECRETSTUFF');
  });
});
