import { isCalendarDate as isRealDate } from '../domain/calendar';
import { WechatPayValidationError } from './errors';

/**
 * Input rules of the five endpoints, checked before anything is signed or sent. Pure functions with no
 * Node-only imports: the workflow bundle imports this module to apply the same rules to its own input.
 * Lengths are in characters, as the seed pages state them, except the termination remark's (bytes, see below).
 */

export const OUT_ID_MAX_CHARS = 32;
export const CONTRACT_ID_MAX_CHARS = 64;
export const APPID_MAX_CHARS = 32;
export const MCHID_MAX_CHARS = 32;
export const OPENID_MAX_CHARS = 128;
/** Seed 002: the signing query accepts codes of up to 128 characters. */
export const OUT_CONTRACT_CODE_MAX_CHARS = 128;
/** Seed 004: terminate echoes out_contract_code as string(64). */
export const TERMINATE_OUT_CONTRACT_CODE_MAX_CHARS = 64;
/**
 * contract_termination_remark: at most 128 bytes of UTF-8. Seed 004 says string(128); counting bytes is the stricter
 * reading (3 bytes per Chinese character), so a remark that fits here fits whichever way WeChat Pay counts.
 */
export const MAX_REMARK_BYTES = 128;

const ALPHANUMERIC = /^[0-9A-Za-z]+$/;
const ALPHANUMERIC_DASH_UNDERSCORE = /^[0-9A-Za-z_-]+$/;
const FEN_AMOUNT = /^[1-9][0-9]*$/;
// A UTF-16 surrogate is either half of a 4-byte UTF-8 character (emoji…) or an unpaired one (not UTF-8 at all).
const SURROGATE = /[\uD800-\uDFFF]/;

export const RULE_ALPHANUMERIC = 'digits and letters only';
export const RULE_ALPHANUMERIC_DASH_UNDERSCORE = 'digits, letters, - and _ only';
export const RULE_FEN = 'a positive integer amount in fen as a decimal string without leading zeros';
export const RULE_DATE = 'a calendar date YYYY-MM-DD';
export const RULE_UTF8 = 'only 1-3-byte UTF-8 characters (no emoji or other 4-byte characters)';

/** A positive integer number of fen as a decimal string, no sign, no leading zero, no fraction. */
export function isFenAmount(value: unknown): value is string {
  return typeof value === 'string' && FEN_AMOUNT.test(value);
}

/** `YYYY-MM-DD` naming a day that exists on the calendar (one implementation, shared with the domain). */
export function isCalendarDate(value: unknown): value is string {
  return typeof value === 'string' && isRealDate(value);
}

/** Length of the UTF-8 encoding, computed by hand: the workflow bundle has no Buffer. */
export function utf8ByteLength(value: string): number {
  let bytes = 0;
  for (const ch of value) {
    const codePoint = ch.codePointAt(0) as number;
    bytes += codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4;
  }
  return bytes;
}

/** True when every character encodes to 1–3 bytes of UTF-8 (what APIv3 accepts). */
export function isApiV3Text(value: string): boolean {
  return !SURROGATE.test(value);
}

export interface TextRule {
  maxChars?: number;
  maxBytes?: number;
  /** Character set the whole value must match, with the rule's wording for the error. */
  charset?: { pattern: RegExp; rule: string };
}

/** A required non-empty string: UTF-8 rule, length, charset. Returns the value for chaining. */
export function assertText(value: unknown, field: string, rule: TextRule = {}): string {
  if (typeof value !== 'string') throw new WechatPayValidationError(field, 'required, a string');
  if (value.length === 0) throw new WechatPayValidationError(field, 'must not be empty');
  if (!isApiV3Text(value)) throw new WechatPayValidationError(field, RULE_UTF8);
  // With no surrogates left, UTF-16 length is the number of characters.
  if (rule.maxChars !== undefined && value.length > rule.maxChars) {
    throw new WechatPayValidationError(field, `at most ${rule.maxChars} characters`);
  }
  if (rule.maxBytes !== undefined && utf8ByteLength(value) > rule.maxBytes) {
    throw new WechatPayValidationError(field, `at most ${rule.maxBytes} bytes of UTF-8`);
  }
  if (rule.charset && !rule.charset.pattern.test(value)) throw new WechatPayValidationError(field, rule.charset.rule);
  return value;
}

/** Like assertText when the value is present; absent (undefined) is allowed. */
export function assertOptionalText(value: unknown, field: string, rule: TextRule = {}): void {
  if (value !== undefined) assertText(value, field, rule);
}

export function assertFenAmount(value: unknown, field: string): string {
  if (!isFenAmount(value)) throw new WechatPayValidationError(field, RULE_FEN);
  return value;
}

export function assertCalendarDate(value: unknown, field: string): string {
  if (!isCalendarDate(value)) throw new WechatPayValidationError(field, RULE_DATE);
  return value;
}

/** out_record_id / out_bill_no: the merchant's own ids, ≤ 32 digits and letters (seeds 000, 001, 003). */
export function assertOutId(value: unknown, field: string): string {
  return assertText(value, field, {
    maxChars: OUT_ID_MAX_CHARS,
    charset: { pattern: ALPHANUMERIC, rule: RULE_ALPHANUMERIC },
  });
}

/** Seed 002 (query signing): ≤ 128 characters of digits, letters, - and _. */
export function assertOutContractCodeForQuery(value: unknown, field = 'out_contract_code'): string {
  return assertText(value, field, {
    maxChars: OUT_CONTRACT_CODE_MAX_CHARS,
    charset: { pattern: ALPHANUMERIC_DASH_UNDERSCORE, rule: RULE_ALPHANUMERIC_DASH_UNDERSCORE },
  });
}

/** Seed 004 (terminate) is stricter than seed 002: digits and letters only, ≤ 64. */
export function assertOutContractCodeForTerminate(value: unknown, field = 'out_contract_code'): string {
  return assertText(value, field, {
    maxChars: TERMINATE_OUT_CONTRACT_CODE_MAX_CHARS,
    charset: { pattern: ALPHANUMERIC, rule: RULE_ALPHANUMERIC },
  });
}

export interface ScheduleItemInput {
  out_record_id: unknown;
  repayment_amount: unknown;
  min_repayment_amount: unknown;
  repayment_date: unknown;
  sub_mchid?: unknown;
  sub_appid?: unknown;
  description?: unknown;
  attach?: unknown;
}

/**
 * One schedule item of seed 001. `path` prefixes field names (e.g. `schedule_items[0]`).
 * description and attach have no documented length; they still must be APIv3 text.
 */
export function assertScheduleItem(item: unknown, path: string): void {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) {
    throw new WechatPayValidationError(path, 'required, an object');
  }
  const fields = item as ScheduleItemInput;
  assertOutId(fields.out_record_id, `${path}.out_record_id`);
  const amount = assertFenAmount(fields.repayment_amount, `${path}.repayment_amount`);
  const minimum = assertFenAmount(fields.min_repayment_amount, `${path}.min_repayment_amount`);
  if (BigInt(minimum) > BigInt(amount)) {
    throw new WechatPayValidationError(`${path}.min_repayment_amount`, 'must not exceed repayment_amount');
  }
  assertCalendarDate(fields.repayment_date, `${path}.repayment_date`);
  assertOptionalText(fields.sub_mchid, `${path}.sub_mchid`, { maxChars: MCHID_MAX_CHARS });
  assertOptionalText(fields.sub_appid, `${path}.sub_appid`, { maxChars: APPID_MAX_CHARS });
  assertOptionalText(fields.description, `${path}.description`);
  assertOptionalText(fields.attach, `${path}.attach`);
}

export function assertContractId(value: unknown, field = 'contract_id'): string {
  return assertText(value, field, { maxChars: CONTRACT_ID_MAX_CHARS });
}

export function assertAppid(value: unknown, field = 'appid'): string {
  return assertText(value, field, { maxChars: APPID_MAX_CHARS });
}

export function assertOpenid(value: unknown, field = 'openid'): string {
  return assertText(value, field, { maxChars: OPENID_MAX_CHARS });
}

export function assertRemark(value: unknown, field = 'contract_termination_remark'): string {
  return assertText(value, field, { maxBytes: MAX_REMARK_BYTES });
}
