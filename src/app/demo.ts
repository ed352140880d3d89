import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectRepaymentClient, demoPlan, type RepaymentClient } from '../client';
import { LIVE_DEMO_TIME_SCALE } from '../client/demoPlan';
import { formatStatus } from '../client/format';
import { loadConfig } from '../config/load';
import type { LifecycleStatus } from '../domain/status';
import { SandboxControlClient } from '../sandbox/controlClient';
import { progressLines } from './demoProgress';
import { demoCommands, webUiUrl } from './operatorCommands';

/**
 * `npm run demo`: with `npm start` running on the sandbox, registers a signed contract in the sandbox (as the
 * user's signing would) and starts a 3-installment lifecycle whose first installment is two days ahead, inside its
 * scheduling window, on the demo time scale (polls every 15 s). Then it follows the lifecycle live until the first
 * poll (the signing check, the create, a poll), and prints the Web UI link and the commands to try next.
 */

/** The signing check and the create take a second or two, the first poll comes 15 s later: a minute is plenty. */
const FOLLOW_MS = 90_000;

async function main(): Promise<void> {
  const config = loadConfig();
  const runningFile = join(config.sandbox.dataDir, 'running.json');
  if (!existsSync(runningFile)) {
    throw new Error(`${runningFile} not found: start the worker on the sandbox first (npm start)`);
  }
  const { primaryUrl } = JSON.parse(readFileSync(runningFile, 'utf8')) as { primaryUrl: string };
  const plan = demoPlan({ signature: 'poll', firstInDays: 2, installments: 3 });
  await new SandboxControlClient(primaryUrl).createContract({
    outContractCode: plan.outContractCode,
    contractId: plan.contractId,
    appid: plan.appid,
    openid: plan.openid,
    authorized: true,
  });
  const say = (line = ''): void => void process.stdout.write(`${line}\n`);
  const { client, close } = await connectRepaymentClient(config);
  try {
    const code = plan.outContractCode;
    const started = await client.startLifecycle(plan, { demo: LIVE_DEMO_TIME_SCALE });
    const first = plan.installments[0]!;
    say(`Started ${started.workflowId}: ${plan.installments.length} installments, the first on ${first.repaymentDate}`);
    say(
      `(inside its scheduling window, so it is created now). Demo time scale: a scheduled record is polled every ` +
        `${LIVE_DEMO_TIME_SCALE.pollIntervalSeconds} s (production: every 24 h).`,
    );
    const ui = webUiUrl(config, started.workflowId);
    if (ui) say(`Web UI: ${ui}`);
    say();
    say(`Following it live (up to ${FOLLOW_MS / 1000} s):`);
    const status = await follow(client, code, (line) => say(`  ${line}`));
    say();
    say(formatStatus(status));
    say();
    say('Try next (from this directory):');
    const record = status.installments[0]!.outRecordId;
    for (const command of demoCommands(code, started.workflowId, record)) say(`  ${command}`);
    if (ui) say(`Web UI, all lifecycles: ${webUiUrl(config)}`);
  } finally {
    await close();
  }
}

/** Prints what happens until the first installment has been polled once, or the time is up. */
async function follow(client: RepaymentClient, code: string, print: (line: string) => void): Promise<LifecycleStatus> {
  const began = Date.now();
  let last: LifecycleStatus | undefined;
  for (;;) {
    const status = await client.getStatus(code);
    const elapsed = `+${((Date.now() - began) / 1000).toFixed(1)}s`.padEnd(7);
    for (const line of progressLines(last, status)) print(`${elapsed} ${line}`);
    last = status;
    if ((status.installments[0]?.pollCount ?? 0) > 0) return status;
    if (Date.now() - began > FOLLOW_MS) {
      print(`no poll yet after ${FOLLOW_MS / 1000} s: see the status below and the worker's log`);
      return status;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${(err as Error).message}\n`);
  process.exit(1);
});
