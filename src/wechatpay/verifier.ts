import type { KeyObject } from 'node:crypto';
import { WechatPayVerificationError } from './errors';
import { isVerificationKeySource, StaticKeySource, type VerificationKeySource } from './keySource';
import { responseSignMessage, verifyMessage } from './signer';

/** WeChat Pay sends answers with such a signature to check that merchants really verify. */
export const SIGNTEST_PREFIX = 'WECHATPAY/SIGNTEST/';
export const DEFAULT_MAX_SKEW_SECONDS = 300;

export type HeaderBag = Record<string, string | string[] | number | undefined | null>;

export interface VerifierOptions {
  /** Accepted |now - Wechatpay-Timestamp| in seconds. */
  maxSkewSeconds?: number;
  /** Clock, for tests. */
  nowMs?: () => number;
}

/**
 * Verifies WeChat Pay answers (and notifications) against a set of verification keys, looked up by
 * `Wechatpay-Serial`: WeChat Pay public key ids (`PUB_KEY_ID_…`) and platform certificate serials.
 * Several keys may be active at once during a rotation. The keys are a fixed map, or a source that changes
 * (downloaded platform certificates); a serial without a key is reported to the source (it may refresh).
 */
export class Verifier {
  private readonly keys: VerificationKeySource;
  private readonly maxSkewSeconds: number;
  private readonly nowMs: () => number;

  constructor(
    keys: VerificationKeySource | ReadonlyMap<string, KeyObject> | Record<string, KeyObject>,
    options: VerifierOptions = {},
  ) {
    if (isVerificationKeySource(keys)) {
      this.keys = keys;
    } else {
      const fixed = new StaticKeySource(keys);
      if (fixed.size === 0) throw new Error('Verifier: at least one WeChat Pay verification key is required');
      this.keys = fixed;
    }
    this.maxSkewSeconds = options.maxSkewSeconds ?? DEFAULT_MAX_SKEW_SECONDS;
    this.nowMs = options.nowMs ?? Date.now;
  }

  /** The serial the client names in its `Wechatpay-Serial` request header (empty when no key is trusted). */
  get preferredSerial(): string {
    return this.keys.preferredSerial() ?? '';
  }

  hasSerial(serial: string): boolean {
    return this.keys.keyFor(serial) !== undefined;
  }

  /**
   * Throws WechatPayVerificationError unless the answer is authentic. `body` is the exact bytes
   * received, before any parsing (verified byte for byte, never re-decoded).
   */
  verify(headers: HeaderBag, body: Buffer | string, httpStatus = 0): void {
    const timestamp = header(headers, 'wechatpay-timestamp');
    const nonce = header(headers, 'wechatpay-nonce');
    const signature = header(headers, 'wechatpay-signature');
    const serial = header(headers, 'wechatpay-serial');
    if (!timestamp || !nonce || !signature || !serial) {
      const missing = [
        ['Wechatpay-Timestamp', timestamp],
        ['Wechatpay-Nonce', nonce],
        ['Wechatpay-Signature', signature],
        ['Wechatpay-Serial', serial],
      ]
        .filter(([, v]) => !v)
        .map(([n]) => n)
        .join(', ');
      throw new WechatPayVerificationError('MISSING_HEADER', `missing ${missing}`, httpStatus, serial);
    }
    if (signature.startsWith(SIGNTEST_PREFIX)) {
      throw new WechatPayVerificationError(
        'SIGNTEST_PROBE',
        'probe signature (WECHATPAY/SIGNTEST/)',
        httpStatus,
        serial,
      );
    }
    const ts = /^\d{1,12}$/.test(timestamp) ? Number(timestamp) : NaN;
    const skew = Math.abs(this.nowMs() / 1000 - ts);
    if (!Number.isFinite(skew) || skew > this.maxSkewSeconds) {
      throw new WechatPayVerificationError(
        'STALE_TIMESTAMP',
        `Wechatpay-Timestamp ${JSON.stringify(timestamp.slice(0, 20))} is more than ${this.maxSkewSeconds}s from now`,
        httpStatus,
        serial,
      );
    }
    const key = this.keys.keyFor(serial);
    if (!key) {
      this.keys.unknownSerial?.(serial);
      throw new WechatPayVerificationError(
        'UNKNOWN_SERIAL',
        `no verification key for serial ${serial}`,
        httpStatus,
        serial,
      );
    }
    if (!verifyMessage(key, responseSignMessage(timestamp, nonce, body), signature)) {
      throw new WechatPayVerificationError('BAD_SIGNATURE', 'signature does not match the answer', httpStatus, serial);
    }
  }
}

const SIGNATURE_HEADERS = ['wechatpay-timestamp', 'wechatpay-nonce', 'wechatpay-signature', 'wechatpay-serial'];

/** Whether an answer carries any of WeChat Pay's signature headers, i.e. claims to be signed and must verify. */
export function carriesSignature(headers: HeaderBag): boolean {
  return SIGNATURE_HEADERS.some((name) => header(headers, name) !== undefined);
}

function header(headers: HeaderBag, lowerName: string): string | undefined {
  let value = headers[lowerName];
  if (value === undefined) {
    const found = Object.keys(headers).find((k) => k.toLowerCase() === lowerName);
    value = found === undefined ? undefined : headers[found];
  }
  if (Array.isArray(value)) value = value[0];
  if (value === undefined || value === null) return undefined;
  return String(value);
}
