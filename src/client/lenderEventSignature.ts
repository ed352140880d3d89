import { createHmac, timingSafeEqual } from 'node:crypto';
import type { LenderEvent } from '../domain/lenderEvents';

/**
 * The signature of lender events, as the large payment providers sign their webhooks: the header
 * `Lender-Event-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>`. During a secret
 * rotation the worker signs with every configured secret (one `v1=` each) and a receiver accepts any it knows.
 * The timestamp bounds replays: an event signed longer ago than the tolerance is refused. The worker signs with
 * this module and the lender verifies with it (`verifyLenderEvent`), so the two cannot drift apart.
 */

export const LENDER_EVENT_SIGNATURE_HEADER = 'Lender-Event-Signature';
export const DEFAULT_TOLERANCE_SECONDS = 300;

export type LenderEventVerificationCode =
  | 'SIGNATURE_MISSING'
  | 'SIGNATURE_MALFORMED'
  | 'SIGNATURE_MISMATCH'
  | 'TIMESTAMP_OUT_OF_TOLERANCE'
  | 'BODY_NOT_AN_EVENT';

/** A delivery that must be refused (answer 400): it was not signed with the secret, or too long ago. */
export class LenderEventVerificationError extends Error {
  override readonly name = 'LenderEventVerificationError';
  readonly httpStatus = 400;
  readonly retryable = false;
  constructor(
    readonly code: LenderEventVerificationCode,
    message: string,
  ) {
    super(message);
  }
}

function hmacHex(secret: string, timestamp: string, body: Buffer): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}

/** The header value for `body`, signed at `timestampSeconds` with each secret. */
export function signLenderEvent(body: string | Buffer, secrets: readonly string[], timestampSeconds: number): string {
  if (secrets.length === 0) throw new Error('no lender event secret');
  const t = String(Math.floor(timestampSeconds));
  const raw = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return [`t=${t}`, ...secrets.map((secret) => `v1=${hmacHex(secret, t, raw)}`)].join(',');
}

export interface VerifyLenderEventInput {
  /** The request body exactly as received (verify the bytes, not a re-serialized object). */
  body: string | Buffer;
  /** The `Lender-Event-Signature` header. */
  signature: string | string[] | undefined;
  /** The shared secret, or several during a rotation. */
  secret: string | readonly string[];
  toleranceSeconds?: number;
  /** Milliseconds since the epoch (tests). */
  now?: number;
}

/** Verifies a delivery and returns its event; throws LenderEventVerificationError when it must be refused. */
export function verifyLenderEvent(input: VerifyLenderEventInput): LenderEvent {
  const header = Array.isArray(input.signature) ? input.signature.join(',') : input.signature;
  if (!header)
    throw new LenderEventVerificationError('SIGNATURE_MISSING', `no ${LENDER_EVENT_SIGNATURE_HEADER} header`);
  const parts = header.split(',').map((part) => part.trim().split('='));
  const t = parts.find(([key]) => key === 't')?.[1];
  const signatures = parts.filter(([key, value]) => key === 'v1' && value).map(([, value]) => value as string);
  if (!t || !/^\d{1,12}$/.test(t) || signatures.length === 0) {
    throw new LenderEventVerificationError('SIGNATURE_MALFORMED', 'the signature header is not t=…,v1=…');
  }
  const raw = typeof input.body === 'string' ? Buffer.from(input.body, 'utf8') : input.body;
  const secrets = typeof input.secret === 'string' ? [input.secret] : input.secret;
  const matches = secrets.some((secret) => {
    const expected = Buffer.from(hmacHex(secret, t, raw), 'hex');
    return signatures.some((candidate) => {
      const given = Buffer.from(candidate, 'hex');
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
  });
  if (!matches) {
    throw new LenderEventVerificationError('SIGNATURE_MISMATCH', 'the signature does not match the body');
  }
  const tolerance = input.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const ageSeconds = Math.abs((input.now ?? Date.now()) / 1000 - Number(t));
  if (ageSeconds > tolerance) {
    throw new LenderEventVerificationError(
      'TIMESTAMP_OUT_OF_TOLERANCE',
      `signed ${Math.round(ageSeconds)} s away from now (tolerance ${tolerance} s)`,
    );
  }
  let event: unknown;
  try {
    event = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new LenderEventVerificationError('BODY_NOT_AN_EVENT', 'the body is not JSON');
  }
  if (!event || typeof event !== 'object' || typeof (event as { id?: unknown }).id !== 'string') {
    throw new LenderEventVerificationError('BODY_NOT_AN_EVENT', 'the body is not a lender event');
  }
  return event as LenderEvent;
}
