import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/load';

/** An environment without the machine's TEMPORAL_* / WECHATPAY_* variables or client config file. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { TEMPORAL_CONFIG_FILE: join(dir, 'no-such.toml'), ...extra };
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'config-'));
});

function write(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

function loadError(text: string): ConfigError {
  const file = write('temporal.yaml', text);
  try {
    loadConfig({ file, env: cleanEnv() });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected loadConfig to fail');
}

describe('loadConfig', () => {
  it('uses the embedded dev server and the sandbox when nothing is configured, and says so', () => {
    const cfg = loadConfig({ cwd: dir, env: cleanEnv() });
    expect(cfg.file).toBeUndefined();
    expect(cfg.temporal.mode).toBe('embedded');
    expect(cfg.temporal.connection.address).toBe('127.0.0.1:7233');
    expect(cfg.wechatpay.mode).toBe('sandbox');
    expect(cfg.choices.join('\n')).toMatch(/embedded dev server/);
    expect(cfg.choices.join('\n')).toMatch(/local sandbox/);
  });

  it('reads the committed temporal.yaml', () => {
    const cfg = loadConfig({ file: join(__dirname, '../../temporal.yaml'), env: cleanEnv() });
    expect(cfg.temporal.taskQueue).toBe('credit-repayment');
    expect(cfg.temporal.mode).toBe('embedded');
  });

  it('names the key of a wrong type', () => {
    const err = loadError('wechatpay:\n  timeoutMs: "fast"\n');
    expect(err.key).toBe('wechatpay.timeoutMs');
    expect(err.message).toContain('wechatpay.timeoutMs');
  });

  it('names an unknown key', () => {
    const err = loadError('temporal:\n  adress: localhost:7233\n');
    expect(err.key).toBe('temporal.adress');
    expect(err.rule).toBe('unknown key');
  });

  it('names a missing required key', () => {
    const err = loadError('wechatpay:\n  verificationKeys:\n    - publicKeyFile: wxp_pub.pem\n');
    expect(err.key).toBe('wechatpay.verificationKeys[0].id');
  });

  it('names the missing merchant credential when only some are given', () => {
    const err = loadError('wechatpay:\n  mchid: "1900000001"\n');
    expect(err.key).toBe('wechatpay.merchantSerialNo');
  });

  it('rejects a secret written inline', () => {
    const err = loadError('temporal:\n  apiKey: abc\n');
    expect(err.key).toBe('temporal.apiKey');
  });

  it('rejects invalid YAML with a position', () => {
    const err = loadError('temporal: [\n');
    expect(err.key).toMatch(/^line \d+:\d+$/);
  });

  it('lets TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE override the file, and reads the API key from a file', () => {
    write('key.txt', 'secret-key\n');
    const file = write(
      'temporal.yaml',
      'temporal:\n  address: yaml-host:7233\n  namespace: yaml-ns\n  apiKeyFile: key.txt\n',
    );
    const fromYaml = loadConfig({ file, env: cleanEnv() });
    expect(fromYaml.temporal.mode).toBe('external');
    expect(fromYaml.temporal.connection.address).toBe('yaml-host:7233');
    expect(fromYaml.temporal.connection.apiKey).toBe('secret-key');
    expect(fromYaml.temporal.connection.tls).toBe(true);
    expect(fromYaml.choices.join('\n')).not.toContain('secret-key');

    const fromEnv = loadConfig({
      file,
      env: cleanEnv({ TEMPORAL_ADDRESS: 'env-host:7233', TEMPORAL_NAMESPACE: 'env-ns' }),
    });
    expect(fromEnv.temporal.connection.address).toBe('env-host:7233');
    expect(fromEnv.temporal.namespace).toBe('env-ns');
  });

  it('resolves merchant credentials relative to the file and checks that the files exist', () => {
    write('apiclient_key.pem', 'x');
    write('wxp_pub.pem', 'x');
    const file = write(
      'temporal.yaml',
      [
        'wechatpay:',
        '  mchid: "1900000001"',
        '  merchantSerialNo: 5157F09EFDC096DE15EBE81A47057A7232F1B8E1',
        '  privateKeyFile: apiclient_key.pem',
        '  verificationKeys:',
        '    - id: PUB_KEY_ID_01',
        '      publicKeyFile: wxp_pub.pem',
        '    - id: PUB_KEY_ID_02',
        '      publicKeyFile: missing.pem',
      ].join('\n'),
    );
    try {
      loadConfig({ file, env: cleanEnv() });
      throw new Error('expected failure');
    } catch (err) {
      expect((err as ConfigError).key).toBe('wechatpay.verificationKeys[1].publicKeyFile');
    }
    write('missing.pem', 'x');
    const cfg = loadConfig({ file, env: cleanEnv() });
    expect(cfg.wechatpay.mode).toBe('merchant');
    expect(cfg.wechatpay.merchant?.privateKeyFile).toBe(join(dir, 'apiclient_key.pem'));
  });
});

describe('loadConfig: lifecycle policy defaults', () => {
  it('accepts known policy keys and names an unknown or out-of-range one', () => {
    expect(
      loadConfig({ file: write('temporal.yaml', 'lifecycle:\n  pollIntervalHours: 12\n'), env: cleanEnv() }).lifecycle,
    ).toEqual({
      pollIntervalHours: 12,
    });
    expect(loadError('lifecycle:\n  pollIntervalHour: 12\n').key).toBe('lifecycle.pollIntervalHour');
    expect(loadError('lifecycle:\n  scheduleLeadDays: 30\n').key).toBe('lifecycle.scheduleLeadDays');
    // 14 would put the create on the window's last day: refused here, though a lifecycle begun with it still replays.
    const edge = loadError('lifecycle:\n  scheduleLeadDays: 14\n');
    expect(edge.key).toBe('lifecycle.scheduleLeadDays');
    expect(edge.message).toMatch(/at most 13/);
    expect(loadError('lifecycle:\n  spreadMinutes: 721\n').key).toBe('lifecycle.spreadMinutes');
  });
});

describe('loadConfig: WeChat Pay base URLs', () => {
  it('defaults the backup domain only together with the production primary', () => {
    expect(loadConfig({ cwd: dir, env: cleanEnv() }).wechatpay.baseUrls).toEqual({
      primary: 'https://api.mch.weixin.qq.com',
      backup: 'https://api2.mch.weixin.qq.com',
    });
    const staging = loadConfig({ cwd: dir, env: cleanEnv({ WECHATPAY_BASE_URL: 'http://127.0.0.1:9000' }) });
    expect(staging.wechatpay.baseUrls).toEqual({ primary: 'http://127.0.0.1:9000' });
    const file = write(
      'temporal.yaml',
      'wechatpay:\n  baseUrls:\n    primary: http://127.0.0.1:9000\n    backup: http://127.0.0.1:9001\n',
    );
    expect(loadConfig({ file, env: cleanEnv() }).wechatpay.baseUrls.backup).toBe('http://127.0.0.1:9001');
  });
});

describe('loadConfig: limits that protect the activities', () => {
  it('refuses an HTTP timeout whose two attempts would not fit the activity timeout', () => {
    const err = loadError('wechatpay:\n  timeoutMs: 30000\n');
    expect(err.key).toBe('wechatpay.timeoutMs');
    expect(err.rule).toMatch(/at most 20000/);
  });
});

describe('loadConfig: platform-certificate mode', () => {
  const credentials = [
    'wechatpay:',
    '  mchid: "1900000001"',
    '  merchantSerialNo: 5157F09EFDC096DE15EBE81A47057A7232F1B8E1',
    '  privateKeyFile: apiclient_key.pem',
  ];

  it('turns on with an APIv3 key file, makes verification keys optional and resolves the paths', () => {
    write('apiclient_key.pem', 'x');
    write('apiv3.key', 'x');
    const file = write('temporal.yaml', [...credentials, '  apiV3KeyFile: apiv3.key', ''].join('\n'));
    const cfg = loadConfig({ file, env: cleanEnv() });
    expect(cfg.wechatpay.merchant?.verificationKeys).toEqual([]);
    expect(cfg.wechatpay.merchant?.platformCertificates).toEqual({
      apiV3KeyFile: join(dir, 'apiv3.key'),
      storeFile: join(dir, '.wechatpay/platform-certificates.json'),
      refreshIntervalMs: 43_200_000,
      unknownSerialCooldownMs: 60_000,
    });
    expect(cfg.choices.join('\n')).toMatch(/platform certificates downloaded and refreshed/);
  });

  it('takes the APIv3 key file from WECHATPAY_APIV3_KEY_FILE, and checks that it exists', () => {
    write('apiclient_key.pem', 'x');
    const file = write('temporal.yaml', [...credentials, ''].join('\n'));
    const missing = join(dir, 'nowhere.key');
    expect(() => loadConfig({ file, env: cleanEnv({ WECHATPAY_APIV3_KEY_FILE: missing }) })).toThrow(
      expect.objectContaining({ key: 'wechatpay.apiV3KeyFile' }),
    );
    const key = write('env.key', 'x');
    const cfg = loadConfig({ file, env: cleanEnv({ WECHATPAY_APIV3_KEY_FILE: key }) });
    expect(cfg.wechatpay.merchant?.platformCertificates?.apiV3KeyFile).toBe(key);
  });

  it('still wants verification keys without an APIv3 key, and says what else would do', () => {
    write('apiclient_key.pem', 'x');
    const err = loadError([...credentials, ''].join('\n'));
    expect(err.key).toBe('wechatpay.verificationKeys');
    expect(err.rule).toMatch(/unless wechatpay.apiV3KeyFile is/);
  });

  it('bounds the refresh interval and names the key', () => {
    const err = loadError('wechatpay:\n  platformCertificates:\n    refreshIntervalMs: 1000\n');
    expect(err.key).toBe('wechatpay.platformCertificates.refreshIntervalMs');
    expect(loadError('wechatpay:\n  apiV3Key: abc\n').key).toBe('wechatpay.apiV3Key');
  });
});
