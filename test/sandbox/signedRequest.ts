import type { KeyObject } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Sandbox } from '../../src/sandbox';
import { buildAuthorization, newNonce, unixSeconds } from '../../src/wechatpay/signer';
import { Verifier } from '../../src/wechatpay/verifier';

/**
 * A tiny APIv3 client for the sandbox's own tests: signs with the core signer and lets each test break one
 * rule at a time (headers, mchid, serial, timestamp, nonce, the signed URL or body).
 */

export interface SignedRequestOptions {
  method?: 'GET' | 'POST';
  /** Path and query exactly as sent. */
  path: string;
  body?: unknown;
  /** Which base URL; default the primary. */
  baseUrl?: string;
  mchid?: string;
  serialNo?: string;
  privateKey?: KeyObject;
  timestamp?: string;
  nonce?: string;
  /** What the signature covers, when it should differ from what is sent. */
  signedPath?: string;
  signedBody?: string;
  /** Extra or overriding headers; a null value removes the header. */
  headers?: Record<string, string | null>;
  /** Send no Authorization header at all. */
  unsigned?: boolean;
}

export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export async function signedRequest(sandbox: Sandbox, options: SignedRequestOptions): Promise<RawAnswer> {
  const method = options.method ?? (options.body === undefined ? 'GET' : 'POST');
  const text =
    options.body === undefined ? '' : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  const authorization = buildAuthorization(
    {
      mchid: options.mchid ?? sandbox.mchid,
      serialNo: options.serialNo ?? sandbox.merchant.serialNo,
      privateKey: options.privateKey ?? sandbox.merchant.privateKey,
    },
    method,
    options.signedPath ?? options.path,
    options.signedBody ?? text,
    options.timestamp ?? unixSeconds(),
    options.nonce ?? newNonce(),
  );
  const headers: Record<string, string | null> = {
    Accept: 'application/json',
    'User-Agent': 'sandbox-tests/1.0',
    ...(method === 'POST' ? { 'Content-Type': 'application/json' } : {}),
    ...(options.unsigned ? {} : { Authorization: authorization }),
    ...options.headers,
  };
  return rawRequest(`${options.baseUrl ?? sandbox.primaryUrl}${options.path}`, method, headers, text);
}

export function rawRequest(
  url: string,
  method: string,
  headers: Record<string, string | null>,
  body: string,
): Promise<RawAnswer> {
  const sent: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== null) sent[name] = value;
  if (body.length > 0) sent['Content-Length'] = String(Buffer.byteLength(body));
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: sent, agent: false, timeout: 20_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('timeout', () => req.destroy(new Error('test request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

export function verifierFor(sandbox: Sandbox): Verifier {
  return new Verifier(new Map(sandbox.platformKeys.map((k) => [k.id, k.publicKey])));
}

export function tempDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'sandbox-test-'));
}

/** An authorized contract with one fixed shape, for tests that need one. */
export async function authorizedContract(
  sandbox: Sandbox,
  code: string,
): Promise<{ contract_id: string; appid: string; openid: string }> {
  const contract = await sandbox.control.createContract({
    outContractCode: code,
    contractId: `WXC${code}`,
    appid: 'wxd678efh567hg6787',
    openid: `oUpF8u_${code}`,
    authorized: true,
  });
  return { contract_id: contract.contract_id, appid: contract.appid, openid: contract.openid };
}
