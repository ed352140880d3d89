/** The terminate call's remark (seed 004: contract_termination_remark, at most 128 characters, required). */
export const MAX_REMARK_CHARS = 128;

/**
 * A remark that says why, within 128 characters: whitespace collapsed, characters outside the Basic
 * Multilingual Plane dropped (APIv3 accepts only 1–3-byte UTF-8), truncated on a character boundary with "…".
 */
export function terminationRemark(reason: string): string {
  // Lone surrogates count too: they are not UTF-8 at all, and the terminate call would refuse the remark forever.
  const bmpOnly = Array.from(reason)
    .filter((ch) => ch.codePointAt(0)! <= 0xffff && !isSurrogate(ch.codePointAt(0)!))
    .join('');
  const chars = Array.from(bmpOnly.replace(/\s+/g, ' ').trim());
  const text = chars.length > 0 ? chars : Array.from('terminated by the repayment lifecycle');
  if (text.length <= MAX_REMARK_CHARS) return text.join('');
  return `${text.slice(0, MAX_REMARK_CHARS - 1).join('')}…`;
}

function isSurrogate(codePoint: number): boolean {
  return codePoint >= 0xd800 && codePoint <= 0xdfff;
}
