import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';

/**
 * Encryption of every payload Temporal stores (workflow inputs such as the plan with the user's openid, results,
 * signals, queries), AES-256-GCM with a random 96-bit IV per payload: on by default on the embedded dev server
 * (a generated local key), with configured keys elsewhere. The server, its history and the Web UI then see
 * ciphertext only; the client, the worker and the codec server, which hold the key, see the values. Keys are named
 * so that they can rotate: new payloads use the current key, old ones decrypt with the key they name.
 */

export const ENCRYPTED_ENCODING = 'binary/encrypted';
const KEY_ID = 'encryption-key-id';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class PayloadDecryptionError extends Error {
  override readonly name = 'PayloadDecryptionError';
  readonly code = 'PAYLOAD_DECRYPTION_FAILED';
  readonly retryable = false;
}

export class PayloadEncryptionCodec implements PayloadCodec {
  private readonly current: { id: string; key: Buffer };

  constructor(
    private readonly keys: ReadonlyMap<string, Buffer>,
    currentKeyId: string,
  ) {
    for (const [id, key] of keys) {
      if (key.length !== 32)
        throw new Error(`payload encryption key ${id}: must be 32 bytes (AES-256), got ${key.length}`);
    }
    const key = keys.get(currentKeyId);
    if (!key) throw new Error(`payload encryption: no key with id ${currentKeyId}`);
    this.current = { id: currentKeyId, key };
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
      const sealed = Buffer.concat([cipher.update(serialize(payload)), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: { encoding: Buffer.from(ENCRYPTED_ENCODING), [KEY_ID]: Buffer.from(this.current.id) },
        data: Buffer.concat([iv, sealed]),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (text(payload.metadata?.encoding) !== ENCRYPTED_ENCODING) return payload;
      const id = text(payload.metadata?.[KEY_ID]);
      const key = id === undefined ? undefined : this.keys.get(id);
      if (!key) throw new PayloadDecryptionError(`payload encrypted with unknown key id ${id ?? '(none)'}`);
      const data = Buffer.from(payload.data ?? []);
      if (data.length < IV_BYTES + TAG_BYTES) throw new PayloadDecryptionError('encrypted payload too short');
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
        decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
        const plain = Buffer.concat([
          decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
          decipher.final(),
        ]);
        return deserialize(plain);
      } catch {
        throw new PayloadDecryptionError(`encrypted payload failed authentication (key id ${id})`);
      }
    });
  }
}

/** A payload as JSON with base64 fields: metadata and data survive byte for byte. */
function serialize(payload: Payload): Buffer {
  const metadata = Object.fromEntries(
    Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')]),
  );
  return Buffer.from(JSON.stringify({ metadata, data: Buffer.from(payload.data ?? []).toString('base64') }));
}

function deserialize(bytes: Buffer): Payload {
  const parsed = JSON.parse(bytes.toString('utf8')) as { metadata: Record<string, string>; data: string };
  return {
    metadata: Object.fromEntries(Object.entries(parsed.metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    data: Buffer.from(parsed.data, 'base64'),
  };
}

function text(value: Uint8Array | null | undefined): string | undefined {
  return value ? Buffer.from(value).toString('utf8') : undefined;
}
