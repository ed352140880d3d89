import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { connectRepaymentClient, type ConnectedRepaymentClient } from '../../src/client/lenderClient';
import { loadConfig } from '../../src/config/load';
import { deriveOutRecordId } from '../../src/domain/plan';
import type { LifecycleStatus } from '../../src/domain/status';
import { projectRoot } from '../../src/paths';
import { SandboxControlClient } from '../../src/sandbox/controlClient';
import { runEveryStep } from '../harness/teardown';
import { waitUntil, type RunningProcess } from './processes';
import { isolatedEnv, nearPlan, startNpmStart } from './support';

/**
 * The operator's experience, end to end on `npm start` in a fresh directory (dev server, codec server, sandbox,
 * worker): `npm run demo` shows the signing check, the create and a poll within a minute; the Web UI (headless
 * Debian chromium) shows the lifecycle's summary, details and current details; and every command that `npm start`,
 * `npm run demo` and the README print runs as printed, from the project directory, in the order printed. The only
 * thing the commands get besides their text is REPAYMENT_CONFIG, which moves every port to a free one.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** The README's example contract: its operator commands name this lifecycle and its first installment. */
const README_CODE = 'LOAN20261124001';

let dir: string | undefined;
let main: RunningProcess | undefined;
let repayment: ConnectedRepaymentClient | undefined;
let env: NodeJS.ProcessEnv;
let uiPort: number;
let demoOutput = '';
let demoWorkflowId = '';

beforeAll(async () => {
  const started = await startNpmStart('e2e-operator-');
  ({ dir, main } = started);
  uiPort = started.ports.uiPort;
  env = isolatedEnv({ REPAYMENT_CONFIG: join(started.dir, 'temporal.yaml') });
  repayment = await connectRepaymentClient(loadConfig({ cwd: started.dir, env: isolatedEnv() }));
}, 180_000);

afterAll(() =>
  runEveryStep(
    () => repayment?.close(),
    () => main?.kill('SIGKILL'),
    () => dir && rmSync(dir, { recursive: true, force: true }),
  ),
);

/** Runs one printed command line with sh from the project directory; the whole process group dies on timeout. */
function runPrinted(command: string, timeoutMs = 120_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command], { cwd: projectRoot(), env, detached: true, stdio: 'pipe' });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/** Runs each command in order; fails naming the first that does not exit 0, with its output. */
async function runAll(commands: string[]): Promise<Map<string, string>> {
  const outputs = new Map<string, string>();
  for (const command of commands) {
    const { code, out } = await runPrinted(command);
    if (code !== 0) throw new Error(`exit code ${code} from the printed command\n  ${command}\n${out}`);
    outputs.set(command, out);
  }
  return outputs;
}

/** `npm run temporal|cli -- …` commands in printed text (after a label, or after two spaces of indentation). */
function commandsIn(text: string): string[] {
  return text
    .split('\n')
    .map((line) => /(?:^|\s)(npm run (?:temporal|cli) -- .*)$/.exec(line)?.[1]?.trim())
    .filter((command): command is string => command !== undefined);
}

/** The temporal command lines of the README's `sh` blocks (continuations joined), and any bare `temporal …` one. */
function readmeTemporalCommands(): { commands: string[]; bare: string[] } {
  const readme = readFileSync(join(projectRoot(), 'README.md'), 'utf8');
  const lines = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((block) =>
    block[1]!.replace(/\\\n\s*/g, '').split('\n'),
  );
  const commands = lines.map((line) => line.trim());
  const temporal = commands.filter((line) => line.startsWith('npm run temporal -- '));
  // In document order, except that what ends the lifecycle runs last, wherever a section prints it.
  const ends = (line: string): boolean => /--name cancel\b|workflow (cancel|terminate)\b/.test(line);
  return {
    commands: [...temporal.filter((line) => !ends(line)), ...temporal.filter(ends)],
    bare: commands.filter((line) => /^temporal\s/.test(line)),
  };
}

/** Waits (bounded) until one of the page's frames (not the page itself) shows text matching `pattern`. */
async function frameShowing(page: Page, pattern: RegExp, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let seen: string[] = [];
  while (Date.now() < deadline) {
    const frames = page.frames().filter((frame) => frame !== page.mainFrame());
    seen = await Promise.all(frames.map((frame) => frame.innerText('body').catch(() => '')));
    if (seen.some((text) => pattern.test(text))) return;
    await page.waitForTimeout(500);
  }
  throw new Error(`no frame shows ${pattern} within ${timeoutMs} ms; frames:\n${seen.join('\n---\n')}`);
}

const statusOf = (code: string): Promise<LifecycleStatus> => repayment!.client.getStatus(code);

it('npm run demo shows the signing check, the create and a poll within a minute, then the next commands', async () => {
  const { code, out } = await runPrinted('npm run demo', 180_000);
  demoOutput = out;
  expect({ code, out }).toMatchObject({ code: 0 });
  const record = /create: schedule record (R[0-9a-f]+) created at WeChat Pay/.exec(out)?.[1];
  expect(record).toBeDefined();
  expect(out).toMatch(/signing check: WeChat Pay \(the sandbox\) answers that the user signed/);
  const poll = new RegExp(`\\+(\\d+\\.\\d)s\\s+poll 1 of ${record}: WeChat Pay holds it as scheduled`).exec(out);
  expect(poll).not.toBeNull();
  expect(Number(poll![1])).toBeLessThan(60);
  demoWorkflowId = /Started (repayment-DEMO\d+):/.exec(out)![1]!;
  expect(out).toContain(`Web UI: http://127.0.0.1:${uiPort}/namespaces/default/workflows/${demoWorkflowId}`);
  expect(commandsIn(out).length).toBeGreaterThanOrEqual(5);
}, 240_000);

it('shows the summary, the details and the current details in the Web UI, decoded through the codec server', async () => {
  expect(demoWorkflowId).not.toBe('');
  const link = new RegExp(`Web UI: (http://\\S+/workflows/${demoWorkflowId})`).exec(demoOutput)![1]!;
  const artifacts = join(projectRoot(), 'artifacts');
  mkdirSync(artifacts, { recursive: true });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1600, height: 1100 } });
    // The list: the lifecycle's row, with its phase once the RepaymentPhase column is added (UI 2.42 lists no summary).
    await page.goto(`http://127.0.0.1:${uiPort}/namespaces/default/workflows`);
    const row = page.getByTestId('workflows-summary-configurable-table-row').filter({ hasText: demoWorkflowId });
    await row.waitFor({ timeout: 30_000 });
    await page.getByTestId('workflows-summary-table-configuration-button').click();
    await page.getByTestId('orderable-list-item-RepaymentPhase-add-button').click();
    await page.getByTestId('drawer-close-button').click();
    await page.getByTestId('drawer-close-button').waitFor({ state: 'hidden' });
    await row.getByText('MONITORING').waitFor({ timeout: 15_000 });
    await page.screenshot({ path: join(artifacts, 'web-ui-list.png') });

    // The link the demo printed, then the workflow's User Metadata tab: the UI renders each markdown text in a frame.
    await page.goto(link);
    await page.getByText('User Metadata', { exact: true }).click();
    await frameShowing(page, /^DEMO\d+ · 3 installments · 3000\.00 CNY · first \d{4}-\d\d-\d\d · demo time scale$/m);
    await frameShowing(page, /Plan 3 installments, 3000\.00 CNY/);
    await frameShowing(page, /Phase: MONITORING \(signed [^)]+\)\s+(Now|Next): .*(poll|polling) the schedule record R/);
    // Each activity and timer of the history, with its summary.
    await page
      .getByText(/Create schedule record R[0-9a-f]+: 1000\.00 CNY on /)
      .first()
      .waitFor();
    await page
      .getByText(/Until .* \+08:00: poll the schedule record R[0-9a-f]+/)
      .first()
      .waitFor();
    await page.screenshot({ path: join(artifacts, 'web-ui-user-metadata.png'), fullPage: true });
  } finally {
    await browser.close();
  }
}, 120_000);

it('runs every command that npm start and npm run demo print, as printed, in order', async () => {
  const started = commandsIn(main!.output());
  expect(started.length).toBeGreaterThanOrEqual(3);
  const startOutputs = await runAll(started);
  expect([...startOutputs.values()].join('\n')).toContain(demoWorkflowId);

  const demo = commandsIn(demoOutput);
  const outputs = await runAll(demo);
  const code = demoWorkflowId.replace(/^repayment-/, '');
  const settle = demo.find((command) => command.includes('report-result'))!;
  expect(outputs.get(settle)).toMatch(/1 +R[0-9a-f]+ +\S+ +1000\.00 +100\.00 +SETTLED/);
  expect(demo[demo.length - 1]).toContain('cancel');
  await waitUntil(async () => ((await statusOf(code)).phase === 'CANCELLED' ? true : undefined), 'demo cancelled');
}, 300_000);

it("runs the README's operator commands as printed, in order, against its example lifecycle in alert", async () => {
  const { commands, bare } = readmeTemporalCommands();
  // `temporal` is not on the PATH of a fresh clone: a bare command cannot run as printed.
  expect(bare).toEqual([]);
  expect(commands.length).toBeGreaterThanOrEqual(8);

  // The README's example contract, with its first installment inside its window, polled every 5 s.
  const plan = nearPlan(README_CODE, [3, 20]);
  const { primaryUrl } = JSON.parse(readFileSync(join(dir!, '.sandbox', 'running.json'), 'utf8')) as {
    primaryUrl: string;
  };
  const sandbox = new SandboxControlClient(primaryUrl);
  const { outContractCode, contractId, appid, openid } = plan;
  await sandbox.createContract({ outContractCode, contractId, appid, openid, authorized: true });
  await repayment!.client.startLifecycle(plan, { demo: { pollIntervalSeconds: 5 }, policy: { pollJitterSeconds: 0 } });
  const first = deriveOutRecordId(README_CODE, 0);
  await waitUntil(
    async () => ((await statusOf(README_CODE)).installments[0]!.pollCount > 0 ? true : undefined),
    'first poll',
  );
  // WeChat Pay now holds another amount: the next poll raises a RECORD_MISMATCH alert for an operator.
  await sandbox.changeRecord(first, { repayment_amount: '49999' });
  await waitUntil(
    async () => (await repayment!.client.list({ inAlert: true, outContractCode: README_CODE })).length || undefined,
    'the lifecycle listed in alert',
  );

  const outputs = await runAll(commands);
  const output = (part: string): string => [...outputs].find(([command]) => command.includes(part))?.[1] ?? '';
  expect(output("'RepaymentAlert IS NOT NULL'")).toContain(`repayment-${README_CODE}`);
  expect(output('workflow describe')).toContain(`${README_CODE} · 2 installments · 1000.00 CNY`);
  expect(output('--type status')).toContain(first);
  expect(output('__temporal_workflow_metadata')).toContain('RECORD_MISMATCH');
  expect(output('--name reportRepaymentResult')).toContain('SETTLED');
  await waitUntil(async () => ((await statusOf(README_CODE)).phase === 'CANCELLED' ? true : undefined), 'cancelled');
}, 300_000);
