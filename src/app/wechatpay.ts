import { readFileSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import type { AppConfig, MerchantConfig, PlatformCertificateConfig } from '../config/load';
import { apiV3KeyBytes } from '../wechatpay/aead';
import { loadPrivateKeyFile, loadPublicKeyFile } from '../wechatpay/keys';
import {
  type CertificateLogger,
  PlatformCertificateClient,
  pinPlatformCertificates,
} from '../wechatpay/platformCertificateClient';
import { PlatformCertificateStore, readCertificateFile } from '../wechatpay/platformCertificateStore';
import { PlatformCertificateError, type PlatformCertificate } from '../wechatpay/platformCertificates';
import { Verifier } from '../wechatpay/verifier';
import {
  createWechatPayClient,
  type WechatPayAttemptObserver,
  type WechatPayClientOptions,
  type WechatPayHttpClient,
} from '../wechatpay';

/**
 * Builds the WeChat Pay client from configuration: the merchant's key and every configured verification key are
 * loaded once here, in the worker process, and never leave it (activities receive the client, not the keys).
 * With an APIv3 key configured the client runs in platform-certificate mode: it trusts the configured keys and
 * the certificates kept in the store file, downloads and refreshes the certificates, and refuses to start when
 * nothing is trusted yet (the operator pins the first download: `npm run cli -- certificates pin`).
 */

type Settings = Pick<AppConfig['wechatpay'], 'timeoutMs' | 'failbackAfterMs'>;

export const PIN_COMMAND = 'npm run cli -- certificates pin';

export function wechatpayClientFromConfig(
  settings: Settings,
  merchant: MerchantConfig,
  baseUrls: { primary: string; backup?: string },
  logger?: CertificateLogger,
  observer?: WechatPayAttemptObserver,
): WechatPayHttpClient {
  const options = {
    ...clientOptions(settings, merchant, baseUrls),
    ...(logger ? { logger } : {}),
    ...(observer ? { observer } : {}),
  };
  const configured = configuredKeys(merchant);
  if (!merchant.platformCertificates) return createWechatPayClient({ ...options, verifier: new Verifier(configured) });

  const client = platformCertificateClient(options, merchant.platformCertificates, configured);
  client.certificates.start();
  return client;
}

/** `certificates pin`: trust on first use, refused when something is trusted already (use refresh instead). */
export async function pinFromConfig(
  settings: Settings,
  merchant: MerchantConfig,
  baseUrls: { primary: string; backup?: string },
  expectFingerprint?: string,
): Promise<PlatformCertificate[]> {
  const certificates = requirePlatformCertificates(merchant);
  const store = new PlatformCertificateStore(configuredKeys(merchant), readCertificateFile(certificates.storeFile));
  if (store.hasTrustedKey()) {
    throw new PlatformCertificateError(
      'PIN_REFUSED',
      `a WeChat Pay key is trusted already (configured verification keys or ${certificates.storeFile}); ` +
        'run `npm run cli -- certificates refresh` to download verified certificates instead',
    );
  }
  return pinPlatformCertificates(clientOptions(settings, merchant, baseUrls), {
    apiV3Key: readApiV3Key(certificates.apiV3KeyFile),
    storeFile: certificates.storeFile,
    ...(expectFingerprint === undefined ? {} : { expectFingerprint }),
  });
}

/** `certificates refresh`: one download verified with the keys trusted now; returns what is kept afterwards. */
export async function refreshFromConfig(
  settings: Settings,
  merchant: MerchantConfig,
  baseUrls: { primary: string; backup?: string },
): Promise<{ added: string[]; dropped: string[]; kept: PlatformCertificate[] }> {
  const certificates = requirePlatformCertificates(merchant);
  const client = platformCertificateClient(
    clientOptions(settings, merchant, baseUrls),
    certificates,
    configuredKeys(merchant),
  );
  try {
    const change = await client.certificates.refresh();
    return { ...change, kept: readCertificateFile(certificates.storeFile) };
  } finally {
    client.close();
  }
}

function platformCertificateClient(
  options: ConstructorParameters<typeof PlatformCertificateClient>[0],
  certificates: PlatformCertificateConfig,
  configured: ReadonlyMap<string, KeyObject>,
): PlatformCertificateClient {
  const store = new PlatformCertificateStore(configured, readCertificateFile(certificates.storeFile));
  if (!store.hasTrustedKey()) {
    throw new PlatformCertificateError(
      'NO_TRUSTED_KEY',
      `platform-certificate mode: no WeChat Pay key to verify the certificate download with (no configured ` +
        `verification key, no valid certificate in ${certificates.storeFile}). Configure a verification key ` +
        `(a platform certificate or PUB_KEY_ID_… public key), or pin the first download once: ${PIN_COMMAND}`,
    );
  }
  return new PlatformCertificateClient(options, {
    store,
    apiV3Key: readApiV3Key(certificates.apiV3KeyFile),
    storeFile: certificates.storeFile,
    refreshIntervalMs: certificates.refreshIntervalMs,
    unknownSerialCooldownMs: certificates.unknownSerialCooldownMs,
  });
}

function clientOptions(
  settings: Settings,
  merchant: MerchantConfig,
  baseUrls: { primary: string; backup?: string },
): Omit<WechatPayClientOptions, 'verifier' | 'logger'> {
  return {
    merchant: {
      mchid: merchant.mchid,
      serialNo: merchant.merchantSerialNo,
      privateKey: loadPrivateKeyFile(merchant.privateKeyFile),
    },
    baseUrls,
    timeoutMs: settings.timeoutMs,
    failbackAfterMs: settings.failbackAfterMs,
  };
}

function configuredKeys(merchant: MerchantConfig): Map<string, KeyObject> {
  return new Map(merchant.verificationKeys.map((k) => [k.id, loadPublicKeyFile(k.publicKeyFile)] as const));
}

function requirePlatformCertificates(merchant: MerchantConfig): PlatformCertificateConfig {
  if (!merchant.platformCertificates) {
    throw new Error('platform certificates need wechatpay.apiV3KeyFile (or WECHATPAY_APIV3_KEY_FILE) configured');
  }
  return merchant.platformCertificates;
}

/** The APIv3 key file holds the 32 characters (a trailing newline is tolerated); errors never show the key. */
function readApiV3Key(file: string): Buffer {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new Error(`wechatpay.apiV3KeyFile: cannot read ${file}`);
  }
  try {
    return apiV3KeyBytes(text.replace(/\r?\n$/, ''));
  } catch (error) {
    throw new Error(`wechatpay.apiV3KeyFile ${file}: ${(error as Error).message}`, { cause: error });
  }
}
