import type { KeyObject } from 'node:crypto';
import { WechatPayVerificationError } from './errors';
import { WechatPayHttpClient, type WechatPayClientOptions, type WechatPayLogger } from './http';
import type { VerificationKeySource } from './keySource';
import { PlatformCertificateStore, writeCertificateFile } from './platformCertificateStore';
import {
  decryptCertificateDownload,
  downloadPlatformCertificates,
  PlatformCertificateError,
  type PlatformCertificate,
} from './platformCertificates';
import { type HeaderBag, Verifier } from './verifier';

/**
 * Platform-certificate mode, as the official SDKs run it (wechatpay-go's downloader manager, wechatpay-java's
 * AutoCertificateConfig), with one difference: a download is trusted only when its answer verifies with a key
 * the worker already trusts (a configured key or an earlier certificate). The very first download, with nothing
 * trusted yet, is accepted only through pinPlatformCertificates(), an explicit operator command.
 *
 * Refreshes: at start, every `refreshIntervalMs` (default 12 h), and when an answer names a serial without a key
 * (at most once per `unknownSerialCooldownMs`, default 60 s). The answer that named the unknown serial still
 * fails verification (retryable); the retry verifies with the refreshed certificate.
 */

export const DEFAULT_REFRESH_INTERVAL_MS = 12 * 60 * 60 * 1000;
export const DEFAULT_UNKNOWN_SERIAL_COOLDOWN_MS = 60_000;

export interface CertificateLogger extends WechatPayLogger {
  info(msg: string, meta?: Record<string, unknown>): void;
}

export interface PlatformCertificateSettings {
  store: PlatformCertificateStore;
  apiV3Key: Buffer;
  /** Where the kept certificates are saved after each change (absent: memory only). */
  storeFile?: string;
  refreshIntervalMs?: number;
  unknownSerialCooldownMs?: number;
  nowMs?: () => number;
}

export class PlatformCertificateRefresher {
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<{ added: string[]; dropped: string[] }> | undefined;
  private lastUnknownSerialRefreshAt = Number.NEGATIVE_INFINITY;
  private stopped = false;
  private readonly nowMs: () => number;

  constructor(
    private readonly settings: PlatformCertificateSettings,
    private readonly client: Pick<WechatPayHttpClient, 'request'>,
    private readonly logger?: CertificateLogger,
  ) {
    this.nowMs = settings.nowMs ?? Date.now;
  }

  /** Refreshes now, then on the schedule (the timer never keeps the process alive). */
  start(): void {
    if (this.stopped || this.timer) return;
    this.timer = setInterval(
      () => this.refreshInBackground('schedule'),
      this.settings.refreshIntervalMs ?? DEFAULT_REFRESH_INTERVAL_MS,
    );
    this.timer.unref();
    this.refreshInBackground('start');
  }

  /** An answer named `serial` and no key was found: refresh, unless one ran for that reason too recently. */
  refreshSoon(serial: string): void {
    if (this.stopped || this.inFlight) return;
    const now = this.nowMs();
    const cooldown = this.settings.unknownSerialCooldownMs ?? DEFAULT_UNKNOWN_SERIAL_COOLDOWN_MS;
    if (now - this.lastUnknownSerialRefreshAt < cooldown) {
      this.logger?.debug('wechatpay: unknown serial, certificates refreshed recently; not again yet', { serial });
      return;
    }
    this.lastUnknownSerialRefreshAt = now;
    this.refreshInBackground(`unknown serial ${serial}`);
  }

  /** Downloads, verifies (with the keys trusted now), keeps the new certificates; one download at a time. */
  refresh(): Promise<{ added: string[]; dropped: string[] }> {
    this.inFlight ??= this.download().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  /** Resolves when no refresh is running (tests, shutdown). */
  async whenIdle(): Promise<void> {
    await this.inFlight?.catch(() => undefined);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private refreshInBackground(reason: string): void {
    this.refresh().catch((error: unknown) => {
      if (this.stopped) return;
      // Infrastructure: the certificates kept so far stay trusted, the next trigger tries again.
      this.logger?.warn('wechatpay: platform certificate refresh failed', {
        reason,
        code: (error as { code?: unknown }).code,
        error: (error as Error).message,
      });
    });
  }

  private async download(): Promise<{ added: string[]; dropped: string[] }> {
    const { store, apiV3Key, storeFile } = this.settings;
    const downloaded = await downloadPlatformCertificates(this.client, apiV3Key);
    const change = store.merge(downloaded);
    if (change.added.length > 0 || change.dropped.length > 0) {
      if (storeFile) {
        try {
          writeCertificateFile(storeFile, store.certificates());
        } catch (error) {
          this.logger?.warn('wechatpay: could not save the platform certificates', {
            file: storeFile,
            error: (error as Error).message,
          });
        }
      }
      this.logger?.info('wechatpay: platform certificates changed', { ...change, using: store.preferredSerial() });
    }
    return change;
  }
}

/** The HTTP client of platform-certificate mode: verifies with the store, refreshes it, stops refreshing on close. */
export class PlatformCertificateClient extends WechatPayHttpClient {
  readonly certificates: PlatformCertificateRefresher;

  constructor(
    options: Omit<WechatPayClientOptions, 'verifier' | 'logger'> & { logger?: CertificateLogger },
    settings: PlatformCertificateSettings,
  ) {
    super({ ...options, verifier: new Verifier(settings.store) });
    this.certificates = new PlatformCertificateRefresher(settings, this, options.logger);
    settings.store.onUnknownSerial((serial) => this.certificates.refreshSoon(serial));
  }

  override close(): void {
    this.certificates.stop();
    super.close();
  }
}

const NOTHING_TRUSTED: VerificationKeySource = { keyFor: () => undefined, preferredSerial: () => undefined };

/**
 * Trust on first use, for pinning only: the download's answer must verify with one of the certificates it
 * carries (which only the holder of our APIv3 key could have decrypted). That proves the answer is consistent,
 * not who sent it; the operator who runs the pin command vouches for the network path (and may give the
 * expected fingerprint, as shown in the merchant platform).
 */
class SelfConsistentDownloadVerifier extends Verifier {
  constructor(private readonly apiV3Key: Buffer) {
    super(NOTHING_TRUSTED);
  }

  override verify(headers: HeaderBag, body: Buffer | string, httpStatus = 0): void {
    if (httpStatus < 200 || httpStatus >= 300) {
      // A signed error answer carries no certificate to check it with, and nothing is trusted yet.
      throw new WechatPayVerificationError(
        'UNKNOWN_SERIAL',
        `WeChat Pay answered HTTP ${httpStatus}; an error answer cannot be verified while nothing is trusted (try again)`,
        httpStatus,
      );
    }
    let data: unknown;
    try {
      data = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
    } catch {
      throw new PlatformCertificateError('CERTIFICATE_DOWNLOAD_INVALID', 'the answer is not JSON', httpStatus);
    }
    const carried = new Map<string, KeyObject>(
      decryptCertificateDownload(data, this.apiV3Key, httpStatus).map((cert) => [cert.serial, cert.publicKey]),
    );
    new Verifier(carried).verify(headers, body, httpStatus);
  }
}

export interface PinOptions {
  apiV3Key: Buffer;
  storeFile: string;
  /** SHA-256 fingerprint (`AA:BB:…`, colons and case optional) one pinned certificate must have. */
  expectFingerprint?: string;
  nowMs?: () => number;
}

/** Downloads the certificates with nothing trusted yet, checks them as above, and saves the unexpired ones. */
export async function pinPlatformCertificates(
  options: Omit<WechatPayClientOptions, 'verifier'>,
  pin: PinOptions,
): Promise<PlatformCertificate[]> {
  const client = new WechatPayHttpClient({ ...options, verifier: new SelfConsistentDownloadVerifier(pin.apiV3Key) });
  let downloaded: PlatformCertificate[];
  try {
    downloaded = await downloadPlatformCertificates(client, pin.apiV3Key);
  } finally {
    client.close();
  }
  const store = new PlatformCertificateStore(new Map(), downloaded, pin.nowMs);
  const kept = store.certificates();
  if (!store.hasTrustedKey()) {
    throw new PlatformCertificateError('PIN_REFUSED', 'the download holds no certificate valid now');
  }
  const expected = pin.expectFingerprint === undefined ? undefined : hexOnly(pin.expectFingerprint);
  if (expected !== undefined && !kept.some((cert) => hexOnly(cert.fingerprint256) === expected)) {
    throw new PlatformCertificateError(
      'PIN_REFUSED',
      `no downloaded certificate has the expected fingerprint (got ${kept.map((c) => c.fingerprint256).join(', ')})`,
    );
  }
  writeCertificateFile(pin.storeFile, kept);
  return kept;
}

function hexOnly(fingerprint: string): string {
  return fingerprint.replace(/[^0-9A-Fa-f]/g, '').toUpperCase();
}
