import { startSandbox, type Sandbox } from '../../src/sandbox';
import { checkControlAccess, isLoopbackAddress } from '../../src/sandbox/controlAccess';
import { SandboxControlClient } from '../../src/sandbox/controlClient';
import { SandboxError } from '../../src/sandbox/errors';
import { rawRequest, signedRequest, tempDataDir } from './signedRequest';

/**
 * Who may call the control API. Non-loopback callers are simulated with addresses given to the check: this
 * machine's tests send traffic to loopback only.
 */

const TOKEN = 'sandbox-control-token-0123456789';

describe('the control access check', () => {
  it.each(['127.0.0.1', '127.8.9.10', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1'])('%s is loopback', (address) => {
    expect(isLoopbackAddress(address)).toBe(true);
  });

  it.each(['203.0.113.7', '10.0.0.1', '::ffff:10.0.0.1', 'fe80::1', '::', '128.0.0.1', 'localhost', undefined])(
    '%s is not loopback',
    (address) => {
      expect(isLoopbackAddress(address)).toBe(false);
    },
  );

  it('without a token: lets loopback callers in and refuses others with 403 saying how to allow them', () => {
    expect(checkControlAccess('127.0.0.1', undefined, undefined)).toBeUndefined();
    const refusal = checkControlAccess('203.0.113.7', `Bearer ${TOKEN}`, undefined);
    expect(refusal?.status).toBe(403);
    expect(refusal?.body.message).toMatch(/loopback callers only.*203\.0\.113\.7.*SANDBOX_CONTROL_TOKEN/);
  });

  it('with a token: every caller, loopback included, must send it as a Bearer token (401 otherwise)', () => {
    for (const address of ['127.0.0.1', '203.0.113.7']) {
      expect(checkControlAccess(address, `Bearer ${TOKEN}`, TOKEN)).toBeUndefined();
      const missing = checkControlAccess(address, undefined, TOKEN);
      expect([missing?.status, missing?.headers['WWW-Authenticate']]).toEqual([
        401,
        'Bearer realm="sandbox control API"',
      ]);
      expect(missing?.body.message).toMatch(/requires Authorization: Bearer/);
      expect(checkControlAccess(address, `Bearer ${TOKEN}x`, TOKEN)?.status).toBe(401);
      expect(checkControlAccess(address, TOKEN, TOKEN)?.status).toBe(401);
    }
  });
});

describe('a sandbox with a control token, over HTTP', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ dataDir: tempDataDir(), controlToken: TOKEN });
  });
  afterAll(() => sandbox.close());

  it('refuses control calls without the token, with a clear 401', async () => {
    const error = await new SandboxControlClient(sandbox.primaryUrl, { token: '' }).health().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SandboxError);
    expect(error).toMatchObject({ httpStatus: 401, code: 'UNAUTHORIZED' });
    const raw = await rawRequest(`${sandbox.backupUrl}/sandbox/health`, 'GET', { Accept: 'application/json' }, '');
    expect([raw.status, raw.headers['www-authenticate']]).toEqual([401, 'Bearer realm="sandbox control API"']);
    const wrong = new SandboxControlClient(sandbox.primaryUrl, { token: 'another-token-0123456789' });
    await expect(wrong.reset()).rejects.toMatchObject({ httpStatus: 401 });
  });

  it('serves control calls that carry it, and leaves the signed APIv3 endpoints as they were', async () => {
    const client = new SandboxControlClient(sandbox.primaryUrl, { token: TOKEN });
    expect(await client.health()).toMatchObject({ ok: true });
    await client.createContract({ outContractCode: 'TOK1', contractId: 'WXTOK1', appid: 'wxa', openid: 'o1' });
    expect((await client.getContract('TOK1')).state).toBe('UNSIGNED');
    const api = await signedRequest(sandbox, {
      path: '/v3/ecommerce/individual-contracts/out-contract-code/TOK1?appid=wxa',
    });
    expect(api.status).toBe(200);
  });

  it('takes the token from SANDBOX_CONTROL_TOKEN when the client is given none', async () => {
    const health = await withControlTokenEnv(TOKEN, () => new SandboxControlClient(sandbox.primaryUrl).health());
    expect(health).toMatchObject({ ok: true });
  });

  it('refuses a token too short to be a secret', async () => {
    await expect(startSandbox({ dataDir: tempDataDir(), controlToken: 'short' })).rejects.toThrow(/at least 16/);
  });
});

describe('a sandbox without a token', () => {
  it('listening on every interface still answers loopback callers', async () => {
    const sandbox = await withControlTokenEnv(undefined, () =>
      startSandbox({ dataDir: tempDataDir(), host: '0.0.0.0' }),
    );
    try {
      const port = new URL(sandbox.primaryUrl).port;
      expect(await new SandboxControlClient(`http://127.0.0.1:${port}`).health()).toMatchObject({ ok: true });
      expect(sandbox.controlTokenRequired).toBe(false);
    } finally {
      await sandbox.close();
    }
  });
});

/** Runs `fn` with SANDBOX_CONTROL_TOKEN set to `value` (or unset), then restores the variable. */
async function withControlTokenEnv<T>(value: string | undefined, fn: () => Promise<T>): Promise<T> {
  const before = process.env.SANDBOX_CONTROL_TOKEN;
  if (value === undefined) delete process.env.SANDBOX_CONTROL_TOKEN;
  else process.env.SANDBOX_CONTROL_TOKEN = value;
  try {
    return await fn();
  } finally {
    if (before === undefined) delete process.env.SANDBOX_CONTROL_TOKEN;
    else process.env.SANDBOX_CONTROL_TOKEN = before;
  }
}
