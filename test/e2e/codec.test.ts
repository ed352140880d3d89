import { mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { connectRepaymentClient, type ConnectedRepaymentClient } from '../../src/client/lenderClient';
import { loadConfig } from '../../src/config/load';
import { projectRoot } from '../../src/paths';
import { SandboxControlClient } from '../../src/sandbox/controlClient';
import { waitUntil, type RunningProcess } from './processes';
import { isolatedEnv, nearPlan, startNpmStart, temporalCli } from './support';

/**
 * Payload encryption on by default under `npm start`, proved from the outside: the dev server's history holds only
 * ciphertext (the real `temporal` CLI shows no openid), while the Web UI (headless Debian chromium) shows the
 * decoded plan through the codec server `npm start` runs, and so does the CLI given that codec endpoint.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CODE = 'E2ECODEC1';

let dir: string;
let main: RunningProcess | undefined;
let repayment: ConnectedRepaymentClient | undefined;

afterAll(async () => {
  await repayment?.close();
  await main?.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('keeps the openid out of history while the Web UI shows it decoded through the codec server', async () => {
  const started = await startNpmStart('e2e-codec-');
  dir = started.dir;
  main = started.main;
  const { port, uiPort, codecPort } = started.ports;
  const codecUrl = `http://127.0.0.1:${codecPort}`;
  expect(main.output()).toContain(`Codec server:      ${codecUrl}`);
  expect(statSync(join(dir, '.temporal', 'payload.key')).mode & 0o777).toBe(0o600);

  // The lender client reads the same configuration, hence the same key.
  const plan = nearPlan(CODE, [3]);
  const { primaryUrl } = JSON.parse(readFileSync(join(dir, '.sandbox', 'running.json'), 'utf8')) as {
    primaryUrl: string;
  };
  const { outContractCode, contractId, appid, openid } = plan;
  await new SandboxControlClient(primaryUrl).createContract({
    outContractCode,
    contractId,
    appid,
    openid,
    authorized: true,
  });
  repayment = await connectRepaymentClient(loadConfig({ cwd: dir, env: isolatedEnv() }));
  const { workflowId, runId } = await repayment.client.startLifecycle(plan);
  await waitUntil(
    async () => ((await repayment!.client.getStatus(CODE)).phase === 'MONITORING' ? true : undefined),
    `${CODE} monitoring`,
  );

  const address = `127.0.0.1:${port}`;
  const show = ['workflow', 'show', '--workflow-id', workflowId, '--output', 'json'];
  const stored = await temporalCli(address, show);
  const storedPayloads = payloadsIn(JSON.parse(stored));
  const input = payloadsIn(JSON.parse(stored).events[0].workflowExecutionStartedEventAttributes.input);
  expect(input.length).toBeGreaterThan(0);
  expect(input.every((p) => p.encoding === 'binary/encrypted')).toBe(true);
  expect(storedPayloads.filter((p) => p.text.includes(plan.openid))).toEqual([]);
  expect(stored).not.toContain(plan.openid);
  // The same command through the codec server shows the plan: the assertions above are not blind.
  const decoded = payloadsIn(JSON.parse(await temporalCli(address, [...show, '--codec-endpoint', codecUrl])));
  expect(decoded.filter((p) => p.encoding === 'json/plain' && p.text.includes(plan.openid)).length).toBeGreaterThan(0);

  const artifacts = join(projectRoot(), 'artifacts');
  mkdirSync(artifacts, { recursive: true });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`http://127.0.0.1:${uiPort}/namespaces/default/workflows/${workflowId}/${runId}/history`);
    // The workflow's input, decoded by the codec server: the plan with the user's openid.
    await page.getByText(plan.openid).first().waitFor({ timeout: 30_000 });
    await page.screenshot({ path: join(artifacts, 'web-ui-decoded-input.png') });
  } finally {
    await browser.close();
  }

  await repayment.client.cancel(CODE, 'codec test over');
  main.child.kill('SIGINT');
  expect(await main.exited).toBe(0);
  await expect(fetch(`${codecUrl}/decode`, { method: 'POST', body: '{"payloads":[]}' })).rejects.toThrow();
  main = undefined;
}, 240_000);

/** Every payload in the CLI's JSON (proto JSON: metadata values and data base64), with its encoding and bytes as text. */
function payloadsIn(node: unknown, found: Array<{ encoding: string; text: string }> = []): typeof found {
  if (Array.isArray(node)) {
    for (const item of node) payloadsIn(item, found);
  } else if (node && typeof node === 'object') {
    const { metadata, data } = node as { metadata?: { encoding?: unknown }; data?: unknown };
    if (typeof metadata?.encoding === 'string' && typeof data === 'string') {
      const text = (b64: string): string => Buffer.from(b64, 'base64').toString('latin1');
      found.push({ encoding: text(metadata.encoding), text: text(data) });
    }
    for (const value of Object.values(node)) payloadsIn(value, found);
  }
  return found;
}
