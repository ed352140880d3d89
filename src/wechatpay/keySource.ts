import type { KeyObject } from 'node:crypto';

/**
 * Where the Verifier finds WeChat Pay's keys. A fixed map (public-key mode: `PUB_KEY_ID_…` keys listed in the
 * configuration), or a source that changes while the worker runs (platform-certificate mode: certificates
 * downloaded and refreshed, see platformCertificateStore.ts).
 */
export interface VerificationKeySource {
  /** The key trusted for this `Wechatpay-Serial` now, or undefined (unknown, expired). */
  keyFor(serial: string): KeyObject | undefined;
  /** The serial a request names in its `Wechatpay-Serial` header; undefined when no key is trusted. */
  preferredSerial(): string | undefined;
  /** Told when an answer named a serial without a key, e.g. to refresh the platform certificates. */
  unknownSerial?(serial: string): void;
}

export function isVerificationKeySource(value: unknown): value is VerificationKeySource {
  return typeof (value as Partial<VerificationKeySource> | undefined)?.keyFor === 'function';
}

/** The configured keys, in configuration order: the first is the one requests name. */
export class StaticKeySource implements VerificationKeySource {
  private readonly keys: ReadonlyMap<string, KeyObject>;

  constructor(keys: ReadonlyMap<string, KeyObject> | Record<string, KeyObject>) {
    this.keys = keys instanceof Map ? new Map(keys) : new Map(Object.entries(keys));
  }

  get size(): number {
    return this.keys.size;
  }

  keyFor(serial: string): KeyObject | undefined {
    return this.keys.get(serial);
  }

  preferredSerial(): string | undefined {
    return this.keys.keys().next().value;
  }
}
