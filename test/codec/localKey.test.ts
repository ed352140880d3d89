import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { defaultPayloadConverter } from '@temporalio/common';
import { ConfigError, loadConfig, type AppConfig } from '../../src/config/load';
import { projectRoot } from '../../src/paths';

/** Payload encryption on by default for the embedded dev server: the local key, its reuse, and the switches. */

const run = promisify(execFile);
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'local-key-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const env = (): NodeJS.ProcessEnv => ({ TEMPORAL_CONFIG_FILE: join(dir, 'none.toml') });
const keyFile = (): string => join(dir, '.temporal', 'payload.key');

function withYaml(text: string): AppConfig {
  const file = join(dir, 'temporal.yaml');
  writeFileSync(file, text);
  return loadConfig({ file, env: env() });
}

async function roundTrip(from: AppConfig, to: AppConfig): Promise<unknown> {
  const sealed = await from.temporal.payloadCodec!.encode([defaultPayloadConverter.toPayload('secret')]);
  return defaultPayloadConverter.fromPayload((await to.temporal.payloadCodec!.decode(sealed))[0]!);
}

it('generates a private key in the state directory on the embedded default and reuses it afterwards', async () => {
  const first = loadConfig({ cwd: dir, env: env() });
  expect(first.temporal.mode).toBe('embedded');
  expect(first.choices.join('\n')).toContain(`payloads encrypted with the local key ${keyFile()} (generated now)`);
  expect(statSync(keyFile()).mode & 0o777).toBe(0o600);
  expect(Buffer.from(readFileSync(keyFile(), 'utf8').trim(), 'base64')).toHaveLength(32);

  // The client, CLI and demo load the same configuration later: same key, nothing regenerated.
  const later = loadConfig({ cwd: dir, env: env() });
  expect(later.choices.join('\n')).not.toContain('generated now');
  expect(await roundTrip(first, later)).toBe('secret');
  expect(readFileSync(join(projectRoot(), '.gitignore'), 'utf8')).toMatch(/^\.temporal\/$/m);
});

it('lets processes started together agree on one key', async () => {
  const module = join(projectRoot(), 'dist', 'src', 'codec', 'localKey.js');
  const script = `process.stdout.write(require(${JSON.stringify(module)}).loadOrCreateLocalKey(process.argv[1]).key.toString('hex'))`;
  const keys = await Promise.all(
    Array.from({ length: 4 }, () => run(process.execPath, ['-e', script, keyFile()], { timeout: 20_000 })),
  );
  expect(new Set(keys.map((k) => k.stdout)).size).toBe(1);
  expect(keys[0]!.stdout).toHaveLength(64);
}, 30_000);

it('refuses a local key that others can read', () => {
  loadConfig({ cwd: dir, env: env() });
  chmodSync(keyFile(), 0o644);
  expect(() => loadConfig({ cwd: dir, env: env() })).toThrow(ConfigError);
  expect(() => loadConfig({ cwd: dir, env: env() })).toThrow(/temporal\.devServer\.payloadKeyFile.*chmod 600/);
});

it('keeps an explicitly configured key, and can be switched off for the embedded default', async () => {
  writeFileSync(join(dir, 'k1.key'), randomBytes(32).toString('base64'));
  const explicit = withYaml('temporal:\n  payloadEncryption:\n    keyId: k1\n    keyFile: k1.key\n');
  const [sealed] = await explicit.temporal.payloadCodec!.encode([defaultPayloadConverter.toPayload('x')]);
  expect(Buffer.from(sealed!.metadata!['encryption-key-id']!).toString()).toBe('k1');
  expect(existsSync(keyFile())).toBe(false);

  const off = withYaml('temporal:\n  devServer:\n    encryptPayloads: false\n');
  expect(off.temporal.payloadCodec).toBeUndefined();
  expect(off.temporal.dataConverter).toBeUndefined();
  expect(off.choices.join('\n')).toContain('payload encryption off');
  expect(existsSync(keyFile())).toBe(false);
});

it('never generates a key for an external cluster, and says that payloads are in clear', () => {
  const external = withYaml('temporal:\n  address: 127.0.0.1:7233\n');
  expect(external.temporal.payloadCodec).toBeUndefined();
  expect(external.choices.join('\n')).toContain('payloads NOT encrypted');
  expect(existsSync(keyFile())).toBe(false);
});

it('requires a token for a codec server beyond loopback', () => {
  expect(() => withYaml('codecServer:\n  host: 0.0.0.0\n')).toThrow(/codecServer\.tokenFile/);
  const ok = withYaml('codecServer:\n  host: 0.0.0.0\n  tokenFile: codec.token\n');
  expect(ok.codecServer.tokenFile).toBe(join(dir, 'codec.token'));
  expect(() => withYaml('codecServer:\n  allowedOrigins: ["http://ui.example/path"]\n')).toThrow(
    /codecServer\.allowedOrigins\[0\]/,
  );
});
