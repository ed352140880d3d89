import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { connectRepaymentClient } from '../../src/client';
import { loadConfig } from '../../src/config/load';
import { WORKER_CACHE_DEFAULTS } from '../../src/config/schema';
import { projectRoot } from '../../src/paths';
import { lineChartPng } from './charts';
import { runLongLifecycle, type HistoryResult } from './historyRun';
import { runBaseline, runLifecycles, wakeSleepers, type Sample } from './liveRun';
import { freePort } from '../../src/chaos/processes';
import { startDevServer, startSandboxProcess, startWorkerProcess, stop, usage } from './processes';
import { derive, printReport, type BenchReport } from './report';
import { spreadPeak, todayInShanghai } from './spreadPeak';

/**
 * `npm run bench:lifecycle -- --lifecycles 1000`: the book-scale benchmark (README "Performance"). Starts its own
 * dev server and sandbox process, runs the yardstick and N lifecycles through the lender client in a worker
 * process of their own, then a 36-installment lifecycle on the time-skipping server, and computes the spread of a
 * book due on one day. Prints a table; writes artifacts/bench-lifecycle.json and PNG charts. Every wait is bounded
 * by --time-limit.
 */

const integer = (min: number) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`an integer ≥ ${min}`);
  return n;
};

async function main(): Promise<void> {
  const opts = new Command()
    .name('bench:lifecycle')
    .option('--lifecycles <n>', 'lifecycles started at once', integer(1), 1000)
    .option('--concurrency <n>', 'starts (and yardstick workflows) in flight', integer(1), 32)
    .option(
      '--cache <n>',
      'worker.maxCachedWorkflows of the worker',
      integer(0),
      WORKER_CACHE_DEFAULTS.maxCachedWorkflows,
    )
    .option('--spread-book <n>', 'installments due on one day, for the computed spread', integer(1), 10_000)
    .option('--time-limit <minutes>', 'abandon the run after this long', integer(1), 40)
    .option('--cpu-prof', "write the workers' V8 CPU profiles to artifacts/profiles/")
    .option('--skip-history', 'leave out the 36-installment time-skipped lifecycle')
    .parse()
    .opts<{
      lifecycles: number;
      concurrency: number;
      cache: number;
      spreadBook: number;
      timeLimit: number;
      cpuProf?: boolean;
      skipHistory?: boolean;
    }>();
  const root = projectRoot();
  const artifacts = join(root, 'artifacts');
  const work = join(artifacts, 'bench-lifecycle-run');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const deadline = Date.now() + opts.timeLimit * 60_000;
  const abandon = setTimeout(() => {
    process.stderr.write(`bench: time limit of ${opts.timeLimit} min reached; abandoning\n`);
    process.exit(2);
  }, opts.timeLimit * 60_000);
  const t0 = Date.now();
  const say = (line: string): void =>
    void process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(0)}s] ${line}\n`);
  const execArgv = opts.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${join(artifacts, 'profiles')}`] : [];

  say('starting the dev server and the sandbox process');
  const server = await startDevServer(join(work, 'temporal.db'), join(work, 'temporal.log'), say);
  const sandbox = await startSandboxProcess(root, join(work, 'sandbox'));
  const configFile = join(work, 'temporal.yaml');
  const metricsPort = await freePort();
  writeFileSync(
    configFile,
    [
      `temporal:\n  address: ${server.address}\n  namespace: default\n  taskQueue: bench-lifecycle`,
      '  compensationTaskQueue: bench-lifecycle-compensation',
      sandbox.wechatpaySection,
      `worker:\n  metricsPort: ${metricsPort}\n  logLevel: WARN\n  maxCachedWorkflows: ${opts.cache}`,
      `  maxConcurrentWorkflowTaskExecutions: ${Math.min(40, Math.max(2, opts.cache || 40))}`,
      '',
    ].join('\n'),
  );

  say(`yardstick: ${opts.lifecycles} one-call workflows`);
  const baselineWorker = await startWorkerProcess(root, 'baseline', configFile, execArgv);
  const baseline = await runBaseline(server.address, sandbox, baselineWorker, opts.lifecycles, opts.concurrency);
  await stop(baselineWorker);
  say(`yardstick: ${JSON.stringify(baseline)}`);

  say(`lifecycles: ${opts.lifecycles}, worker cache ${opts.cache}`);
  const worker = await startWorkerProcess(root, 'product', configFile, execArgv);
  const samples: Sample[] = [];
  const callsAtStart = sandbox.calls.perSecond.length;
  const sampler = setInterval(() => {
    const { rssMiB, cpuMs } = usage(worker.pid!);
    const atS = (Date.now() - sandbox.calls.started) / 1000;
    samples.push({ atS, workerRssMiB: rssMiB, workerCpuMs: cpuMs });
    if (samples.length % 5 === 0) {
      say(`  creates ${sandbox.calls.totals.create}, calls ${sandbox.calls.total}, worker ${rssMiB.toFixed(0)} MiB`);
    }
  }, 1000);
  const { client, close } = await connectRepaymentClient(loadConfig({ file: configFile }));
  let lifecycles, wake;
  try {
    lifecycles = await runLifecycles(client, sandbox, worker, opts.lifecycles, opts.concurrency, deadline, say);
    say('waking sleepers with status queries (cached, then evicted)');
    wake = await wakeSleepers(client, worker, opts.lifecycles, opts.cache, 100);
  } finally {
    clearInterval(sampler);
    await close();
  }
  say(`lifecycles: ${JSON.stringify(lifecycles)}; wake-ups: ${JSON.stringify(wake)}`);
  await stop(worker);
  await stop(sandbox.child);
  await stop(server.child);

  let history: HistoryResult | undefined;
  if (!opts.skipHistory) {
    say('36-installment lifecycle on the time-skipping server');
    history = await runLongLifecycle(say);
  }
  say(`spread of ${opts.spreadBook} installments due on one day (computed)`);
  const spread = spreadPeak(opts.spreadBook, todayInShanghai());
  clearTimeout(abandon);

  const report: BenchReport = {
    machine: { cpus: availableParallelism(), loadAverage1m: loadavg()[0]!, node: process.version },
    options: { lifecycles: opts.lifecycles, concurrency: opts.concurrency, cache: opts.cache },
    baseline,
    lifecycles,
    wake,
    history,
    spread: { ...spread, firstDayPerMinute: undefined },
  };
  report.derived = derive(report);
  writeFileSync(join(artifacts, 'bench-lifecycle.json'), `${JSON.stringify(report, null, 2)}\n`);
  const callsPerSecond = sandbox.calls.perSecond.slice(callsAtStart).map((n, i): [number, number] => [i, n]);
  lineChartPng(
    join(artifacts, 'bench-lifecycle-calls.png'),
    `WeChat Pay calls per second, ${opts.lifecycles} lifecycles`,
    { x: 'seconds', y: 'calls/s' },
    [{ name: 'calls answered by the sandbox', points: callsPerSecond }],
  );
  const first = samples[0]?.atS ?? 0;
  lineChartPng(
    join(artifacts, 'bench-lifecycle-rss.png'),
    `Worker memory, ${opts.lifecycles} lifecycles, cache ${opts.cache}`,
    { x: 'seconds', y: 'MiB' },
    [{ name: 'worker RSS', points: samples.map((s) => [s.atS - first, s.workerRssMiB]) }],
  );
  const earlyMinutes = spread.firstDayPerMinute.slice(0, 6 * 60);
  lineChartPng(
    join(artifacts, 'bench-lifecycle-spread.png'),
    `${opts.spreadBook} installments due on one day: calls per minute, window's first day, 00:00-06:00`,
    { x: 'minute of the day (Asia/Shanghai)', y: 'calls/min (log)' },
    [
      { name: 'spread (00:30-04:30)', points: earlyMinutes.map(([m, s]) => [m, s]) },
      { name: 'before (all at 00:00)', points: earlyMinutes.map(([m, , u]) => [m, u]) },
    ],
    { logY: true },
  );
  printReport(report);
  say(`wrote ${join('artifacts', 'bench-lifecycle.json')} and artifacts/bench-lifecycle-{calls,rss,spread}.png`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench:lifecycle failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
