import type { ServerResponse } from 'node:http';
import { newNonce, responseSignMessage, signMessage, unixSeconds } from '../wechatpay/signer';
import { SIGNTEST_PREFIX } from '../wechatpay/verifier';
import { DEFAULT_SLOW_DELAY_MS, DEFAULT_TRICKLE_INTERVAL_MS, type EndpointName, type Fault } from './faults';
import { forgedBody } from './forgery';
import { INVENTED_HEADER } from './inventions';
import type { SandboxKeys } from './keys';

/**
 * How an APIv3 answer leaves the sandbox: signed by a platform key (every answer but the 401 to a request whose
 * signature was refused, which WeChat Pay does not sign), labelled when it holds inventions, and sabotaged as an
 * injected fault asks (see faults.ts).
 */

export interface OutgoingAnswer {
  status: number;
  /** The JSON body. */
  body: unknown;
  signed: boolean;
  /** The `Wechatpay-Serial` the request named: the key to sign with when it is active. */
  requestedSerial: string | undefined;
  /** The platform-certificate download, signed by the certificate the request names (SandboxKeys.signingKey). */
  certificateDownload?: boolean;
  /** Labels of what the answer invents beyond the seeds and the digest (inventions.ts). */
  invented: string[];
  /** Which endpoint answers (a `forged` fault lies in that endpoint's terms). */
  endpoint?: EndpointName;
}

const STALE_BY_SECONDS = 600;
/** `oversized`: padding added to the answer, which makes it larger than the client's default 1 MiB limit. */
export const OVERSIZED_PADDING_BYTES = 1024 * 1024;
const PROXY_404_PAGE =
  '<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n' +
  '<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';

export class AnswerSender {
  /** Answers held back (`slow`) or dripping out (`trickle`); cleared on close. */
  private readonly timers = new Set<NodeJS.Timeout>();

  /** `nowMs` is the clock of answer timestamps (the auth clock: moved by a clock-drift episode). */
  constructor(
    private readonly keys: SandboxKeys,
    private readonly nowMs: () => number = Date.now,
  ) {}

  send(res: ServerResponse, answer: OutgoingAnswer, fault?: Fault): void {
    if (answer.invented.length > 0) res.setHeader(INVENTED_HEADER, answer.invented.join(', '));
    const kind = fault?.kind;
    if (kind === 'reset') {
      res.socket?.destroy();
      return;
    }
    if (kind === 'html-404') {
      sendText(res, 404, PROXY_404_PAGE, 'text/html; charset=utf-8');
      return;
    }
    const text =
      kind === 'oversized'
        ? JSON.stringify({ ...(answer.body as object), sandbox_padding: 'x'.repeat(OVERSIZED_PADDING_BYTES) })
        : JSON.stringify(answer.body);
    const signed = answer.signed && kind !== 'unsigned-404';
    // A forged answer is signed over the truth and sends the lie: its signature cannot verify.
    const forged = kind === 'forged' && answer.status < 300;
    const sent = forged ? JSON.stringify(forgedBody(answer.endpoint, answer.body)) : text;
    const out = (): void => {
      if (signed) this.sign(res, text, answer, fault);
      if (kind === 'trickle') this.trickle(res, answer.status, sent, fault?.delayMs ?? DEFAULT_TRICKLE_INTERVAL_MS);
      else sendText(res, answer.status, sent);
    };
    if (kind !== 'slow') out();
    else
      this.later(fault?.delayMs ?? DEFAULT_SLOW_DELAY_MS, () => {
        if (!res.destroyed) out();
      });
  }

  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  /** Signs with the key SandboxKeys.signingKey picks for the request, then sabotages if asked. */
  private sign(res: ServerResponse, text: string, answer: OutgoingAnswer, fault?: Fault): void {
    const key = this.keys.signingKey(answer.requestedSerial, answer.certificateDownload);
    const nowSeconds = Number(unixSeconds(this.nowMs()));
    const timestamp = String(fault?.kind === 'stale' ? nowSeconds - STALE_BY_SECONDS : nowSeconds);
    const nonce = newNonce();
    const tampered = fault?.kind === 'tampered' || fault?.kind === 'bad-signature-404';
    let signature = signMessage(key.privateKey, responseSignMessage(timestamp, nonce, tampered ? `${text} ` : text));
    if (fault?.kind === 'signtest') signature = `${SIGNTEST_PREFIX}${signature}`;
    res.setHeader('Wechatpay-Timestamp', timestamp);
    res.setHeader('Wechatpay-Nonce', nonce);
    res.setHeader('Wechatpay-Signature', signature);
    res.setHeader('Wechatpay-Serial', fault?.kind === 'unknown-serial' ? `PUB_KEY_ID_0114${'9'.repeat(24)}` : key.id);
    res.setHeader('Wechatpay-Signature-Type', 'WECHATPAY2-SHA256-RSA2048');
  }

  private later(delayMs: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, delayMs);
    this.timers.add(timer);
  }

  /** Headers at once, then one byte every intervalMs until the body is out or the client hangs up. */
  private trickle(res: ServerResponse, status: number, text: string, intervalMs: number): void {
    const bytes = Buffer.from(text, 'utf8');
    res.statusCode = status;
    res.setHeader('Content-Type', JSON_TYPE);
    res.setHeader('Content-Length', bytes.length);
    res.flushHeaders();
    let sent = 0;
    const timer = setInterval(() => {
      if (!res.destroyed) res.write(bytes.subarray(sent, ++sent));
      if (!res.destroyed && sent < bytes.length) return;
      clearInterval(timer);
      this.timers.delete(timer);
      if (!res.destroyed) res.end();
    }, intervalMs);
    this.timers.add(timer);
  }
}

const JSON_TYPE = 'application/json; charset=utf-8';

export function sendText(res: ServerResponse, status: number, text: string, contentType = JSON_TYPE): void {
  res.statusCode = status;
  if (text.length > 0) res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}
