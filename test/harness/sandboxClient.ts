import type { Sandbox } from '../../src/sandbox';
import { createWechatPayClient, type WechatPayClientOptions, type WechatPayHttpClient } from '../../src/wechatpay';
import { Verifier } from '../../src/wechatpay/verifier';

export type SandboxClientOptions = Partial<Pick<WechatPayClientOptions, 'timeoutMs' | 'failbackAfterMs' | 'observer'>>;

/** The project's WeChat Pay client pointed at a sandbox, with its merchant key and every platform key it signs with. */
export function wechatpayClientFor(sandbox: Sandbox, options: SandboxClientOptions = {}): WechatPayHttpClient {
  return createWechatPayClient({
    merchant: { mchid: sandbox.mchid, serialNo: sandbox.merchant.serialNo, privateKey: sandbox.merchant.privateKey },
    verifier: new Verifier(new Map(sandbox.platformKeys.map((key) => [key.id, key.publicKey] as const))),
    baseUrls: { primary: sandbox.primaryUrl, backup: sandbox.backupUrl },
    ...options,
  });
}
