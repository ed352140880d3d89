import type { Command } from 'commander';
import { loadConfig, type AppConfig, type MerchantConfig } from '../config/load';
import type { PlatformCertificate } from '../wechatpay/platformCertificates';
import { readCertificateFile } from '../wechatpay/platformCertificateStore';
import { pinFromConfig, refreshFromConfig } from './wechatpay';

/**
 * `repayment certificates pin|refresh|list`: the operator's commands of platform-certificate mode
 * (wechatpay.apiV3KeyFile configured). `pin` is the only way a download is trusted with nothing trusted yet.
 */

interface Io {
  out(text: string): void;
}

export function registerCertificateCommands(program: Command, io: Io): void {
  const certificates = program
    .command('certificates')
    .description('WeChat Pay platform certificates (platform-certificate mode: wechatpay.apiV3KeyFile configured)');
  const context = (command: Command) => {
    const { config: file, json } = command.optsWithGlobals<{ config?: string; json?: boolean }>();
    const config = loadConfig(file ? { file } : {});
    const merchant = requireMerchant(config);
    return { config, merchant, storeFile: merchant.platformCertificates.storeFile, json: json === true };
  };
  const print = (json: boolean, value: unknown, text: string) =>
    io.out(json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);

  certificates
    .command('pin')
    .description(
      'trust on first use: download the certificates while nothing is trusted yet, check that the answer is ' +
        'signed by one of them, and keep them. Run once, on a network path you trust',
    )
    .option('--fingerprint <sha256>', 'refuse unless a certificate has this SHA-256 fingerprint')
    .action(async (options: { fingerprint?: string }, command: Command) => {
      const { config, merchant, storeFile, json } = context(command);
      const pinned = await pinFromConfig(config.wechatpay, merchant, config.wechatpay.baseUrls, options.fingerprint);
      print(json, pinned.map(describe), `Pinned, kept in ${storeFile}:\n${table(pinned)}`);
    });

  certificates
    .command('refresh')
    .description('download the certificates now, verified with the keys trusted already, and keep the new ones')
    .action(async (_options: unknown, command: Command) => {
      const { config, merchant, json } = context(command);
      const result = await refreshFromConfig(config.wechatpay, merchant, config.wechatpay.baseUrls);
      const change = `added: ${result.added.join(', ') || 'none'}; dropped (expired): ${result.dropped.join(', ') || 'none'}`;
      print(
        json,
        { added: result.added, dropped: result.dropped, kept: result.kept.map(describe) },
        `${change}\n${table(result.kept)}`,
      );
    });

  certificates
    .command('list')
    .description('show the certificates kept in the store file')
    .action((_options: unknown, command: Command) => {
      const { storeFile, json } = context(command);
      const kept = readCertificateFile(storeFile);
      print(json, kept.map(describe), kept.length > 0 ? table(kept) : `none in ${storeFile}`);
    });
}

type CertificateMerchant = MerchantConfig & Required<Pick<MerchantConfig, 'platformCertificates'>>;

function requireMerchant(config: AppConfig): CertificateMerchant {
  const merchant = config.wechatpay.merchant;
  if (!merchant?.platformCertificates) {
    throw new Error(
      'platform-certificate mode is not configured: set the merchant credentials and wechatpay.apiV3KeyFile ' +
        '(or WECHATPAY_APIV3_KEY_FILE)',
    );
  }
  return merchant as CertificateMerchant;
}

function describe(cert: PlatformCertificate): Record<string, string> {
  return {
    serial: cert.serial,
    validFrom: new Date(cert.validFrom).toISOString(),
    validTo: new Date(cert.validTo).toISOString(),
    fingerprint256: cert.fingerprint256,
  };
}

function table(certs: readonly PlatformCertificate[]): string {
  return certs
    .map((cert) => {
      const d = describe(cert);
      return `  ${d.serial}  valid ${d.validFrom} → ${d.validTo}\n    SHA-256 ${d.fingerprint256}`;
    })
    .join('\n');
}
