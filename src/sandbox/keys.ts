import { createPublicKey, generateKeyPairSync, type KeyObject, randomBytes, randomInt } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadPrivateKeyFile, loadPublicKeyFile } from '../wechatpay/keys';
import { SandboxCertificates } from './platformCertificates';

/**
 * The sandbox's keys, generated on first start into `<dataDir>/keys/` and reused afterwards:
 * - the merchant API key the sandbox trusts (`apiclient_key.pem`, PKCS#8) and its certificate serial;
 * - WeChat Pay platform keys (`PUB_KEY_ID_…`), each a private key the sandbox signs answers with and a public
 *   `wxp_pub_<id>.pem` a worker verifies them with. Two exist from the start so that rotations can be tested.
 * `keys.json` lists them with their active flag. Private key files are written with mode 0600.
 * The platform certificates and the APIv3 key (platform-certificate mode) live beside them: platformCertificates.ts.
 */

export interface MerchantKey {
  serialNo: string;
  privateKeyPath: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** What signs an answer: a platform key (`PUB_KEY_ID_…`) or a platform certificate (its serial). */
export interface AnswerSigner {
  id: string;
  privateKey: KeyObject;
}

export interface PlatformKey {
  id: string;
  publicKeyPath: string;
  publicKey: KeyObject;
  privateKey: KeyObject;
  active: boolean;
}

interface KeysManifest {
  merchantSerialNo: string;
  platformKeys: Array<{ id: string; active: boolean }>;
}

const INITIAL_PLATFORM_KEYS = 2;

export class SandboxKeys {
  readonly merchant: MerchantKey;
  readonly certificates: SandboxCertificates;
  private readonly platform: PlatformKey[];

  private constructor(
    private readonly dir: string,
    merchant: MerchantKey,
    platform: PlatformKey[],
  ) {
    this.merchant = merchant;
    this.platform = platform;
    this.certificates = SandboxCertificates.loadOrCreate(dir);
  }

  static loadOrCreate(dataDir: string): SandboxKeys {
    const dir = resolve(dataDir, 'keys');
    mkdirSync(dir, { recursive: true });
    const manifestPath = join(dir, 'keys.json');
    if (!existsSync(manifestPath)) {
      const merchantKey = generateRsaKeyPair();
      writePrivatePem(join(dir, 'apiclient_key.pem'), merchantKey.privatePem);
      const manifest: KeysManifest = {
        merchantSerialNo: randomBytes(20).toString('hex').toUpperCase(),
        platformKeys: [],
      };
      const keys = new SandboxKeys(dir, loadMerchant(dir, manifest.merchantSerialNo), []);
      for (let i = 0; i < INITIAL_PLATFORM_KEYS; i++) keys.addPlatformKey();
      return keys;
    }
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as KeysManifest;
    const platform = manifest.platformKeys.map((k) => loadPlatformKey(dir, k.id, k.active));
    return new SandboxKeys(dir, loadMerchant(dir, manifest.merchantSerialNo), platform);
  }

  /** All platform keys, in creation order (the first active one is the default for signing). */
  platformKeys(): readonly PlatformKey[] {
    return this.platform;
  }

  /**
   * The key an answer is signed with: the platform key the request names when it is active; for a request naming
   * a platform certificate, or for the certificate download, the certificate SandboxCertificates.signerFor picks;
   * else the default platform key.
   */
  signingKey(requestedSerial: string | undefined, isCertificateDownload = false): AnswerSigner {
    const named = this.platform.find((k) => k.id === requestedSerial && k.active);
    if (named) return named;
    const certificate = this.certificates.signerFor(requestedSerial, isCertificateDownload, Date.now());
    if (certificate) return { id: certificate.serial, privateKey: certificate.privateKey };
    const fallback = this.platform.find((k) => k.active);
    if (!fallback) throw new Error('sandbox: no active platform key');
    return fallback;
  }

  addPlatformKey(): PlatformKey {
    const pair = generateRsaKeyPair();
    const id = `PUB_KEY_ID_0114${Array.from({ length: 24 }, () => randomInt(10)).join('')}`;
    writePrivatePem(join(this.dir, `wxp_key_${id}.pem`), pair.privatePem);
    writeFileSync(join(this.dir, `wxp_pub_${id}.pem`), pair.publicPem, { mode: 0o644 });
    const key = loadPlatformKey(this.dir, id, true);
    this.platform.push(key);
    this.saveManifest();
    return key;
  }

  /** Refuses to deactivate the last active key: the sandbox must always be able to sign. */
  setActive(id: string, active: boolean): PlatformKey | undefined {
    const key = this.platform.find((k) => k.id === id);
    if (!key) return undefined;
    if (!active && key.active && this.platform.filter((k) => k.active).length === 1) {
      throw new Error('the last active platform key cannot be deactivated');
    }
    key.active = active;
    this.saveManifest();
    return key;
  }

  private saveManifest(): void {
    const manifest: KeysManifest = {
      merchantSerialNo: this.merchant.serialNo,
      platformKeys: this.platform.map((k) => ({ id: k.id, active: k.active })),
    };
    const file = join(this.dir, 'keys.json');
    writeFileSync(`${file}.tmp`, JSON.stringify(manifest, null, 2));
    renameSync(`${file}.tmp`, file);
  }
}

function generateRsaKeyPair(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

function writePrivatePem(path: string, pem: string): void {
  writeFileSync(path, pem, { mode: 0o600 });
  chmodSync(path, 0o600); // the mode option does not apply when the file already existed
}

function loadMerchant(dir: string, serialNo: string): MerchantKey {
  const privateKeyPath = join(dir, 'apiclient_key.pem');
  const privateKey = loadPrivateKeyFile(privateKeyPath);
  return { serialNo, privateKeyPath, privateKey, publicKey: createPublicKey(privateKey) };
}

function loadPlatformKey(dir: string, id: string, active: boolean): PlatformKey {
  const publicKeyPath = join(dir, `wxp_pub_${id}.pem`);
  return {
    id,
    publicKeyPath,
    publicKey: loadPublicKeyFile(publicKeyPath),
    privateKey: loadPrivateKeyFile(join(dir, `wxp_key_${id}.pem`)),
    active,
  };
}
