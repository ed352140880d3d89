import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { freePort, waitUntil } from '../../src/chaos/processes';
import { SEARCH_ATTRIBUTES } from '../../src/domain/searchAttributes';
import { DEV_SERVER_EXTRA_ARGS } from '../../src/servers/devServer';
import { resolveTemporalCli } from '../../src/servers/provision';

/**
 * The bench's separate processes (dev server, sandbox, worker), each with its own pid so that its CPU and memory
 * are read from /proc alone (Linux). Every process is killed when the bench exits, however it exits.
 */

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU time (user + system, all threads) in ms and resident memory in MiB of a process. */
export function usage(pid: number): { cpuMs: number; rssMiB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of proc(5))
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpuMs: (ticks * 1000) / CLOCK_TICKS, rssMiB: Number(rss?.[1] ?? 0) / 1024 };
}

export async function stop(child: ChildProcess, graceMs = 20_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
  children.delete(child);
}

export interface DevServer {
  child: ChildProcess;
  address: string;
}

/** The `temporal` CLI's dev server, as `npm start` runs it (SQLite file, no tuning), without its Web UI. */
export async function startDevServer(
  dbFile: string,
  logFile: string,
  progress: (line: string) => void,
): Promise<DevServer> {
  const executable = await resolveTemporalCli({ progress });
  if (!executable) throw new Error('no temporal CLI: run `npm start` once to build it');
  const port = await freePort();
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--headless'];
  args.push('--db-filename', dbFile, '--namespace', 'default', ...DEV_SERVER_EXTRA_ARGS);
  for (const key of SEARCH_ATTRIBUTES) args.push('--search-attribute', `${key.name}=${searchAttributeType(key.type)}`);
  const log = openSync(logFile, 'w');
  const child = spawn(executable.path, args, { stdio: ['ignore', log, log] });
  closeSync(log);
  children.add(child);
  const address = `127.0.0.1:${port}`;
  await waitUntil(
    async () => {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      await connection.close();
      return true;
    },
    'the dev server',
    60_000,
  );
  return { child, address };
}

function searchAttributeType(type: string): string {
  return type === 'DATETIME' ? 'Datetime' : type === 'KEYWORD' ? 'Keyword' : type;
}

export interface SandboxProcess {
  child: ChildProcess;
  primaryUrl: string;
  /** The `wechatpay:` section it printed, for the worker's temporal.yaml. */
  wechatpaySection: string;
  /** Answers per second since start, by kind of call, from its request lines. */
  calls: CallCounter;
}

/** One /v3 answer, as the sandbox's request line shows it. */
export type CallKind = 'create' | 'poll' | 'signing' | 'other';

export class CallCounter {
  readonly started = Date.now();
  readonly perSecond: number[] = [];
  readonly totals: Record<CallKind, number> = { create: 0, poll: 0, signing: 0, other: 0 };
  errors = 0;

  record(path: string, status: number): void {
    const kind: CallKind = path.includes('/batch-create')
      ? 'create'
      : path.includes('/schedule-records/')
        ? 'poll'
        : path.includes('/out-contract-code/')
          ? 'signing'
          : 'other';
    this.totals[kind]++;
    if (status >= 300) this.errors++;
    const second = Math.floor((Date.now() - this.started) / 1000);
    while (this.perSecond.length <= second) this.perSecond.push(0);
    this.perSecond[second]!++;
  }

  get total(): number {
    return Object.values(this.totals).reduce((a, b) => a + b, 0);
  }
}

/** `npm run sandbox` in its own process (state persisted as under `npm start`), its request lines counted. */
export async function startSandboxProcess(root: string, dataDir: string): Promise<SandboxProcess> {
  const child = spawn(process.execPath, [join(root, 'dist/src/sandbox/main.js'), '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const calls = new CallCounter();
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  let partial = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      const match = /^sandbox (?:primary|backup): \w+ (\S+) → (\d+)/.exec(line);
      if (match) calls.record(match[1]!, Number(match[2]));
    }
  });
  const printed = await waitUntil(async () => (out.includes('Stop: Ctrl-C') ? out : undefined), 'the sandbox', 30_000);
  const primaryUrl = /primary:\s+(http\S+)/.exec(printed)![1]!;
  // Public-key mode, as with configured keys: drop the platform-certificate line and its comment.
  const section = printed.slice(printed.indexOf('wechatpay:'), printed.indexOf('Stop: Ctrl-C'));
  const wechatpaySection = section
    .split('\n')
    .filter((line) => !/apiV3KeyFile|^\s*#/.test(line))
    .join('\n');
  return { child, primaryUrl, wechatpaySection, calls };
}

/** bench/lifecycle/workerProcess.ts in its own process; resolves once it polls. */
export async function startWorkerProcess(
  root: string,
  mode: 'product' | 'baseline',
  configFile: string,
  execArgv: string[],
): Promise<ChildProcess> {
  const child = fork(join(root, 'dist/bench/lifecycle/workerProcess.js'), [mode], {
    env: { ...process.env, REPAYMENT_CONFIG: configFile },
    execArgv,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  children.add(child);
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`the ${mode} worker exited (${code}) before it was ready`)));
  });
  return child;
}
