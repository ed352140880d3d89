import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSandbox, type Sandbox } from '../../src/sandbox';
import { SandboxControlClient } from '../../src/sandbox/controlClient';
import { FORGED_AMOUNT, FORGED_SIGNED_TIME } from '../../src/sandbox/forgery';
import type { RequestLogEntry } from '../../src/sandbox/requestLog';
import { authorizedContract, signedRequest, tempDataDir, verifierFor } from './signedRequest';

/**
 * What the chaos run needs of the sandbox, over HTTP: faults for a share of answers and for a period, a forged
 * answer (a lie that does not verify), a clock drift (401 to every request, stale answers) and back, the list of
 * contracts, and the whole request log in a file.
 */

let sandbox: Sandbox;
let control: SandboxControlClient;
const dataDir = tempDataDir();
const logFile = join(dataDir, 'requests.jsonl');
const TERMINATE = '/v3/credit-repayment/partner/contracts/terminate';
const signingQuery = (code: string) =>
  signedRequest(sandbox, {
    path: `/v3/ecommerce/individual-contracts/out-contract-code/${code}?appid=wxd678efh567hg6787`,
  });

beforeAll(async () => {
  sandbox = await startSandbox({ dataDir, requestLogFile: logFile });
  control = new SandboxControlClient(sandbox.primaryUrl);
  await authorizedContract(sandbox, 'CHAOS1');
});
afterAll(() => sandbox.close());
afterEach(async () => {
  await control.clearFaults();
  await control.setAuthClockOffset(0);
});

it('a ratio fault hits exactly that share of the answers, evenly, and leaves the others alone', async () => {
  await control.injectFault({ endpoint: 'contract-query', kind: 500, ratio: 0.25 });
  const statuses: number[] = [];
  for (let i = 0; i < 8; i++) statuses.push((await signingQuery('CHAOS1')).status);
  expect(statuses).toEqual([200, 200, 200, 500, 200, 200, 200, 500]);
  expect(await control.listFaults()).toMatchObject([{ kind: 500, ratio: 0.25, seen: 8, remaining: 999_998 }]);
});

it('a fault given forMs ends by itself when its period is over', async () => {
  await control.injectFault({ endpoint: '*', kind: 503, forMs: 300 });
  expect((await signingQuery('CHAOS1')).status).toBe(503);
  await new Promise((resolve) => setTimeout(resolve, 400));
  expect((await signingQuery('CHAOS1')).status).toBe(200);
  expect(await control.listFaults()).toEqual([]);
});

it('a forged answer carries a lie under a signature that does not verify', async () => {
  await control.injectFault({ endpoint: 'contract-query', kind: 'forged' });
  const forged = await signingQuery('CHAOS1');
  expect(forged.json).toMatchObject({ auth_state: 'UNAUTHORIZED', signed_time: FORGED_SIGNED_TIME });
  expect(() => verifierFor(sandbox).verify(forged.headers, forged.text)).toThrow(
    expect.objectContaining({ reason: 'BAD_SIGNATURE' }),
  );
  const truth = await signingQuery('CHAOS1');
  expect(truth.json).toMatchObject({ auth_state: 'AUTHORIZED' });
  expect(() => verifierFor(sandbox).verify(truth.headers, truth.text)).not.toThrow();
  expect(FORGED_AMOUNT).toMatch(/^[1-9][0-9]*$/);
});

it('a clock drift refuses every request with an unsigned 401, and its answers are stale, until it is set back', async () => {
  expect(await control.setAuthClockOffset(600_000)).toMatchObject({ offsetMs: 600_000 });
  const refused = await signingQuery('CHAOS1');
  expect([refused.status, refused.json.code, refused.headers['wechatpay-signature']]).toEqual([
    401,
    'SIGN_ERROR',
    undefined,
  ]);
  // A request signed on the drifted clock passes, and its answer is 600 s ahead of the verifier's clock.
  const drifted = await signedRequest(sandbox, {
    path: `/v3/ecommerce/individual-contracts/out-contract-code/CHAOS1?appid=wxd678efh567hg6787`,
    timestamp: String(Math.floor((Date.now() + 600_000) / 1000)),
  });
  expect(drifted.status).toBe(200);
  expect(() => verifierFor(sandbox).verify(drifted.headers, drifted.text)).toThrow(
    expect.objectContaining({ reason: 'STALE_TIMESTAMP' }),
  );
  await control.setAuthClockOffset(0);
  expect((await signingQuery('CHAOS1')).status).toBe(200);
});

it('lists every contract, and writes every request to the log file', async () => {
  expect((await control.listContracts()).map((c) => [c.out_contract_code, c.state])).toEqual([
    ['CHAOS1', 'AUTHORIZED'],
  ]);
  await signedRequest(sandbox, {
    path: TERMINATE,
    body: { out_contract_code: 'CHAOS1', contract_termination_remark: 'x' },
  });
  const lines = readFileSync(logFile, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as RequestLogEntry);
  expect(lines.map((e) => e.seq)).toEqual(lines.map((_, i) => i + 1));
  expect(lines.at(-1)).toMatchObject({ endpoint: 'terminate', status: 200 });
  expect(lines.length).toBe((await control.requestLog()).length);
  expect(readFileSync(logFile, 'utf8')).not.toMatch(/WECHATPAY2-SHA256-RSA2048/);
});
