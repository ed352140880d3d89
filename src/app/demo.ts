import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectRepaymentClient, demoPlan } from '../client';
import { formatStatus } from '../client/format';
import { loadConfig } from '../config/load';
import { SandboxControlClient } from '../sandbox/controlClient';

/**
 * `npm run demo`: with `npm start` running on the sandbox, registers a signed contract in the sandbox (as the
 * user's signing would), starts its 12-installment lifecycle through the lender client, and prints its status
 * and the operator's commands.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const runningFile = join(config.sandbox.dataDir, 'running.json');
  if (!existsSync(runningFile)) {
    throw new Error(`${runningFile} not found: start the worker on the sandbox first (npm start)`);
  }
  const { primaryUrl } = JSON.parse(readFileSync(runningFile, 'utf8')) as { primaryUrl: string };
  const sandbox = new SandboxControlClient(primaryUrl);
  const plan = demoPlan({ signature: 'poll' });
  await sandbox.createContract({
    outContractCode: plan.outContractCode,
    contractId: plan.contractId,
    appid: plan.appid,
    openid: plan.openid,
    authorized: true,
  });
  const { client, close } = await connectRepaymentClient(config);
  try {
    const started = await client.startLifecycle(plan);
    // Give the lifecycle a moment to confirm the signature with the sandbox before showing its status.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const code = plan.outContractCode;
    process.stdout.write(`Started ${started.workflowId} (run ${started.runId}).\n\n`);
    const status = await client.getStatus(code);
    process.stdout.write(`${formatStatus(status)}\n\n`);
    process.stdout.write(
      [
        'Try next:',
        `  npm run cli -- status ${code}`,
        `  npm run cli -- report-result ${code} --record ${status.installments[0]?.outRecordId ?? '<outRecordId>'} --outcome SUCCESS`,
        `  temporal workflow query --workflow-id ${started.workflowId} --type status --address ${config.temporal.connection.address}`,
        `  temporal workflow list --query 'RepaymentPhase="MONITORING"' --address ${config.temporal.connection.address}`,
        `  temporal workflow signal --workflow-id ${started.workflowId} --name cancel --input '{"reason":"demo over"}' --address ${config.temporal.connection.address}`,
        '',
      ].join('\n'),
    );
  } finally {
    await close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${(err as Error).message}\n`);
  process.exit(1);
});
