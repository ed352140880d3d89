import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { addDays, shanghaiDateOf } from '../../src/domain/calendar';
import type { RepaymentPlanInput } from '../../src/domain/plan';
import type { Sandbox } from '../../src/sandbox';
import { resolveTemporalCli } from '../../src/servers/provision';
import { projectRoot } from '../../src/paths';
import { freePort, startProcess, type RunningProcess } from './processes';

/** Shared pieces of the end-to-end suites: built entry points, the real `temporal` CLI, plans and configs. */

const run = promisify(execFile);

export const dist = (relative: string): string => join(projectRoot(), 'dist', 'src', relative);

/** The machine's environment without Temporal, WeChat Pay or lender-event settings: only the test's config counts. */
export function isolatedEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(TEMPORAL|WECHATPAY|LENDER_EVENTS)_/.test(k)),
  );
  return { ...env, TEMPORAL_CONFIG_FILE: '/nonexistent/temporal.toml', ...extra };
}

/** A plan whose installments fall inside the scheduling window, so the lifecycle acts at once in real time. */
export function nearPlan(outContractCode: string, daysAhead: number[]): RepaymentPlanInput {
  const today = shanghaiDateOf(Date.now());
  return {
    outContractCode,
    contractId: `WXC${outContractCode}`,
    appid: 'wxd678efh567hg6787',
    openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
    signature: { mode: 'none' },
    installments: daysAhead.map((days) => ({
      repaymentAmount: '50000',
      minRepaymentAmount: '5000',
      repaymentDate: addDays(today, days),
    })),
  };
}

export async function registerContract(sandbox: Sandbox, plan: RepaymentPlanInput): Promise<void> {
  await sandbox.control.createContract({
    outContractCode: plan.outContractCode,
    contractId: plan.contractId,
    appid: plan.appid,
    openid: plan.openid,
    authorized: true,
  });
}

/** A temporal.yaml for a worker process that talks to the given server and the sandbox with its keys. */
export function writeWorkerConfig(dir: string, address: string, sandbox: Sandbox, metricsPort: number): string {
  const file = join(dir, 'temporal.yaml');
  const keys = sandbox.platformKeys.map((k) => `    - id: ${k.id}\n      publicKeyFile: ${k.publicKeyPath}`).join('\n');
  writeFileSync(
    file,
    [
      'temporal:',
      `  address: ${address}`,
      'wechatpay:',
      `  mchid: "${sandbox.mchid}"`,
      `  merchantSerialNo: ${sandbox.merchant.serialNo}`,
      `  privateKeyFile: ${sandbox.merchant.privateKeyPath}`,
      '  verificationKeys:',
      keys,
      '  baseUrls:',
      `    primary: ${sandbox.primaryUrl}`,
      `    backup: ${sandbox.backupUrl}`,
      '  timeoutMs: 5000',
      'worker:',
      `  metricsPort: ${metricsPort}`,
      '',
    ].join('\n'),
  );
  return file;
}

/** The worker as an operator starts it (`npm run worker` runs this after the build). */
export async function startWorkerProcess(configFile: string): Promise<RunningProcess> {
  const worker = startProcess('node', [dist('app/workerMain.js')], isolatedEnv({ REPAYMENT_CONFIG: configFile }));
  await worker.waitFor(/"message":"Worker running"/, 90_000);
  return worker;
}

/** Runs the real `temporal` CLI against the given server and returns its stdout. */
export async function temporalCli(address: string, args: string[]): Promise<string> {
  const cli = await resolveTemporalCli({ build: false });
  if (!cli) throw new Error('the temporal CLI is not provisioned');
  const { stdout } = await run(cli.path, [...args, '--address', address, '--namespace', 'default'], {
    env: isolatedEnv(),
    timeout: 30_000,
  });
  return stdout;
}

/** Runs the lender CLI (built) and returns its exit code and output. */
export async function lenderCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string }> {
  const cli = startProcess('node', [dist('client/cli.js'), ...args], env);
  const code = await cli.exited;
  return { code: code ?? -1, out: cli.output() };
}

export interface NpmStart {
  /** The fresh working directory, with its temporal.yaml; `.temporal/` and `.sandbox/` appear in it. */
  dir: string;
  main: RunningProcess;
  ports: { port: number; uiPort: number; codecPort: number; metricsPort: number };
}

/**
 * `npm start` as a user runs it (npm start = build, then this entry point) in a fresh directory whose
 * temporal.yaml only moves every port to a free one, so that a test cannot collide with a developer's own
 * `npm start`. Resolves once the whole banner is printed; on failure nothing is left running or on disk.
 * `extraYaml` (top-level sections other than temporal, codecServer and worker) is appended to that file.
 */
export async function startNpmStart(
  prefix: string,
  env: NodeJS.ProcessEnv = isolatedEnv(),
  extraYaml = '',
): Promise<NpmStart> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const ports = {
    port: await freePort(),
    uiPort: await freePort(),
    codecPort: await freePort(),
    metricsPort: await freePort(),
  };
  writeFileSync(
    join(dir, 'temporal.yaml'),
    `temporal:\n  devServer:\n    port: ${ports.port}\n    uiPort: ${ports.uiPort}\n` +
      `codecServer:\n  port: ${ports.codecPort}\nworker:\n  metricsPort: ${ports.metricsPort}\n${extraYaml}`,
  );
  const main = startProcess('node', [dist('app/main.js')], env, dir);
  try {
    await main.waitFor(/Stop: +Ctrl-C/, 120_000);
  } catch (err) {
    await main.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return { dir, main, ports };
}
