import { LocalKeyError, LOCAL_KEY_ID, loadOrCreateLocalKey } from '../codec/localKey';
import { PayloadEncryptionCodec } from '../codec/payloadEncryption';
import { ConfigError, readSecret } from './files';
import type { ConfigFile } from './schema';

/**
 * Which payload codec client and worker share: the keys of `temporal.payloadEncryption` when configured (they win
 * everywhere); else, on the embedded default, the local key generated into the state directory (unless
 * `temporal.devServer.encryptPayloads: false`); else none, said loudly, because history then holds openids.
 */
export function resolvePayloadCodec(
  temporal: ConfigFile['temporal'],
  mode: 'embedded' | 'external',
  path: (p: string) => string,
  choices: string[],
): PayloadEncryptionCodec | undefined {
  const settings = temporal.payloadEncryption;
  if (settings) return configuredCodec(settings, path, choices);
  if (mode === 'external') {
    choices.push('temporal: payloads NOT encrypted (no temporal.payloadEncryption): history holds openids in clear');
    return undefined;
  }
  if (!temporal.devServer.encryptPayloads) {
    choices.push('temporal: payload encryption off (temporal.devServer.encryptPayloads: false)');
    return undefined;
  }
  const file = path(temporal.devServer.payloadKeyFile);
  try {
    const { key, created } = loadOrCreateLocalKey(file);
    choices.push(`temporal: payloads encrypted with the local key ${file}${created ? ' (generated now)' : ''}`);
    return new PayloadEncryptionCodec(new Map([[LOCAL_KEY_ID, key]]), LOCAL_KEY_ID);
  } catch (err) {
    if (err instanceof LocalKeyError) throw new ConfigError('temporal.devServer.payloadKeyFile', err.message);
    throw err;
  }
}

function configuredCodec(
  settings: NonNullable<ConfigFile['temporal']['payloadEncryption']>,
  path: (p: string) => string,
  choices: string[],
): PayloadEncryptionCodec {
  const all = [settings, ...(settings.previousKeys ?? [])];
  const keys = new Map(
    all.map((k, i) => {
      const key =
        i === 0 ? 'temporal.payloadEncryption.keyFile' : `temporal.payloadEncryption.previousKeys[${i - 1}].keyFile`;
      const bytes = Buffer.from(readSecret(path(k.keyFile), key), 'base64');
      if (bytes.length !== 32)
        throw new ConfigError(key, 'must hold 32 random bytes, base64 (openssl rand -base64 32)');
      return [k.keyId, bytes] as const;
    }),
  );
  choices.push(
    `temporal: payloads encrypted with key ${settings.keyId} (${keys.size - 1} older key(s) for decryption)`,
  );
  return new PayloadEncryptionCodec(keys, settings.keyId);
}
