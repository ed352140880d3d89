import { Aes } from 'wechatpay-axios-plugin';
import { AeadDecryptionError, aeadDecrypt, aeadEncrypt, apiV3KeyBytes } from '../../src/wechatpay/aead';
import { everythingIn } from './helpers';

/**
 * AEAD_AES_256_GCM with the APIv3 key. The known answer was computed with Java's own GCM (SunJCE,
 * `AES/GCM/NoPadding`, 128-bit tag) from the same key, nonce, associated data and text; wechatpay-axios-plugin
 * is a second implementation of WeChat Pay's framing (base64 of ciphertext‖tag, string nonce and AAD).
 */

const KEY = Buffer.from('SandboxAPIv3Key0123456789abcdefg', 'utf8');
const NONCE = '4f0a2b6c8d1e';
const AAD = 'certificate';
const PLAINTEXT = '平台证书 platform certificate';
const JAVA_CIPHERTEXT = 'GxZa7xZqHKC/+7M2t+x26iOp8A+47FqSYPJK971vewRgmT4I/p+Vvb2FJ6R6Er5Rvg==';

describe('AEAD_AES_256_GCM', () => {
  it('opens the known answer computed by another implementation, and seals to the same bytes', () => {
    expect(aeadDecrypt(KEY, { ciphertext: JAVA_CIPHERTEXT, nonce: NONCE, associatedData: AAD }).toString()).toBe(
      PLAINTEXT,
    );
    expect(aeadEncrypt(KEY, PLAINTEXT, NONCE, AAD)).toBe(JAVA_CIPHERTEXT);
  });

  it('interoperates with wechatpay-axios-plugin in both directions', () => {
    const theirs = Aes.AesGcm.encrypt('-----BEGIN CERTIFICATE-----', KEY.toString(), 'abcdefghijkl', AAD);
    expect(aeadDecrypt(KEY, { ciphertext: theirs, nonce: 'abcdefghijkl', associatedData: AAD }).toString()).toBe(
      '-----BEGIN CERTIFICATE-----',
    );
    const ours = aeadEncrypt(KEY, 'ours', 'abcdefghijkl', '');
    expect(Aes.AesGcm.decrypt(ours, KEY.toString(), 'abcdefghijkl', '')).toBe('ours');
  });

  it.each<[string, { key?: Buffer; nonce?: string; associatedData?: string; ciphertext?: string }]>([
    ['another key', { key: Buffer.from('X'.repeat(32)) }],
    ['another nonce', { nonce: '000000000000' }],
    ['other associated data', { associatedData: 'transaction' }],
    ['a flipped ciphertext byte', { ciphertext: flipFirstByte(JAVA_CIPHERTEXT) }],
    ['a truncated tag', { ciphertext: Buffer.from(JAVA_CIPHERTEXT, 'base64').subarray(0, -1).toString('base64') }],
    ['text that is not base64', { ciphertext: 'not base64!' }],
  ])('refuses %s with AeadDecryptionError', (_what, change) => {
    const { key, ...fields } = change;
    const envelope = { ciphertext: JAVA_CIPHERTEXT, nonce: NONCE, associatedData: AAD, ...fields };
    let caught: unknown;
    try {
      aeadDecrypt(key ?? KEY, envelope);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(AeadDecryptionError);
    expect(everythingIn(caught)).not.toContain(KEY.toString());
  });

  it('wants a 32-byte key and never shows it', () => {
    expect(() => apiV3KeyBytes('short-key-1234')).toThrow(/must be 32 bytes/);
    expect(() => apiV3KeyBytes('short-key-1234')).not.toThrow(/short-key/);
    expect(apiV3KeyBytes(KEY.toString())).toEqual(KEY);
  });
});

function flipFirstByte(b64: string): string {
  const bytes = Buffer.from(b64, 'base64');
  bytes[0] = (bytes[0] as number) ^ 1;
  return bytes.toString('base64');
}
