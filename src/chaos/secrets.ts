import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The log scan: every line every process of the run wrote (workers, sandbox, dev server, the chaos driver itself) is
 * searched for a private key (PEM header or a piece of any key file's body), an Authorization header, the APIv3 or
 * payload key, and any openid of the run. The sandbox's request log file is WeChat Pay's side, not a log line, and is
 * not in the log directory.
 */

export interface SecretFinding {
  kind: 'private-key' | 'authorization' | 'secret-key' | 'openid';
  file: string;
  line: number;
  /** The line with the secret itself masked. */
  excerpt: string;
}

export interface LogScan {
  files: number;
  lines: number;
  findings: SecretFinding[];
  /** Findings by kind (all of them; `findings` keeps the first few). */
  counts: Record<SecretFinding['kind'], number>;
}

export interface SecretMaterial {
  /** PEM files of private keys: their bodies must never appear, whole or in part. */
  privateKeyFiles: string[];
  /** Files holding a secret as text (the APIv3 key, the payload key). */
  secretFiles: string[];
  openidPattern: RegExp;
}

const PEM_PRIVATE = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;
const AUTHORIZATION = /WECHATPAY2-SHA256-RSA2048\s+(mchid|nonce_str|signature|timestamp|serial_no)=/;
const MAX_FINDINGS = 20;

export function scanLogs(logDir: string, material: SecretMaterial): LogScan {
  const fragments = material.privateKeyFiles.flatMap((file) => keyFragments(readFileSync(file, 'utf8')));
  const secrets = material.secretFiles.map((file) => readFileSync(file, 'utf8').trim()).filter((s) => s.length >= 16);
  const scan: LogScan = {
    files: 0,
    lines: 0,
    findings: [],
    counts: { 'private-key': 0, authorization: 0, 'secret-key': 0, openid: 0 },
  };
  for (const name of readdirSync(logDir).sort()) {
    scan.files += 1;
    const lines = readFileSync(join(logDir, name), 'utf8').split('\n');
    lines.forEach((text, index) => {
      scan.lines += 1;
      const found = (kind: SecretFinding['kind'], secret: RegExp | string): void => {
        scan.counts[kind] += 1;
        if (scan.findings.length >= MAX_FINDINGS) return;
        const excerpt = text.replace(secret, '[FOUND]').slice(0, 300);
        scan.findings.push({ kind, file: name, line: index + 1, excerpt });
      };
      if (PEM_PRIVATE.test(text)) found('private-key', PEM_PRIVATE);
      const fragment = fragments.find((f) => text.includes(f));
      if (fragment) found('private-key', fragment);
      if (AUTHORIZATION.test(text)) found('authorization', /WECHATPAY2-SHA256-RSA2048\s+\S+/);
      const secret = secrets.find((s) => text.includes(s));
      if (secret) found('secret-key', secret);
      if (material.openidPattern.test(text)) found('openid', new RegExp(material.openidPattern.source, 'g'));
    });
  }
  return scan;
}

/** Three 40-character pieces of a PEM body: any of them in a log means the key leaked, wrapped or not. */
function keyFragments(pem: string): string[] {
  const body = pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
  if (body.length < 200) return [];
  return [0.25, 0.5, 0.75].map((at) => body.slice(Math.floor(body.length * at), Math.floor(body.length * at) + 40));
}
