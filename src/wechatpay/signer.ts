import { type KeyObject, randomBytes, sign as rsaSign, verify as rsaVerify } from 'node:crypto';

/**
 * WECHATPAY2-SHA256-RSA2048 signing, shared by the client (requests) and the sandbox (answers).
 * SHA256withRSA, PKCS#1 v1.5, base64. See docs/wechatpay-api.md, "Signing a request".
 */

export const AUTH_SCHEMA = 'WECHATPAY2-SHA256-RSA2048';

export interface MerchantSigningKey {
  mchid: string;
  /** Serial number of the merchant API certificate (`serial_no` in the Authorization header). */
  serialNo: string;
  privateKey: KeyObject;
}

export interface AuthorizationParams {
  mchid: string;
  nonce_str: string;
  timestamp: string;
  serial_no: string;
  signature: string;
}

/** `HTTP_METHOD\nCANONICAL_URL\nTIMESTAMP\nNONCE\nBODY\n`: the message a request signs. */
export function requestSignMessage(
  method: string,
  canonicalUrl: string,
  timestamp: string,
  nonce: string,
  body: string,
): string {
  return `${method.toUpperCase()}\n${canonicalUrl}\n${timestamp}\n${nonce}\n${body}\n`;
}

/**
 * `TIMESTAMP\nNONCE\nBODY\n`: the message an answer (or a notification) signs, as bytes. A Buffer body goes in
 * byte for byte: decoding it first would turn invalid UTF-8 into U+FFFD and verify something else than was sent.
 */
export function responseSignMessage(timestamp: string, nonce: string, body: Buffer | string): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return Buffer.concat([Buffer.from(`${timestamp}\n${nonce}\n`, 'utf8'), bytes, Buffer.from('\n')]);
}

/** A string message is signed as its UTF-8 bytes. */
export function signMessage(privateKey: KeyObject, message: Buffer | string): string {
  return rsaSign('sha256', toBytes(message), privateKey).toString('base64');
}

/**
 * Same signature as signMessage, computed on libuv's thread pool: RSA-2048 signing is the client's main
 * cost (about 1 ms), and doing it off the event loop lets concurrent requests use every core.
 */
export function signMessageAsync(privateKey: KeyObject, message: string): Promise<string> {
  return new Promise((resolve, reject) => {
    rsaSign('sha256', Buffer.from(message, 'utf8'), privateKey, (error, signature) => {
      if (error) reject(error);
      else resolve(signature.toString('base64'));
    });
  });
}

export function verifyMessage(publicKey: KeyObject, message: Buffer | string, signatureB64: string): boolean {
  const signature = Buffer.from(signatureB64, 'base64');
  if (signature.length === 0) return false;
  try {
    return rsaVerify('sha256', toBytes(message), publicKey, signature);
  } catch {
    return false;
  }
}

function toBytes(message: Buffer | string): Buffer {
  return typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
}

/** 32 characters of [0-9A-Za-z]-ish randomness (base64url without padding, filtered). */
export function newNonce(): string {
  return randomBytes(24).toString('base64url').replace(/[-_]/g, 'x').slice(0, 32);
}

export function unixSeconds(nowMs: number = Date.now()): string {
  return Math.floor(nowMs / 1000).toString();
}

/** Builds the Authorization header for one request. `canonicalUrl` is path + query exactly as sent. */
export function buildAuthorization(
  key: MerchantSigningKey,
  method: string,
  canonicalUrl: string,
  body: string,
  timestamp: string = unixSeconds(),
  nonce: string = newNonce(),
): string {
  const signature = signMessage(key.privateKey, requestSignMessage(method, canonicalUrl, timestamp, nonce, body));
  return formatAuthorization(key, timestamp, nonce, signature);
}

/** buildAuthorization with the signature computed off the event loop (see signMessageAsync). */
export async function buildAuthorizationAsync(
  key: MerchantSigningKey,
  method: string,
  canonicalUrl: string,
  body: string,
  timestamp: string = unixSeconds(),
  nonce: string = newNonce(),
): Promise<string> {
  const signature = await signMessageAsync(
    key.privateKey,
    requestSignMessage(method, canonicalUrl, timestamp, nonce, body),
  );
  return formatAuthorization(key, timestamp, nonce, signature);
}

function formatAuthorization(key: MerchantSigningKey, timestamp: string, nonce: string, signature: string): string {
  return (
    `${AUTH_SCHEMA} mchid="${key.mchid}",nonce_str="${nonce}",timestamp="${timestamp}",` +
    `serial_no="${key.serialNo}",signature="${signature}"`
  );
}

/**
 * Parses an Authorization header (server side: the sandbox). The five pairs may come in any order;
 * returns undefined when the schema is wrong, a pair is malformed or missing, or one is repeated.
 */
export function parseAuthorization(header: string): AuthorizationParams | undefined {
  const prefix = `${AUTH_SCHEMA} `;
  if (!header.startsWith(prefix)) return undefined;
  const params: Partial<Record<keyof AuthorizationParams, string>> = {};
  const wanted = new Set<string>(['mchid', 'nonce_str', 'timestamp', 'serial_no', 'signature']);
  for (const pair of header.slice(prefix.length).split(',')) {
    const match = /^\s*([a-z_]+)="([^"]*)"\s*$/.exec(pair);
    if (!match) return undefined;
    const [, name, value] = match as unknown as [string, keyof AuthorizationParams, string];
    if (!wanted.has(name) || params[name] !== undefined) return undefined;
    params[name] = value;
  }
  if (Object.keys(params).length !== wanted.size) return undefined;
  return params as AuthorizationParams;
}
