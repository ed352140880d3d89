import { isCalendarDate } from '../domain/calendar';
import { paramError } from './errors';

/**
 * Field rules of the five endpoints as the sandbox (playing WeChat Pay) enforces them: each failure is a
 * `400 PARAM_ERROR` with `detail: { field, issue }` and the rule in the message. Lengths are in characters, as the
 * seeds state them. This is the server's own check, deliberately independent of the client's validation.
 */

export const ALPHANUMERIC = /^[0-9A-Za-z]+$/;
export const CONTRACT_CODE_CHARS = /^[0-9A-Za-z_-]+$/;
const FEN = /^[1-9][0-9]*$/;
// Half of a 4-byte UTF-8 character (or an unpaired surrogate): APIv3 accepts only 1–3-byte characters.
const SURROGATE = /[\uD800-\uDFFF]/;

export interface TextRule {
  maxChars?: number;
  charset?: RegExp;
  charsetRule?: string;
}

export function requiredText(value: unknown, field: string, rule: TextRule = {}): string {
  if (typeof value !== 'string' || value.length === 0)
    throw paramError(field, 'REQUIRED', 'required, a non-empty string');
  if (SURROGATE.test(value)) throw paramError(field, 'INVALID_CHARACTER', 'only 1-3-byte UTF-8 characters');
  if (rule.maxChars !== undefined && value.length > rule.maxChars) {
    throw paramError(field, 'TOO_LONG', `at most ${rule.maxChars} characters`);
  }
  if (rule.charset && !rule.charset.test(value)) {
    throw paramError(field, 'INVALID_CHARSET', rule.charsetRule ?? 'invalid characters');
  }
  return value;
}

export function optionalText(value: unknown, field: string, rule: TextRule = {}): string | undefined {
  return value === undefined ? undefined : requiredText(value, field, rule);
}

export function outId(value: unknown, field: string): string {
  return requiredText(value, field, { maxChars: 32, charset: ALPHANUMERIC, charsetRule: 'digits and letters only' });
}

/** A positive integer amount in fen as a decimal string (no sign, no leading zero, no fraction). */
export function fenAmount(value: unknown, field: string): string {
  if (typeof value !== 'string' || !FEN.test(value)) {
    throw paramError(field, 'INVALID_AMOUNT', 'a positive integer amount in fen as a decimal string');
  }
  return value;
}

export function calendarDate(value: unknown, field: string): string {
  if (typeof value !== 'string' || !isCalendarDate(value))
    throw paramError(field, 'INVALID_DATE', 'a real date YYYY-MM-DD');
  return value;
}

export function jsonObject(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw paramError(field, 'REQUIRED', 'required, a JSON object');
  }
  return value as Record<string, unknown>;
}
