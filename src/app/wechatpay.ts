import type { AppConfig, MerchantConfig } from '../config/load';
import { loadPrivateKeyFile, loadPublicKeyFile } from '../wechatpay/keys';
import { Verifier } from '../wechatpay/verifier';
import {
  createWechatPayClient,
  type WechatPayAttemptObserver,
  type WechatPayHttpClient,
  type WechatPayLogger,
} from '../wechatpay';

/**
 * Builds the WeChat Pay client from configuration: the merchant's key and every configured verification key are
 * loaded once here, in the worker process, and never leave it (activities receive the client, not the keys).
 */
export function wechatpayClientFromConfig(
  settings: Pick<AppConfig['wechatpay'], 'timeoutMs' | 'failbackAfterMs'>,
  merchant: MerchantConfig,
  baseUrls: { primary: string; backup?: string },
  logger?: WechatPayLogger,
  observer?: WechatPayAttemptObserver,
): WechatPayHttpClient {
  const verifier = new Verifier(
    new Map(merchant.verificationKeys.map((k) => [k.id, loadPublicKeyFile(k.publicKeyFile)] as const)),
  );
  return createWechatPayClient({
    merchant: {
      mchid: merchant.mchid,
      serialNo: merchant.merchantSerialNo,
      privateKey: loadPrivateKeyFile(merchant.privateKeyFile),
    },
    verifier,
    baseUrls,
    timeoutMs: settings.timeoutMs,
    failbackAfterMs: settings.failbackAfterMs,
    logger,
    ...(observer ? { observer } : {}),
  });
}
