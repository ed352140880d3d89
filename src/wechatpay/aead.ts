import { createCipheriv, createDecipheriv } from 'node:crypto';

/**
 * AEAD_AES_256_GCM as WeChat Pay uses it for the platform-certificate download (and notifications): the key is
 * the merchant's APIv3 key (32 characters, used as its bytes), the nonce and associated data are strings used as
 * their UTF-8 bytes, and `ciphertext` is base64 of the encrypted bytes followed by the 16-byte tag.
 */

export const AEAD_AES_256_GCM = 'AEAD_AES_256_GCM';
export const APIV3_KEY_BYTES = 32;
const TAG_BYTES = 16;

export interface AeadEnvelope {
  /** Base64: encrypted bytes, then the 16-byte authentication tag. */
  ciphertext: string;
  nonce: string;
  associatedData: string;
}

/** A ciphertext that could not be opened: wrong key, tampered bytes, bad encoding. Never carries the key. */
export class AeadDecryptionError extends Error {
  override readonly name = 'AeadDecryptionError';
}

/** Checks the APIv3 key's shape; the error never includes the key. */
export function apiV3KeyBytes(key: string | Buffer): Buffer {
  const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  if (bytes.length !== APIV3_KEY_BYTES) {
    throw new Error(`APIv3 key: must be ${APIV3_KEY_BYTES} bytes (the 32 characters set in the merchant platform)`);
  }
  return bytes;
}

export function aeadDecrypt(apiV3Key: Buffer, envelope: AeadEnvelope): Buffer {
  const key = apiV3KeyBytes(apiV3Key);
  const sealed = Buffer.from(envelope.ciphertext, 'base64');
  if (sealed.length <= TAG_BYTES || sealed.toString('base64') !== envelope.ciphertext.replace(/\s/g, '')) {
    throw new AeadDecryptionError('ciphertext is not base64 of encrypted bytes and a 16-byte tag');
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(envelope.nonce, 'utf8'));
    decipher.setAAD(Buffer.from(envelope.associatedData, 'utf8'));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]);
  } catch {
    throw new AeadDecryptionError('authentication failed: wrong APIv3 key, or the ciphertext was altered');
  }
}

/** The sandbox's side (and tests): seals `plaintext` the way WeChat Pay does. */
export function aeadEncrypt(
  apiV3Key: Buffer,
  plaintext: Buffer | string,
  nonce: string,
  associatedData: string,
): string {
  const cipher = createCipheriv('aes-256-gcm', apiV3KeyBytes(apiV3Key), Buffer.from(nonce, 'utf8'));
  cipher.setAAD(Buffer.from(associatedData, 'utf8'));
  const encrypted = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return encrypted.toString('base64');
}
