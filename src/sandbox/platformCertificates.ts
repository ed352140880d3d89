import { generateKeyPairSync, type KeyObject, randomBytes, randomInt, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';
import { AEAD_AES_256_GCM, aeadEncrypt } from '../wechatpay/aead';
import { loadPrivateKeyFile } from '../wechatpay/keys';
import { shanghaiTimestamp } from './model';

/**
 * The sandbox's WeChat Pay platform certificates and the merchant's APIv3 key, kept in `<dataDir>/keys/`:
 * - `apiv3_key.txt` (0600): the 32-character APIv3 key the download's certificates are encrypted with;
 * - `wxp_cert_<serial>.pem` (a real self-signed X.509 certificate, made with node-forge) and
 *   `wxp_cert_key_<serial>.pem` (0600, its private key, which signs answers);
 * - `certificates.json`: the serials in creation order and the one that signs now.
 * One certificate exists from the start; a rotation adds one and switches signing to it (control API).
 *
 * Which key signs an answer (a sandbox rule modelled on the digest: "WeChat Pay signs with the key the request's
 * Wechatpay-Serial names"): the `/v3/certificates` download is signed by the certificate the request names while
 * that one is still valid, else by the signing one; any other answer to a request naming a certificate is signed
 * by the signing certificate, so after a rotation a client meets the new serial and must refresh.
 */

export interface SandboxCertificate {
  serial: string;
  pem: string;
  certificatePath: string;
  privateKey: KeyObject;
  validFrom: number;
  validTo: number;
}

export interface NewCertificate {
  /** Default now. */
  notBefore?: number;
  /** Default five years after notBefore. */
  notAfter?: number;
}

interface Manifest {
  serials: string[];
  signing: string;
}

const FIVE_YEARS_MS = 5 * 365 * 24 * 3_600_000;
const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export class SandboxCertificates {
  private constructor(
    private readonly dir: string,
    readonly apiV3KeyPath: string,
    private readonly apiV3Key: Buffer,
    private readonly certs: SandboxCertificate[],
    private signingSerial: string,
  ) {}

  /** `dir` is the sandbox's keys directory; what is missing is generated. */
  static loadOrCreate(dir: string): SandboxCertificates {
    const apiV3KeyPath = join(dir, 'apiv3_key.txt');
    if (!existsSync(apiV3KeyPath)) writeSecret(apiV3KeyPath, randomText(32));
    const apiV3Key = Buffer.from(readFileSync(apiV3KeyPath, 'utf8').trim(), 'utf8');
    const manifestPath = join(dir, 'certificates.json');
    if (!existsSync(manifestPath)) {
      const certificates = new SandboxCertificates(dir, apiV3KeyPath, apiV3Key, [], '');
      certificates.add();
      return certificates;
    }
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest;
    const certs = manifest.serials.map((serial) => loadCertificate(dir, serial));
    return new SandboxCertificates(dir, apiV3KeyPath, apiV3Key, certs, manifest.signing);
  }

  list(): readonly SandboxCertificate[] {
    return this.certs;
  }

  get signing(): SandboxCertificate {
    return this.certs.find((c) => c.serial === this.signingSerial) as SandboxCertificate;
  }

  /** Issues a certificate and switches signing to it unless `signing` is false. */
  add(input: NewCertificate = {}, signing = true): SandboxCertificate {
    const notBefore = input.notBefore ?? Date.now();
    const notAfter = input.notAfter ?? notBefore + FIVE_YEARS_MS;
    if (!(notAfter > notBefore)) throw new Error('notAfter must be later than notBefore');
    // 20 bytes, the first below 0x80 and not zero: a positive serial of 40 hex digits, as WeChat Pay's are.
    const serial = `${randomInt(1, 8)}${randomBytes(20).toString('hex').slice(1)}`.toUpperCase();
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = selfSignedCertificate(serial, privateKey, publicKey, notBefore, notAfter);
    writeSecret(join(this.dir, `wxp_cert_key_${serial}.pem`), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(join(this.dir, `wxp_cert_${serial}.pem`), pem, { mode: 0o644 });
    const cert = loadCertificate(this.dir, serial);
    this.certs.push(cert);
    if (signing || this.signingSerial === '') this.signingSerial = serial;
    this.save();
    return cert;
  }

  setSigning(serial: string): SandboxCertificate | undefined {
    const cert = this.certs.find((c) => c.serial === serial);
    if (!cert) return undefined;
    this.signingSerial = serial;
    this.save();
    return cert;
  }

  /** See the rule above; undefined when the request named no certificate and is not the download. */
  signerFor(requestedSerial: string | undefined, isDownload: boolean, nowMs: number): SandboxCertificate | undefined {
    const named = this.certs.find((c) => c.serial === requestedSerial && c.validFrom <= nowMs && nowMs < c.validTo);
    if (isDownload) return named ?? this.signing;
    return named ? this.signing : undefined;
  }

  /** The `/v3/certificates` answer: every certificate not yet expired, each encrypted with the APIv3 key. */
  downloadAnswer(nowMs: number): { data: unknown[] } {
    return {
      data: this.certs
        .filter((c) => nowMs < c.validTo)
        .map((c) => {
          const nonce = randomText(12);
          return {
            serial_no: c.serial,
            effective_time: shanghaiTimestamp(c.validFrom),
            expire_time: shanghaiTimestamp(c.validTo),
            encrypt_certificate: {
              algorithm: AEAD_AES_256_GCM,
              nonce,
              associated_data: 'certificate',
              ciphertext: aeadEncrypt(this.apiV3Key, c.pem, nonce, 'certificate'),
            },
          };
        }),
    };
  }

  private save(): void {
    const manifest: Manifest = { serials: this.certs.map((c) => c.serial), signing: this.signingSerial };
    const file = join(this.dir, 'certificates.json');
    writeFileSync(`${file}.tmp`, JSON.stringify(manifest, null, 2));
    renameSync(`${file}.tmp`, file);
  }
}

function selfSignedCertificate(
  serial: string,
  privateKey: KeyObject,
  publicKey: KeyObject,
  notBefore: number,
  notAfter: number,
): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = serial;
  cert.validity.notBefore = new Date(notBefore);
  cert.validity.notAfter = new Date(notAfter);
  const name = [
    { shortName: 'C', value: 'CN' },
    { shortName: 'O', value: 'WeChat Pay sandbox' },
    { shortName: 'CN', value: 'Sandbox platform certificate' },
  ];
  cert.setSubject(name);
  cert.setIssuer(name);
  const signer = forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  cert.sign(signer as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

function loadCertificate(dir: string, serial: string): SandboxCertificate {
  const certificatePath = join(dir, `wxp_cert_${serial}.pem`);
  const pem = readFileSync(certificatePath, 'utf8');
  const x509 = new X509Certificate(pem);
  return {
    serial,
    pem,
    certificatePath,
    privateKey: loadPrivateKeyFile(join(dir, `wxp_cert_key_${serial}.pem`)),
    validFrom: Date.parse(x509.validFrom),
    validTo: Date.parse(x509.validTo),
  };
}

function writeSecret(path: string, content: string | Buffer): void {
  writeFileSync(path, content, { mode: 0o600 });
  chmodSync(path, 0o600); // the mode option does not apply when the file already existed
}

function randomText(length: number): string {
  return Array.from({ length }, () => ALPHANUMERIC[randomInt(ALPHANUMERIC.length)]).join('');
}
