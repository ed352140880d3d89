import type { KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { VerificationKeySource } from './keySource';
import { certificateFromPem, type PlatformCertificate } from './platformCertificates';

/**
 * The keys a worker in platform-certificate mode trusts: the configured verification keys (always) and the
 * downloaded platform certificates, each only between its validFrom and validTo. A download adds certificates
 * and never removes one before it expires (WeChat Pay keeps signing with the old one for a while after a
 * rotation). Requests name the newest valid certificate in `Wechatpay-Serial`.
 */
export class PlatformCertificateStore implements VerificationKeySource {
  private readonly certs = new Map<string, PlatformCertificate>();
  private listener: ((serial: string) => void) | undefined;

  constructor(
    private readonly configured: ReadonlyMap<string, KeyObject>,
    certificates: readonly PlatformCertificate[] = [],
    private readonly nowMs: () => number = Date.now,
  ) {
    this.merge(certificates);
  }

  keyFor(serial: string): KeyObject | undefined {
    const configured = this.configured.get(serial);
    if (configured) return configured;
    const cert = this.certs.get(serial);
    return cert && this.isValid(cert) ? cert.publicKey : undefined;
  }

  preferredSerial(): string | undefined {
    let newest: PlatformCertificate | undefined;
    for (const cert of this.certs.values()) {
      if (!this.isValid(cert)) continue;
      if (
        !newest ||
        cert.validFrom > newest.validFrom ||
        (cert.validFrom === newest.validFrom && cert.validTo > newest.validTo)
      ) {
        newest = cert;
      }
    }
    return newest?.serial ?? this.configured.keys().next().value;
  }

  unknownSerial(serial: string): void {
    this.listener?.(serial);
  }

  /** One listener (the refresher): told of each answer that named a serial without a key. */
  onUnknownSerial(listener: (serial: string) => void): void {
    this.listener = listener;
  }

  /** A key to verify with exists now: a configured one, or a certificate inside its validity. */
  hasTrustedKey(): boolean {
    return this.configured.size > 0 || [...this.certs.values()].some((cert) => this.isValid(cert));
  }

  /** Adds the certificates not yet known (expired ones are ignored) and drops those that expired. */
  merge(certificates: readonly PlatformCertificate[]): { added: string[]; dropped: string[] } {
    const now = this.nowMs();
    const dropped = [...this.certs.values()].filter((cert) => cert.validTo <= now).map((cert) => cert.serial);
    for (const serial of dropped) this.certs.delete(serial);
    const added: string[] = [];
    for (const cert of certificates) {
      if (cert.validTo <= now || this.certs.has(cert.serial)) continue;
      this.certs.set(cert.serial, cert);
      added.push(cert.serial);
    }
    return { added, dropped };
  }

  /** The certificates kept (not expired), oldest first. */
  certificates(): PlatformCertificate[] {
    return [...this.certs.values()].sort((a, b) => a.validFrom - b.validFrom);
  }

  private isValid(cert: PlatformCertificate): boolean {
    const now = this.nowMs();
    return cert.validFrom <= now && now < cert.validTo;
  }
}

interface CertificateFile {
  certificates: Array<{ serial: string; validTo: string; fingerprint256: string; pem: string }>;
}

/**
 * The certificates a worker trusts across restarts (pinned by the operator, then refreshed). They are public,
 * but whoever can write this file decides what the worker trusts: it is written 0600 in a 0700 directory.
 * An absent file is an empty list; an unreadable one is an error naming the file.
 */
export function readCertificateFile(path: string): PlatformCertificate[] {
  if (!existsSync(path)) return [];
  try {
    const file = JSON.parse(readFileSync(path, 'utf8')) as CertificateFile;
    return file.certificates.map((entry) => {
      const cert = certificateFromPem(entry.pem);
      if (cert.serial !== entry.serial) throw new Error(`serial ${entry.serial} is not its certificate's`);
      return cert;
    });
  } catch (error) {
    throw new Error(`platform certificate file ${path}: ${(error as Error).message}`, { cause: error });
  }
}

export function writeCertificateFile(path: string, certificates: readonly PlatformCertificate[]): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const file: CertificateFile = {
    certificates: certificates.map((cert) => ({
      serial: cert.serial,
      validTo: new Date(cert.validTo).toISOString(),
      fingerprint256: cert.fingerprint256,
      pem: cert.pem,
    })),
  };
  const temporary = `${path}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  chmodSync(temporary, 0o600); // the mode option does not apply when the file already existed
  renameSync(temporary, path);
}
