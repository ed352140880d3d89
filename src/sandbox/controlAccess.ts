import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

/**
 * Who may use the control API (`/sandbox/…`, unsigned: it can authorize contracts, move bills, inject faults).
 * Without a token: loopback callers only, whatever address the sandbox listens on; anyone else gets 403.
 * With a token (SANDBOX_CONTROL_TOKEN or the controlToken option): every caller, loopback included, must send
 * `Authorization: Bearer <token>`; without it or with another one, 401.
 */

export const MIN_CONTROL_TOKEN_CHARS = 16;

export interface ControlRefusal {
  status: 401 | 403;
  headers: Record<string, string>;
  body: { code: string; message: string };
}

/** 127.0.0.0/8 and ::1, also in their IPv4-mapped IPv6 form (a dual-stack listener reports `::ffff:127.0.0.1`). */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  if (isIP(address) === 4) return address.startsWith('127.');
  if (isIP(address) !== 6) return false;
  // The URL parser writes IPv6 in one canonical form: compressed, hex (::ffff:127.0.0.1 → [::ffff:7f00:1]).
  const canonical = new URL(`http://[${address}]`).hostname;
  return canonical === '[::1]' || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(canonical);
}

/** Undefined when the call may proceed; otherwise the answer to send. */
export function checkControlAccess(
  remoteAddress: string | undefined,
  authorization: string | undefined,
  token: string | undefined,
): ControlRefusal | undefined {
  if (token === undefined) {
    if (isLoopbackAddress(remoteAddress)) return undefined;
    return {
      status: 403,
      headers: {},
      body: {
        code: 'FORBIDDEN',
        message:
          `the sandbox control API answers loopback callers only (this call came from ${remoteAddress ?? 'an unknown address'}); ` +
          'start the sandbox with SANDBOX_CONTROL_TOKEN set to let others in with Authorization: Bearer <token>',
      },
    };
  }
  const presented = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
  if (presented !== undefined && sameSecret(presented, token)) return undefined;
  return {
    status: 401,
    headers: { 'WWW-Authenticate': 'Bearer realm="sandbox control API"' },
    body: {
      code: 'UNAUTHORIZED',
      message:
        presented === undefined
          ? 'the sandbox control API requires Authorization: Bearer <SANDBOX_CONTROL_TOKEN>'
          : 'the control token does not match',
    },
  };
}

export function assertControlToken(token: string): void {
  if (token.length < MIN_CONTROL_TOKEN_CHARS || /\s/.test(token)) {
    throw new Error(`sandbox control token: at least ${MIN_CONTROL_TOKEN_CHARS} characters without spaces`);
  }
}

/** Compares digests, so neither the length nor a prefix of the token leaks through timing. */
function sameSecret(presented: string, token: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(presented), digest(token));
}
