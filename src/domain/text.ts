import { z } from 'zod';
import { isApiV3Text } from '../wechatpay/validation';

/**
 * A required text field of at most `max` characters that WeChat Pay APIv3 will accept (1–3-byte UTF-8 only:
 * no emoji, no lone surrogates), so that a value refused months later by the API is refused at the edge instead.
 */
export function apiText(max: number) {
  return z
    .string({ error: 'must be a string' })
    .min(1, { error: 'must not be empty' })
    .max(max, { error: `must be at most ${max} characters` })
    .refine(isApiV3Text, { error: 'must use only 1-3-byte UTF-8 characters (no emoji)' });
}
