import { createWriteStream, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { connectRepaymentClient } from '../client';
import { loadConfig } from '../config/load';
import { FORGED_AMOUNT, FORGED_SIGNED_TIME } from '../sandbox/forgery';
import { runChecks } from './checks';
import { collectEvidence } from './collect';
import { Driver } from './driver';
import { buildFaultSchedule, createWaves, formatSchedule } from './faultSchedule';
import { Journal } from './journal';
import { billNo, Lender } from './lender';
import { parseOptions } from './options';
import { buildBook, chaosPolicy, OPENID_PATTERN } from './plans';
import { Random } from './random';
import { buildReport, reportMarkdown } from './report';
import { scanLogs } from './secrets';
import { ChaosStack } from './stack';
import { renderTimeline } from './timeline';

/**
 * `npm run chaos`: N lifecycles on the real stack under a seeded fault schedule, then the independent checker, a
 * report (Markdown, JSON, PNG timeline) in `--out`, and exit 0 only when every check holds. The run's state (the
 * dev server's database, the sandbox's keys and request log, every process's log) stays in `<out>/state/` for
 * inspection and is replaced by the next run.
 */
async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const out = resolve(options.out);
  const stateDir = join(out, 'state');
  rmSync(stateDir, { recursive: true, force: true });
  mkdirSync(join(stateDir, 'logs'), { recursive: true });
  const chaosLog = createWriteStream(join(stateDir, 'logs', 'chaos.log'), { mode: 0o600 });
  const say = (line: string): void => {
    process.stdout.write(`${line}\n`);
    chaosLog.write(`${line}\n`);
  };

  const random = new Random(options.seed);
  const faultSeconds = Math.round(options.minutes * 60);
  const policy = chaosPolicy(options.minutes);
  const signingDeadlineMs = (policy.signingDeadlineHours ?? 1) * 3_600_000;
  const schedule = buildFaultSchedule(random, {
    faultSeconds,
    faultsPerKind: options.faultsPerKind,
    workers: options.workers,
  });
  const book = buildBook(random, {
    lifecycles: options.lifecycles,
    faultSeconds,
    signingDeadlineSeconds: signingDeadlineMs / 1000,
    createWavesAtSec: createWaves(schedule),
    nowMs: Date.now(),
  });
  // The book holds openids: state only (0600), like the sandbox's own files.
  writeFileSync(join(stateDir, 'book.json'), `${JSON.stringify(book, null, 1)}\n`, { mode: 0o600 });
  say(`Chaos run: ${options.lifecycles} lifecycles, ${faultSeconds} s of faults, seed ${options.seed}`);
  say(`  policy: ${JSON.stringify(policy)}`);
  say(`  mix: ${mix(book)}`);
  say('Fault schedule (repeatable with the same --seed):');
  for (const line of formatSchedule(schedule)) say(line);

  const startedAt = Date.now();
  say('Starting the stack…');
  const stack = await ChaosStack.start({ stateDir, workers: options.workers, policy, say });
  const stopOnSignal = (): void => {
    say('interrupted: stopping the stack');
    void stack.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  try {
    const config = loadConfig({ file: stack.clientConfigFile, env: {} });
    const { client, close } = await connectRepaymentClient(config);
    try {
      const journal = new Journal();
      const driver = new Driver(stack, (running) => new Lender(client, stack.control, journal, running), journal, say);
      const stackReadyAt = Date.now();
      say(`Fault phase (${faultSeconds} s), then ${Math.round(options.settleMinutes * 60)} s healthy…`);
      const driverResult = await driver.run(book, schedule, faultSeconds, options.settleMinutes * 60);

      say('Collecting the evidence…');
      const evidence = await collectEvidence({
        control: stack.control,
        requestLogFile: stack.requestLogFile,
        temporal: client.temporal,
        codec: config.temporal.payloadCodec!,
        billNumbers: book.filter((s) => s.behaviour === 'bill').map(billNo),
        scan: { plaintext: OPENID_PATTERN, forged: [FORGED_AMOUNT, FORGED_SIGNED_TIME] },
        say,
      });
      await close();
      await stack.stop();
      const keys = join(stateDir, 'sandbox', 'keys');
      const logs = scanLogs(stack.logDir, {
        privateKeyFiles: readdirSync(keys)
          .filter((name) => /^(apiclient_key|wxp_key_.*|wxp_cert_key_.*)\.pem$/.test(name))
          .map((name) => join(keys, name)),
        secretFiles: [join(keys, 'apiv3_key.txt'), join(stateDir, 'payload.key')],
        openidPattern: OPENID_PATTERN,
      });
      const checks = runChecks({
        book,
        journal,
        evidence,
        logs,
        signingDeadlineMs,
        scheduleLeadDays: policy.scheduleLeadDays ?? 7,
        healthyMs: driverResult.settle.end - driverResult.settle.start,
        // A contract check comes within 1.25 intervals and a minute; a failed step is retried within another two.
        evidenceActsWithinMs: ((policy.contractCheckIntervalMinutes ?? 1) * 75 + 180) * 1000,
      });
      const { report, timeline } = buildReport({
        options,
        book,
        schedule,
        journal,
        evidence,
        checks,
        timings: { startedAt, stackReadyAt, driver: driverResult, checkedAt: Date.now() },
      });
      writeFileSync(join(out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
      writeFileSync(join(stateDir, 'journal.json'), `${JSON.stringify(journal.entries, null, 1)}\n`, { mode: 0o600 });
      writeFileSync(join(out, 'report.md'), reportMarkdown(report));
      try {
        const picture = await renderTimeline(
          timeline,
          `chaos run, seed ${options.seed}, ${options.lifecycles} lifecycles`,
        );
        writeFileSync(join(out, 'timeline.png'), picture.png);
        writeFileSync(join(out, 'timeline.svg'), picture.svg);
      } catch (error) {
        say(`timeline not drawn: ${(error as Error).message}`);
      }
      say('');
      for (const check of checks) {
        say(
          `${check.passed ? 'PASS' : 'FAIL'}  ${check.id}: ${check.violations} violation(s) in ${check.examined} examined`,
        );
        for (const example of check.examples.slice(0, 5)) say(`        ${example}`);
      }
      say(`Figures: ${JSON.stringify(report.figures)}`);
      say(`Report: ${join(out, 'report.md')} (JSON, timeline.png beside it; state and logs in ${stateDir})`);
      say(report.passed ? 'chaos: every check holds' : 'chaos: FAILED');
      return report.passed ? 0 : 1;
    } finally {
      await close().catch(() => undefined);
    }
  } finally {
    await stack.stop().catch(() => undefined);
    // Flushed before main() returns: the caller exits the process at once.
    await new Promise<void>((resolve) => chaosLog.end(resolve));
  }
}

function mix(book: ReturnType<typeof buildBook>): string {
  const tally = (key: (s: (typeof book)[number]) => string): string => {
    const counts = new Map<string, number>();
    for (const spec of book) counts.set(key(spec), (counts.get(key(spec)) ?? 0) + 1);
    return [...counts].map(([k, v]) => `${k} ${v}`).join(', ');
  };
  return [
    tally((s) => `signed ${s.signing}`),
    tally((s) => `mode ${s.plan.signature.mode}`),
    tally((s) => `window ${s.window}`),
    tally((s) => s.cadence),
    tally((s) => s.behaviour),
  ].join('; ');
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`chaos run failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(2);
  },
);
