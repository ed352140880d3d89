/**
 * What the sandbox answers beyond its sources. The seeds document four error codes (400 PARAM_ERROR, 400
 * INVALID_REQUEST, 401 SIGN_ERROR, 500 SYSTEM_ERROR) and nothing of `detail`; the digest adds the 404 "not found"
 * codes, 403, 429 and 502/503. Everything else the sandbox says is its own invention, labelled as such on the answer
 * (`X-Sandbox-Invented`), in the request log (`invented`) and by `GET /sandbox/inventions`, so that nobody builds
 * the product on it: the live service may answer differently.
 */

export const INVENTED_HEADER = 'X-Sandbox-Invented';

export const SEED_CODES = ['PARAM_ERROR', 'INVALID_REQUEST', 'SIGN_ERROR', 'SYSTEM_ERROR'] as const;
export const DIGEST_CODES = [
  'NO_AUTH',
  'NOT_FOUND',
  'ORDER_NOT_EXIST',
  'RESOURCE_NOT_EXISTS',
  'FREQUENCY_LIMITED',
  'RATELIMIT_EXCEEDED',
  'SERVICE_UNAVAILABLE',
] as const;
const DOCUMENTED_CODES = new Set<string>([...SEED_CODES, ...DIGEST_CODES]);

/**
 * Every `detail.issue` value the sandbox answers with, and the rule behind it. WeChat Pay's `detail` is not
 * documented for these endpoints, so each value, and each business rule that has no code in the seeds, is invented.
 */
export const INVENTED_ISSUES = {
  // Business rules: which answer the live service gives is not documented.
  DUPLICATE: 'batch-create, 400 INVALID_REQUEST: an out_record_id that exists already',
  CONTRACT_NOT_AUTHORIZED: 'batch-create, 400 INVALID_REQUEST: the contract is not signed (or is terminated)',
  CONTRACT_NOT_FOUND:
    'batch-create, 400 INVALID_REQUEST: no contract has this contract_id; terminate, 404 RESOURCE_NOT_EXISTS: ' +
    'no contract has this out_contract_code',
  MISMATCH: 'batch-create, 400 INVALID_REQUEST / signing query, 400 PARAM_ERROR: appid or openid is not the contract’s',
  ALREADY_TERMINATED: 'terminate, 400 INVALID_REQUEST: the contract is terminated already',
  OUT_OF_WINDOW:
    'batch-create, 400 PARAM_ERROR: repayment_date outside the day after today … 14 days after (the window is the ' +
    'product’s documented rule; the answer is not)',
  TOO_MANY_ITEMS: 'batch-create, 400 PARAM_ERROR: more schedule items than the one per call the live service accepts',
  EXCEEDS_REPAYMENT_AMOUNT: '400 PARAM_ERROR: min_repayment_amount above repayment_amount',
  // Field checks: PARAM_ERROR itself is documented; the machine-readable issue is not.
  REQUIRED: '400 PARAM_ERROR: a required field is missing or empty',
  TOO_LONG: '400 PARAM_ERROR: a field is longer than its seed length',
  INVALID_CHARACTER: '400 PARAM_ERROR: a 4-byte UTF-8 character (emoji) or a lone surrogate',
  INVALID_CHARSET: '400 PARAM_ERROR: a character outside the field’s set (digits and letters …)',
  INVALID_AMOUNT: '400 PARAM_ERROR: not a positive integer amount in fen',
  INVALID_DATE: '400 PARAM_ERROR: not a real date YYYY-MM-DD',
  INVALID_JSON: '400 PARAM_ERROR: the body is not JSON',
  INVALID_ENCODING: '400 PARAM_ERROR: the path parameter is not valid percent-encoding',
  // Signature checks: 401 SIGN_ERROR is documented; why it was refused is not.
  MISSING_AUTHORIZATION: '401 SIGN_ERROR: no Authorization header',
  MALFORMED_AUTHORIZATION: '401 SIGN_ERROR: the Authorization header does not parse',
  MCHID_MISMATCH: '401 SIGN_ERROR: unknown mchid',
  SERIAL_MISMATCH: '401 SIGN_ERROR: unknown merchant certificate serial',
  TIMESTAMP_EXPIRED: '401 SIGN_ERROR: timestamp more than 300 s from now',
  MISSING_NONCE: '401 SIGN_ERROR: empty nonce_str',
  SIGNATURE_MISMATCH: '401 SIGN_ERROR: the signature does not verify',
  NONCE_REUSED: '401 SIGN_ERROR: nonce_str seen within the replay window',
  // The control API's own answers (never under /v3, never labelled).
  INVALID: 'control API, 400 PARAM_ERROR: a field of a control request is invalid',
} as const;
export type InventedIssue = keyof typeof INVENTED_ISSUES;

/** The labels of one APIv3 answer body: its detail.issue, and its code when neither source documents it. */
export function inventionsIn(answer: unknown): string[] {
  if (typeof answer !== 'object' || answer === null) return [];
  const { code, detail } = answer as { code?: unknown; detail?: unknown };
  const labels: string[] = [];
  if (typeof code === 'string' && !DOCUMENTED_CODES.has(code)) labels.push(`code=${code}`);
  const issue = typeof detail === 'object' && detail !== null ? (detail as { issue?: unknown }).issue : undefined;
  if (typeof issue === 'string') labels.push(`detail.issue=${issue}`);
  return labels;
}

export interface InventionCatalogue {
  documentedCodes: { seeds: readonly string[]; digest: readonly string[] };
  /** Label (as in X-Sandbox-Invented and the request log) → the answer and rule it marks. */
  invented: Record<string, string>;
}

export function inventionCatalogue(): InventionCatalogue {
  return {
    documentedCodes: { seeds: SEED_CODES, digest: DIGEST_CODES },
    invented: {
      ...Object.fromEntries(Object.entries(INVENTED_ISSUES).map(([issue, rule]) => [`detail.issue=${issue}`, rule])),
      'code=*': 'an error code in neither the seeds nor the digest (the sandbox gives none today)',
    },
  };
}
