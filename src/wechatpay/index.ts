import { WechatPayHttpClient, type WechatPayClientOptions } from './http';

/** The public surface of the WeChat Pay APIv3 client. */

export * from './aead';
export * from './api';
export * from './errors';
export * from './http';
export * from './keys';
export * from './keySource';
export * from './platformCertificateClient';
export * from './platformCertificates';
export * from './platformCertificateStore';
export * from './signer';
export { ANSWER_TOO_LARGE } from './transport';
export * from './validation';
export * from './verifier';

export function createWechatPayClient(options: WechatPayClientOptions): WechatPayHttpClient {
  return new WechatPayHttpClient(options);
}
