import { Agent, request } from 'node:http';
import type { Socket } from 'node:net';
import { startSandbox, type Sandbox } from '../../src/sandbox';
import { SandboxControlClient } from '../../src/sandbox/controlClient';
import { OVERSIZED_PADDING_BYTES } from '../../src/sandbox/answers';
import { WechatPayVerificationError } from '../../src/wechatpay/errors';
import { carriesSignature } from '../../src/wechatpay/verifier';
import { authorizedContract, rawRequest, signedRequest, tempDataDir, verifierFor } from './signedRequest';

/** Fault injection (each kind), the request log, and taking the primary listener down and up. */

let sandbox: Sandbox;
const TERMINATE = '/v3/credit-repayment/partner/contracts/terminate';
const terminate = (code: string) =>
  signedRequest(sandbox, {
    path: TERMINATE,
    body: { out_contract_code: code, contract_termination_remark: 'fault test' },
  });
const stateOf = async (code: string) => (await sandbox.control.getContract(code)).state;

beforeAll(async () => {
  sandbox = await startSandbox({ dataDir: tempDataDir() });
});
afterAll(() => sandbox.close());
afterEach(() => sandbox.control.clearFaults());

describe('faults that refuse without executing', () => {
  it.each([
    [500, 'SYSTEM_ERROR'],
    [503, 'SERVICE_UNAVAILABLE'],
    [429, 'FREQUENCY_LIMITED'],
  ] as const)('%s answers %s for the next N calls and leaves the state alone', async (kind, code) => {
    const contract = `F${kind}`;
    await authorizedContract(sandbox, contract);
    await sandbox.control.injectFault({ endpoint: 'terminate', kind, count: 2 });
    for (let i = 0; i < 2; i++) {
      const answer = await terminate(contract);
      expect([answer.status, answer.json.code]).toEqual([kind, code]);
      expect(() => verifierFor(sandbox).verify(answer.headers, answer.text)).not.toThrow();
    }
    expect(await stateOf(contract)).toBe('AUTHORIZED');
    expect((await terminate(contract)).status).toBe(200);
    expect(await sandbox.control.listFaults()).toEqual([]);
  });

  it.each([
    ['html-404', /^text\/html/, '<h1>404 Not Found</h1>', false],
    ['unsigned-404', /^application\/json/, '"code":"RESOURCE_NOT_EXISTS"', false],
    ['bad-signature-404', /^application\/json/, '"code":"RESOURCE_NOT_EXISTS"', true],
  ] as const)('%s: a 404 in place of the operation, which is not executed', async (kind, type, content, signed) => {
    const contract = `F${kind.replace(/-/g, '')}`;
    await authorizedContract(sandbox, contract);
    await sandbox.control.injectFault({ endpoint: 'terminate', kind });
    const answer = await terminate(contract);
    expect(answer.status).toBe(404);
    expect(answer.headers['content-type']).toMatch(type);
    expect(answer.text).toContain(content);
    expect(carriesSignature(answer.headers)).toBe(signed);
    // Signed or not, none of them verifies.
    expect(() => verifierFor(sandbox).verify(answer.headers, answer.text)).toThrow(
      expect.objectContaining({ reason: signed ? 'BAD_SIGNATURE' : 'MISSING_HEADER' }),
    );
    expect(await stateOf(contract)).toBe('AUTHORIZED');
  });

  it('applies a fault only to its endpoint, or to every endpoint with *', async () => {
    await authorizedContract(sandbox, 'FSTAR');
    await sandbox.control.injectFault({ endpoint: 'schedule-query', kind: 503 });
    expect((await terminate('NOSUCH')).status).toBe(404);
    expect(await sandbox.control.listFaults()).toMatchObject([{ endpoint: 'schedule-query', kind: 503, remaining: 1 }]);
    await sandbox.control.clearFaults();
    await sandbox.control.injectFault({ endpoint: '*', kind: 500 });
    expect((await terminate('NOSUCH')).status).toBe(500);
    expect((await terminate('NOSUCH')).status).toBe(404);
  });

  it('refuses a bad fault with PARAM_ERROR naming the field', async () => {
    await expect(sandbox.control.injectFault({ endpoint: 'nope' as never, kind: 500 })).rejects.toMatchObject({
      code: 'PARAM_ERROR',
      detail: { field: 'endpoint' },
    });
    await expect(sandbox.control.injectFault({ endpoint: 'terminate', kind: 404 as never })).rejects.toMatchObject({
      detail: { field: 'kind' },
    });
    await expect(sandbox.control.injectFault({ endpoint: 'terminate', kind: 500, count: 0 })).rejects.toMatchObject({
      detail: { field: 'count' },
    });
  });
});

describe('faults that execute and then sabotage the answer', () => {
  it.each([
    ['tampered', 'BAD_SIGNATURE'],
    ['stale', 'STALE_TIMESTAMP'],
    ['unknown-serial', 'UNKNOWN_SERIAL'],
    ['signtest', 'SIGNTEST_PROBE'],
  ] as const)('%s: the contract is terminated, yet the answer fails verification (%s)', async (kind, reason) => {
    const contract = `F${kind.replace('-', '')}`;
    await authorizedContract(sandbox, contract);
    await sandbox.control.injectFault({ endpoint: 'terminate', kind });
    const answer = await terminate(contract);
    expect(answer.status).toBe(200);
    expect(await stateOf(contract)).toBe('TERMINATED');
    let failure: unknown;
    try {
      verifierFor(sandbox).verify(answer.headers, answer.text);
    } catch (err) {
      failure = err;
    }
    expect(failure).toBeInstanceOf(WechatPayVerificationError);
    expect((failure as WechatPayVerificationError).reason).toBe(reason);
    // The next answer is clean again.
    const next = await terminate(contract);
    expect(() => verifierFor(sandbox).verify(next.headers, next.text)).not.toThrow();
  });

  it('reset: the operation runs, then the connection is destroyed without an answer', async () => {
    await authorizedContract(sandbox, 'FRESET');
    await sandbox.control.injectFault({ endpoint: 'terminate', kind: 'reset' });
    await expect(terminate('FRESET')).rejects.toMatchObject({
      code: expect.stringMatching(/ECONNRESET|socket hang up/i),
    });
    expect(await stateOf('FRESET')).toBe('TERMINATED');
  });

  it('trickle: the operation runs at once, the signed answer comes one byte every delayMs (default 1 s)', async () => {
    expect((await sandbox.control.injectFault({ endpoint: 'schedule-create', kind: 'trickle' })).delayMs).toBe(1000);
    await sandbox.control.clearFaults();
    await authorizedContract(sandbox, 'FTRICKLE');
    await sandbox.control.injectFault({ endpoint: 'terminate', kind: 'trickle', delayMs: 2 });
    const started = Date.now();
    const answer = await terminate('FTRICKLE');
    expect(answer.status).toBe(200);
    expect(await stateOf('FTRICKLE')).toBe('TERMINATED');
    // At least one timer tick per byte (timers may fire late, never early).
    expect(Date.now() - started).toBeGreaterThanOrEqual(Buffer.byteLength(answer.text) * 2 - 50);
    expect(() => verifierFor(sandbox).verify(answer.headers, answer.text)).not.toThrow();
  });

  it('oversized: the operation runs, the answer is validly signed and larger than 1 MiB', async () => {
    await authorizedContract(sandbox, 'FBIG');
    await sandbox.control.injectFault({ endpoint: 'terminate', kind: 'oversized' });
    const answer = await terminate('FBIG');
    expect(answer.status).toBe(200);
    expect(await stateOf('FBIG')).toBe('TERMINATED');
    expect(Buffer.byteLength(answer.text)).toBeGreaterThan(OVERSIZED_PADDING_BYTES);
    expect(answer.json.contract_info).toMatchObject({ contract_state: 'CONTRACT_STATE_TERMINATED' });
    expect(() => verifierFor(sandbox).verify(answer.headers, answer.text)).not.toThrow();
  });

  it('slow: the operation runs at once, the signed answer comes after delayMs (default 15 s)', async () => {
    await authorizedContract(sandbox, 'FSLOW');
    const fault = await sandbox.control.injectFault({ endpoint: 'terminate', kind: 'slow', delayMs: 600 });
    expect(fault.delayMs).toBe(600);
    expect((await sandbox.control.injectFault({ endpoint: 'schedule-create', kind: 'slow' })).delayMs).toBe(15_000);
    await sandbox.control.clearFaults();
    await sandbox.control.injectFault({ endpoint: 'terminate', kind: 'slow', delayMs: 600 });
    const started = Date.now();
    const pending = terminate('FSLOW');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await stateOf('FSLOW')).toBe('TERMINATED');
    const answer = await pending;
    expect(Date.now() - started).toBeGreaterThanOrEqual(590);
    expect(answer.status).toBe(200);
    expect(() => verifierFor(sandbox).verify(answer.headers, answer.text)).not.toThrow();
  });
});

describe('request log', () => {
  it('records listener, endpoint, status, fault and the parsed body, never the Authorization header', async () => {
    await sandbox.control.clearRequestLog();
    await authorizedContract(sandbox, 'LOG1');
    await sandbox.control.injectFault({ endpoint: 'terminate', kind: 500 });
    await terminate('LOG1');
    await signedRequest(sandbox, {
      path: TERMINATE,
      baseUrl: sandbox.backupUrl,
      body: { out_contract_code: 'LOG1', contract_termination_remark: 'via backup' },
    });
    await signedRequest(sandbox, {
      path: '/v3/ecommerce/individual-contracts/out-contract-code/LOG1?appid=wxd678efh567hg6787',
    });

    const all = await sandbox.control.requestLog();
    expect(all).toHaveLength(3);
    const log = await sandbox.control.requestLog('terminate');
    expect(log).toEqual([
      {
        seq: expect.any(Number),
        at: expect.any(String),
        listener: 'primary',
        method: 'POST',
        path: TERMINATE,
        endpoint: 'terminate',
        status: 500,
        fault: 500,
        body: { out_contract_code: 'LOG1', contract_termination_remark: 'fault test' },
      },
      expect.objectContaining({
        listener: 'backup',
        status: 200,
        body: { out_contract_code: 'LOG1', contract_termination_remark: 'via backup' },
      }),
    ]);
    expect(log[0]!.seq).toBeLessThan(log[1]!.seq);
    expect(JSON.stringify(all)).not.toMatch(/WECHATPAY2|signature/i);
    await sandbox.control.clearRequestLog();
    expect(await sandbox.control.requestLog()).toEqual([]);
  });
});

describe('primary listener down and up', () => {
  it('refuses connections on the primary while the backup serves; comes back on the same port', async () => {
    const query = (baseUrl: string) =>
      signedRequest(sandbox, { baseUrl, path: '/v3/credit-repayment/partner/schedule-records/R1?contract_id=C1' });
    expect((await query(sandbox.primaryUrl)).status).toBe(404);
    await sandbox.control.setPrimaryDown(true);
    await expect(query(sandbox.primaryUrl)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect((await query(sandbox.backupUrl)).status).toBe(404);
    expect((await sandbox.control.health()).primaryUp).toBe(false);
    await sandbox.control.setPrimaryDown(false);
    expect((await query(sandbox.primaryUrl)).status).toBe(404);
  });

  it('destroys open keep-alive connections to the primary when it goes down', async () => {
    const agent = new Agent({ keepAlive: true });
    try {
      const socket = await new Promise<Socket>((resolve, reject) => {
        const req = request(`${sandbox.primaryUrl}/sandbox/health`, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(req.socket as Socket));
        });
        req.on('error', reject);
        req.end();
      });
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(socket.destroyed).toBe(false); // idle in the agent's pool, still open
      await sandbox.control.setPrimaryDown(true);
      await closed;
    } finally {
      agent.destroy();
      await sandbox.control.setPrimaryDown(false);
    }
  });

  it('works over the control API on the primary itself: answers, then goes down; the backup brings it back', async () => {
    const viaPrimary = new SandboxControlClient(sandbox.primaryUrl);
    const viaBackup = new SandboxControlClient(sandbox.backupUrl);
    expect(await viaPrimary.setPrimaryDown(true)).toEqual({ primaryUp: false });
    await expect(rawRequest(`${sandbox.primaryUrl}/sandbox/health`, 'GET', {}, '')).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
    expect(await viaBackup.setPrimaryDown(false)).toEqual({ primaryUp: true });
    expect((await viaPrimary.health()).ok).toBe(true);
  });
});
