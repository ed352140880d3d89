import type { IncomingHttpHeaders } from 'node:http';
import type { KeyObject } from 'node:crypto';
import { parseAuthorization, requestSignMessage, verifyMessage } from '../wechatpay/signer';
import { invalidRequest, signError } from './errors';

/**
 * APIv3 request checks, in the order WeChat Pay applies them: required headers (400 INVALID_REQUEST), then the
 * Authorization header (401 SIGN_ERROR): schema, mchid, merchant serial, timestamp skew, signature over the
 * exact path+query and body received, and finally nonce reuse (only for a valid signature, so that forged
 * requests cannot fill the nonce cache).
 */

export const MAX_SKEW_SECONDS = 300;

/**
 * The clock requests are authenticated and answers are timestamped with: real time, unless a drift is set (a
 * sandbox invention for chaos runs, `POST /sandbox/auth-clock`): past ±300 s every request is refused with 401 and
 * every answer is stale, as when the merchant's clock or WeChat Pay's drifts. The business clock is separate.
 */
export class AuthClock {
  offsetMs = 0;
  readonly now = (): number => Date.now() + this.offsetMs;
}

export interface RequestAuthenticatorOptions {
  mchid: string;
  merchantSerialNo: string;
  merchantPublicKey: KeyObject;
  nonceCacheSize?: number;
  /** Real time (not the business clock): signatures are about now. */
  nowMs?: () => number;
}

export class RequestAuthenticator {
  private readonly nonces: NonceCache;
  private readonly nowMs: () => number;

  constructor(private readonly options: RequestAuthenticatorOptions) {
    this.nowMs = options.nowMs ?? Date.now;
    this.nonces = new NonceCache(options.nonceCacheSize ?? 100_000, MAX_SKEW_SECONDS * 2 * 1000);
  }

  /** Throws a SandboxError when the request must be refused. `url` is req.url exactly as received. */
  authenticate(method: string, url: string, headers: IncomingHttpHeaders, body: string): void {
    if (!headers.accept)
      throw invalidRequest('缺少 Accept 请求头 (the Accept header is required)', { header: 'Accept' });
    if (!headers['user-agent']) {
      throw invalidRequest('缺少 User-Agent 请求头 (the User-Agent header is required)', { header: 'User-Agent' });
    }
    if (method === 'POST' && !/^application\/json\s*(;|$)/i.test(headers['content-type'] ?? '')) {
      throw invalidRequest('Content-Type 必须为 application/json (POST requires Content-Type: application/json)', {
        header: 'Content-Type',
      });
    }
    const header = headers.authorization;
    if (!header)
      throw signError('MISSING_AUTHORIZATION', '缺少 Authorization 请求头 (the Authorization header is required)');
    const auth = parseAuthorization(header);
    if (!auth) {
      throw signError(
        'MALFORMED_AUTHORIZATION',
        'Authorization 格式错误 (expected WECHATPAY2-SHA256-RSA2048 with 5 quoted pairs)',
      );
    }
    if (auth.mchid !== this.options.mchid)
      throw signError('MCHID_MISMATCH', `商户号不匹配 (unknown mchid ${auth.mchid})`);
    if (auth.serial_no !== this.options.merchantSerialNo) {
      throw signError('SERIAL_MISMATCH', `商户证书序列号不匹配 (unknown merchant serial_no ${auth.serial_no})`);
    }
    const timestamp = /^\d{1,12}$/.test(auth.timestamp) ? Number(auth.timestamp) : NaN;
    const now = this.nowMs();
    if (!Number.isFinite(timestamp) || Math.abs(now / 1000 - timestamp) > MAX_SKEW_SECONDS) {
      throw signError('TIMESTAMP_EXPIRED', `timestamp 超出 ±${MAX_SKEW_SECONDS}s (timestamp too far from now)`);
    }
    if (auth.nonce_str.length === 0) throw signError('MISSING_NONCE', 'nonce_str 为空 (empty nonce_str)');
    const message = requestSignMessage(method, url, auth.timestamp, auth.nonce_str, body);
    if (!verifyMessage(this.options.merchantPublicKey, message, auth.signature)) {
      throw signError('SIGNATURE_MISMATCH', '错误的签名，验签失败 (signature verification failed)');
    }
    if (!this.nonces.addIfAbsent(`${auth.mchid}:${auth.nonce_str}`, now)) {
      throw signError('NONCE_REUSED', 'nonce_str 重复 (nonce already used within the time window)');
    }
  }
}

/**
 * Nonces seen within the replay window, bounded in size: expired entries go first, then the oldest
 * (Map iteration is insertion order, which is also time order here).
 */
class NonceCache {
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
  ) {}

  addIfAbsent(nonce: string, nowMs: number): boolean {
    const seenAt = this.seen.get(nonce);
    if (seenAt !== undefined && nowMs - seenAt <= this.ttlMs) return false;
    this.seen.delete(nonce);
    for (const [key, at] of this.seen) {
      if (nowMs - at <= this.ttlMs && this.seen.size < this.maxEntries) break;
      this.seen.delete(key);
    }
    this.seen.set(nonce, nowMs);
    return true;
  }
}
