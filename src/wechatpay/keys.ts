import { createPrivateKey, createPublicKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * Loads a merchant API private key from PEM: PKCS#8 (`BEGIN PRIVATE KEY`, what WeChat Pay's
 * certificate tool writes to apiclient_key.pem) or PKCS#1 (`BEGIN RSA PRIVATE KEY`).
 * The error never includes the key material.
 */
export function loadPrivateKey(pem: string | Buffer): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw new Error('merchant private key: not a PEM-encoded PKCS#8 or PKCS#1 private key');
  }
  assertRsa2048(key, 'merchant private key');
  return key;
}

/**
 * Loads a WeChat Pay verification key from PEM: a WeChat Pay public key (`BEGIN PUBLIC KEY`,
 * wxp_pub.pem) or a platform certificate (`BEGIN CERTIFICATE`).
 */
export function loadPublicKey(pem: string | Buffer): KeyObject {
  const text = pem.toString();
  let key: KeyObject;
  try {
    key = text.includes('BEGIN CERTIFICATE')
      ? new X509Certificate(text).publicKey
      : createPublicKey({ key: text, format: 'pem' });
  } catch {
    throw new Error('WeChat Pay verification key: not a PEM public key or X.509 certificate');
  }
  assertRsa2048(key, 'WeChat Pay verification key');
  return key;
}

export function loadPrivateKeyFile(path: string): KeyObject {
  return loadPrivateKey(readFileSync(path));
}

export function loadPublicKeyFile(path: string): KeyObject {
  return loadPublicKey(readFileSync(path));
}

function assertRsa2048(key: KeyObject, what: string): void {
  if (key.asymmetricKeyType !== 'rsa') {
    throw new Error(`${what}: must be an RSA key, got ${key.asymmetricKeyType ?? 'unknown'}`);
  }
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (bits !== undefined && bits < 2048) {
    throw new Error(`${what}: must be at least 2048 bits, got ${bits}`);
  }
}
