import { paramError, SandboxError } from './errors';
import { shanghaiTimestamp } from './model';
import type { SandboxCertificate, SandboxCertificates } from './platformCertificates';

/**
 * Control operations on the sandbox's platform certificates (a sandbox invention: WeChat Pay rotates its own).
 * Reached as `sandbox.control.certificates` in process and under `/sandbox/certificates` over HTTP.
 */

export interface PlatformCertificateInfo {
  serial: string;
  certificatePath: string;
  /** RFC 3339, +08:00. */
  validFrom: string;
  validTo: string;
  /** Signs the answers to requests that name a certificate (see platformCertificates.ts). */
  signing: boolean;
}

export interface AddCertificateInput {
  /** RFC 3339; default now. */
  notBefore?: string;
  /** RFC 3339; default five years after notBefore. */
  notAfter?: string;
  /** Switch signing to the new certificate (a rotation); default true. */
  signing?: boolean;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export class CertificateControl {
  constructor(private readonly certificates: SandboxCertificates) {}

  async list(): Promise<PlatformCertificateInfo[]> {
    return this.certificates.list().map((c) => this.info(c));
  }

  /** Issues a new self-signed platform certificate and, unless `signing: false`, signs with it from now on. */
  async add(input: AddCertificateInput = {}): Promise<PlatformCertificateInfo> {
    if (typeof input !== 'object' || input === null) throw paramError('body', 'INVALID', 'a JSON object');
    const unknown = Object.keys(input).find((k) => !['notBefore', 'notAfter', 'signing'].includes(k));
    if (unknown !== undefined) throw paramError(unknown, 'INVALID', 'not a field of this operation');
    const notBefore = instant(input.notBefore, 'notBefore');
    const notAfter = instant(input.notAfter, 'notAfter');
    if (input.signing !== undefined && typeof input.signing !== 'boolean') {
      throw paramError('signing', 'INVALID', 'a boolean');
    }
    if (notBefore !== undefined && notAfter !== undefined && notAfter <= notBefore) {
      throw paramError('notAfter', 'INVALID', 'must be later than notBefore');
    }
    const cert = this.certificates.add(
      { ...(notBefore === undefined ? {} : { notBefore }), ...(notAfter === undefined ? {} : { notAfter }) },
      input.signing ?? true,
    );
    return this.info(cert);
  }

  /** Switches signing to an existing certificate (e.g. back to the old one). */
  async useForSigning(serial: string): Promise<PlatformCertificateInfo> {
    const cert = this.certificates.setSigning(serial);
    if (!cert) throw new SandboxError(404, 'RESOURCE_NOT_EXISTS', `platform certificate ${serial} does not exist`);
    return this.info(cert);
  }

  private info(cert: SandboxCertificate): PlatformCertificateInfo {
    return {
      serial: cert.serial,
      certificatePath: cert.certificatePath,
      validFrom: shanghaiTimestamp(cert.validFrom),
      validTo: shanghaiTimestamp(cert.validTo),
      signing: cert.serial === this.certificates.signing.serial,
    };
  }
}

function instant(value: unknown, field: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = typeof value === 'string' && RFC3339.test(value) ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms)) throw paramError(field, 'INVALID', 'an RFC 3339 time with its offset');
  return ms;
}
