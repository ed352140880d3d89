import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { wechatpayClientFromConfig } from '../../src/app/wechatpay';
import { runCli } from '../../src/client/cli';
import { loadConfig } from '../../src/config/load';
import { startSandbox, type Sandbox } from '../../src/sandbox';
import { PlatformCertificateClient, queryContractSigning, readCertificateFile } from '../../src/wechatpay';
import { authorizedContract, tempDataDir } from '../sandbox/signedRequest';

/**
 * Pinning rules of platform-certificate mode, through the operator's commands (`repayment certificates …`) and
 * the worker's client built from temporal.yaml: nothing trusted means no start, the first download is trusted
 * only by `certificates pin`, and a pin is refused when something is trusted already or the download is not
 * consistent.
 */

const APPID = 'wxd678efh567hg6787';
let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({ dataDir: tempDataDir() });
});
afterAll(() => sandbox.close());
afterEach(() => sandbox.control.clearFaults());

/** temporal.yaml for the sandbox's merchant in platform-certificate mode, with no verification key. */
function writeConfig(): { file: string; storeFile: string } {
  const dir = tempDataDir();
  const storeFile = join(dir, 'pinned', 'certificates.json');
  const file = join(dir, 'temporal.yaml');
  const q = JSON.stringify;
  writeFileSync(
    file,
    [
      'wechatpay:',
      `  mchid: ${q(sandbox.mchid)}`,
      `  merchantSerialNo: ${q(sandbox.merchant.serialNo)}`,
      `  privateKeyFile: ${q(sandbox.merchant.privateKeyPath)}`,
      `  apiV3KeyFile: ${q(sandbox.apiV3KeyPath)}`,
      '  platformCertificates:',
      `    storeFile: ${q(storeFile)}`,
      '  baseUrls:',
      `    primary: ${q(sandbox.primaryUrl)}`,
      `    backup: ${q(sandbox.backupUrl)}`,
      '',
    ].join('\n'),
  );
  return { file, storeFile };
}

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

function clientFrom(file: string): PlatformCertificateClient {
  const config = loadConfig({ file, env: { TEMPORAL_CONFIG_FILE: join(tempDataDir(), 'none.toml') } });
  const merchant = config.wechatpay.merchant;
  if (!merchant) throw new Error('no merchant in the test config');
  return wechatpayClientFromConfig(config.wechatpay, merchant, config.wechatpay.baseUrls) as PlatformCertificateClient;
}

describe('platform-certificate mode with nothing trusted', () => {
  it('refuses to build the worker client and names the pin command', () => {
    const { file } = writeConfig();
    expect(() => clientFrom(file)).toThrow(
      expect.objectContaining({
        code: 'NO_TRUSTED_KEY',
        message: expect.stringContaining('npm run cli -- certificates pin'),
      }),
    );
  });

  it('pins on the operator command, after which the worker trusts the certificates and refreshes them', async () => {
    const { file, storeFile } = writeConfig();
    const [cert] = sandbox.platformCertificates;
    const pinned = await cli('--config', file, 'certificates', 'pin');
    expect(pinned).toMatchObject({ code: 0, err: '' });
    expect(pinned.out).toContain(cert?.serial);
    expect(statSync(storeFile).mode & 0o777).toBe(0o600);

    const client = clientFrom(file);
    try {
      await authorizedContract(sandbox, 'PIN1');
      expect(await queryContractSigning(client, { out_contract_code: 'PIN1', appid: APPID })).toMatchObject({
        auth_state: 'AUTHORIZED',
      });
      await client.certificates.whenIdle(); // the refresh it started with
    } finally {
      client.close();
    }

    const again = await cli('--config', file, 'certificates', 'pin');
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/trusted already.*certificates refresh/);

    const rotated = await sandbox.control.certificates.add({ signing: false });
    const refreshed = await cli('--config', file, '--json', 'certificates', 'refresh');
    expect(refreshed.code).toBe(0);
    expect(JSON.parse(refreshed.out)).toMatchObject({ added: [rotated.serial], dropped: [] });
    const listed = JSON.parse((await cli('--config', file, '--json', 'certificates', 'list')).out) as Array<{
      serial: string;
    }>;
    expect(listed.map((c) => c.serial)).toEqual([cert?.serial, rotated.serial]);
  });

  it.each(['tampered', 'unknown-serial'] as const)(
    'refuses to pin a download whose answer is not signed by one of its certificates (%s)',
    async (kind) => {
      const { file, storeFile } = writeConfig();
      await sandbox.control.injectFault({ endpoint: 'certificates', kind });
      const result = await cli('--config', file, 'certificates', 'pin');
      expect(result.code).toBe(1);
      expect(result.err).toMatch(/failed verification/);
      expect(existsSync(storeFile)).toBe(false);
    },
  );

  it('does not pin when WeChat Pay answers the download with an error, and says so', async () => {
    const { file, storeFile } = writeConfig();
    await sandbox.control.injectFault({ endpoint: 'certificates', kind: 500, count: 2 }); // primary and backup
    const result = await cli('--config', file, 'certificates', 'pin');
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/answered HTTP 500/);
    expect(existsSync(storeFile)).toBe(false);
  });

  it('pins only a download holding the fingerprint the operator expects, when given', async () => {
    const { file, storeFile } = writeConfig();
    const wrong = await cli('--config', file, 'certificates', 'pin', '--fingerprint', 'AB:CD');
    expect(wrong.code).toBe(1);
    expect(wrong.err).toMatch(/expected fingerprint/);
    expect(existsSync(storeFile)).toBe(false);

    const [cert] = sandbox.platformCertificates;
    const fingerprint = new X509Certificate(readFileSync(cert?.certificatePath ?? '')).fingerprint256;
    const right = await cli('--config', file, 'certificates', 'pin', '--fingerprint', fingerprint.toLowerCase());
    expect(right.code).toBe(0);
    expect(readCertificateFile(storeFile).map((c) => c.fingerprint256)).toContain(fingerprint);
  });
});
