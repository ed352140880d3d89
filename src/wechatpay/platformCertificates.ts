import { type KeyObject, X509Certificate } from 'node:crypto';
import { AEAD_AES_256_GCM, aeadDecrypt } from './aead';
import { WechatPayError } from './errors';
import type { WechatPayHttpClient } from './http';
import { loadPublicKey } from './keys';

/**
 * WeChat Pay platform certificates: `GET /v3/certificates` lists them, each PEM encrypted with the merchant's
 * APIv3 key (AEAD_AES_256_GCM). This module decrypts and parses one download; trusting it (the answer's
 * signature) is the HTTP client's verifier's job, keeping the certificates is platformCertificateStore.ts's.
 */

export const CERTIFICATES_PATH = '/v3/certificates';

export interface PlatformCertificate {
  /** Upper-case hex, as WeChat Pay writes it in `serial_no` and `Wechatpay-Serial`. */
  serial: string;
  pem: string;
  publicKey: KeyObject;
  /** Ms since epoch. */
  validFrom: number;
  validTo: number;
  /** SHA-256 of the DER, `AA:BB:…`, for an operator to compare with the merchant platform. */
  fingerprint256: string;
}

export type PlatformCertificateErrorCode = 'CERTIFICATE_DOWNLOAD_INVALID' | 'NO_TRUSTED_KEY' | 'PIN_REFUSED';

/**
 * A download that cannot be used (not decryptable with our APIv3 key, not a certificate, serials that disagree),
 * no key to trust a download with, or a pin the operator's expectation refused. Always infrastructure or
 * configuration, never evidence about a contract.
 */
export class PlatformCertificateError extends WechatPayError {
  override readonly name = 'PlatformCertificateError';
  readonly code: PlatformCertificateErrorCode;
  readonly httpStatus: number;
  readonly retryable: boolean;

  constructor(code: PlatformCertificateErrorCode, message: string, httpStatus = 0) {
    super(message);
    this.code = code;
    this.httpStatus = httpStatus;
    this.retryable = code === 'CERTIFICATE_DOWNLOAD_INVALID';
  }
}

/** Upper-case hex without leading zero bytes: the same serial however a tool printed it. */
export function normalizeSerial(serial: string): string {
  return serial
    .trim()
    .toUpperCase()
    .replace(/^(00)+(?=.)/, '');
}

/** Parses one PEM certificate (RSA, at least 2048 bits). */
export function certificateFromPem(pem: string): PlatformCertificate {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(pem);
  } catch {
    throw new Error('not a PEM X.509 certificate');
  }
  const validFrom = Date.parse(x509.validFrom);
  const validTo = Date.parse(x509.validTo);
  if (!Number.isFinite(validFrom) || !Number.isFinite(validTo)) throw new Error('unreadable validity dates');
  return {
    serial: normalizeSerial(x509.serialNumber),
    pem: x509.toString(),
    publicKey: loadPublicKey(pem),
    validFrom,
    validTo,
    fingerprint256: x509.fingerprint256,
  };
}

interface RawCertificate {
  serial_no?: unknown;
  encrypt_certificate?: { algorithm?: unknown; nonce?: unknown; associated_data?: unknown; ciphertext?: unknown };
}

/** The certificates of a `/v3/certificates` answer body (already parsed JSON), decrypted and parsed. */
export function decryptCertificateDownload(data: unknown, apiV3Key: Buffer, httpStatus = 200): PlatformCertificate[] {
  const invalid = (problem: string) =>
    new PlatformCertificateError('CERTIFICATE_DOWNLOAD_INVALID', `${CERTIFICATES_PATH}: ${problem}`, httpStatus);
  const list = (data as { data?: unknown } | undefined)?.data;
  if (!Array.isArray(list) || list.length === 0) throw invalid('the answer lists no certificate');
  return list.map((item: RawCertificate, i) => {
    const sealed = item?.encrypt_certificate;
    if (
      typeof item?.serial_no !== 'string' ||
      typeof sealed?.ciphertext !== 'string' ||
      typeof sealed.nonce !== 'string' ||
      typeof sealed.associated_data !== 'string'
    ) {
      throw invalid(`data[${i}] lacks serial_no or encrypt_certificate.{ciphertext, nonce, associated_data}`);
    }
    if (sealed.algorithm !== AEAD_AES_256_GCM) {
      throw invalid(
        `data[${i}].encrypt_certificate.algorithm is ${JSON.stringify(sealed.algorithm)}, not AEAD_AES_256_GCM`,
      );
    }
    let certificate: PlatformCertificate;
    try {
      const pem = aeadDecrypt(apiV3Key, {
        ciphertext: sealed.ciphertext,
        nonce: sealed.nonce,
        associatedData: sealed.associated_data,
      });
      certificate = certificateFromPem(pem.toString('utf8'));
    } catch (error) {
      throw invalid(`data[${i}]: ${(error as Error).message}`);
    }
    if (certificate.serial !== normalizeSerial(item.serial_no)) {
      throw invalid(`data[${i}]: serial_no ${item.serial_no} is not the serial of its certificate`);
    }
    return certificate;
  });
}

/** One signed `GET /v3/certificates` through `client` (whose verifier decides whom to trust), decrypted. */
export async function downloadPlatformCertificates(
  client: Pick<WechatPayHttpClient, 'request'>,
  apiV3Key: Buffer,
): Promise<PlatformCertificate[]> {
  const answer = await client.request<unknown>({ method: 'GET', path: CERTIFICATES_PATH });
  return decryptCertificateDownload(answer.data, apiV3Key, answer.httpStatus);
}
