import { MAX_REMARK_BYTES, utf8ByteLength } from '../wechatpay/validation';

/** The terminate call's remark (seed 004: contract_termination_remark, required): at most 128 bytes of UTF-8. */
export { MAX_REMARK_BYTES };

const ELLIPSIS = '…';

/**
 * A remark that says why, within MAX_REMARK_BYTES: whitespace collapsed, characters outside the Basic Multilingual
 * Plane dropped (APIv3 accepts only 1–3-byte UTF-8), truncated on a character boundary with "…". The terminate
 * call applies the same byte rule (assertRemark), so a remark built here is never refused for its length.
 */
export function terminationRemark(reason: string): string {
  // Lone surrogates count too: they are not UTF-8 at all, and the terminate call would refuse the remark forever.
  const bmpOnly = Array.from(reason)
    .filter((ch) => ch.codePointAt(0)! <= 0xffff && !isSurrogate(ch.codePointAt(0)!))
    .join('');
  const collapsed = bmpOnly.replace(/\s+/g, ' ').trim();
  const text = collapsed.length > 0 ? collapsed : 'terminated by the repayment lifecycle';
  if (utf8ByteLength(text) <= MAX_REMARK_BYTES) return text;
  const budget = MAX_REMARK_BYTES - utf8ByteLength(ELLIPSIS);
  let kept = '';
  let bytes = 0;
  for (const ch of text) {
    bytes += utf8ByteLength(ch);
    if (bytes > budget) break;
    kept += ch;
  }
  return `${kept}${ELLIPSIS}`;
}

function isSurrogate(codePoint: number): boolean {
  return codePoint >= 0xd800 && codePoint <= 0xdfff;
}
