import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/load';
import { readLenderEventSecrets } from '../../src/config/lenderEvents';

/** `lender.events` of temporal.yaml and its LENDER_EVENTS_* overrides. */

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'config-events-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  TEMPORAL_CONFIG_FILE: join(dir, 'no-such.toml'),
  ...extra,
});

function load(yaml: string, extra: Record<string, string> = {}) {
  const file = join(dir, 'temporal.yaml');
  writeFileSync(file, yaml);
  return loadConfig({ file, env: env(extra) });
}

function loadError(yaml: string, extra: Record<string, string> = {}): ConfigError {
  try {
    load(yaml, extra);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected loadConfig to fail');
}

it('is off when no url is set, and says so', () => {
  const config = loadConfig({ cwd: dir, env: env() });
  expect(config.lenderEvents).toMatchObject({ url: undefined, taskQueue: 'credit-repayment-events' });
  expect(config.choices.join('\n')).toMatch(/lender events: off/);
});

it('reads url, secret file (relative to the YAML), headers and limits; prints only the origin', () => {
  const config = load(
    [
      'lender:',
      '  events:',
      '    url: https://lender.example.com/hooks/repayment?token=abc',
      '    secretFile: secrets/events.secret',
      '    headers: { X-Tenant: lender-7 }',
      '    timeoutMs: 5000',
      '',
    ].join('\n'),
  );
  expect(config.lenderEvents).toMatchObject({
    url: 'https://lender.example.com/hooks/repayment?token=abc',
    secretFile: join(dir, 'secrets/events.secret'),
    headers: { 'X-Tenant': 'lender-7' },
    timeoutMs: 5000,
    maxConcurrentDeliveries: 20,
  });
  const said = config.choices.join('\n');
  expect(said).toContain('lender events: signed deliveries to https://lender.example.com');
  expect(said).not.toContain('token=abc');
});

it('takes LENDER_EVENTS_URL and LENDER_EVENTS_SECRET_FILE over the YAML', () => {
  const config = load('lender:\n  events:\n    url: https://a.example.com/\n    secretFile: a.secret\n', {
    LENDER_EVENTS_URL: 'http://127.0.0.1:9999/events',
    LENDER_EVENTS_SECRET_FILE: '/run/secrets/events',
  });
  expect(config.lenderEvents).toMatchObject({ url: 'http://127.0.0.1:9999/events', secretFile: '/run/secrets/events' });
});

it('refuses a url without a secret file, a bad url, inline secrets, reserved headers and a remote dev receiver', () => {
  expect(loadError('lender:\n  events:\n    url: https://lender.example.com/\n')).toMatchObject({
    key: 'lender.events.secretFile',
  });
  expect(loadError('', { LENDER_EVENTS_URL: 'ftp://x', LENDER_EVENTS_SECRET_FILE: 's' })).toMatchObject({
    key: 'lender.events.url',
  });
  expect(loadError('lender:\n  events:\n    secret: hunter2\n')).toMatchObject({
    key: 'lender.events.secret',
    rule: 'unknown key',
  });
  expect(loadError('lender:\n  events:\n    headers: { Lender-Event-Signature: x }\n').key).toMatch(
    /^lender\.events\.headers/,
  );
  expect(
    loadError('lender:\n  events:\n    url: https://lender.example.com/\n    secretFile: s\n    devReceiver: true\n'),
  ).toMatchObject({ key: 'lender.events.devReceiver' });
});

it('reads one secret per line and refuses an empty file', () => {
  const file = join(dir, 'events.secret');
  writeFileSync(file, 'new-secret\n\nold-secret\n');
  expect(readLenderEventSecrets(file)).toEqual(['new-secret', 'old-secret']);
  writeFileSync(file, '\n');
  expect(() => readLenderEventSecrets(file)).toThrow(ConfigError);
  expect(() => readLenderEventSecrets(join(dir, 'missing'))).toThrow(ConfigError);
});
