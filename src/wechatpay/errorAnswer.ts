import { WechatPayApiError } from './errors';
import type { RawAnswer } from './transport';
import { carriesSignature, type HeaderBag, type Verifier } from './verifier';

/**
 * An error answer (non-2xx) as a typed error. WeChat Pay signs every answer to a request whose signature it
 * accepted, errors included, so an error answer that carries any signature header is verified exactly like a 2xx
 * (over its raw bytes) and throws WechatPayVerificationError when it does not verify, whatever its status. One with
 * no signature header at all (a proxy's HTML page, WeChat Pay's 401 to a request it could not authenticate) is
 * returned as an unverified WechatPayApiError: retryable, never evidence.
 */
export function errorOfAnswer(verifier: Verifier, answer: RawAnswer, requestId: string | undefined): WechatPayApiError {
  const headers = answer.headers as HeaderBag;
  const signed = carriesSignature(headers);
  if (signed) verifier.verify(headers, answer.body, answer.httpStatus);

  const parsed = parseJson(answer.body);
  const fields = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  const code = typeof fields.code === 'string' && fields.code ? fields.code : `HTTP_${answer.httpStatus}`;
  const message =
    typeof fields.message === 'string'
      ? fields.message
      : parsed === undefined
        ? `error answer without a JSON body (${answer.body.length} bytes)`
        : 'error answer without a message';
  return new WechatPayApiError({
    httpStatus: answer.httpStatus,
    code,
    message,
    verified: signed,
    ...(fields.detail === undefined ? {} : { detail: fields.detail }),
    ...(requestId === undefined ? {} : { requestId }),
  });
}

function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
}
