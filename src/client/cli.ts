#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { registerCertificateCommands } from '../app/certificatesCli';
import { loadConfig } from '../config/load';
import type { PlanModificationInput } from '../domain/modification';
import { parsePlan, PlanValidationError } from '../domain/plan';
import { demoPlan } from './demoPlan';
import { describeFailure, formatList, formatStart, formatStatus } from './format';
import { connectRepaymentClient, type ConnectedRepaymentClient, type RepaymentClient } from './lenderClient';

/**
 * `repayment`: the lender's CLI over RepaymentClient. Exit codes: 0 done, 2 invalid input (the field is named),
 * 1 anything else (not found, conflict, Temporal unreachable).
 */

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

export type Connect = (configFile: string | undefined) => Promise<ConnectedRepaymentClient>;

const processIo: CliIo = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
};

const connectFromConfig: Connect = (file) => connectRepaymentClient(loadConfig(file ? { file } : {}), { lazy: true });

export function buildProgram(io: CliIo, connect: Connect = connectFromConfig): Command {
  const program = new Command('repayment')
    .description("Start and drive WeChat Pay credit-repayment lifecycles (the lender's side).")
    .option('--config <file>', 'the temporal.yaml to read (default ./temporal.yaml, or $REPAYMENT_CONFIG)')
    .option('--json', 'machine-readable JSON output instead of tables')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });

  const globals = (command: Command) => command.optsWithGlobals<{ config?: string; json?: boolean }>();
  /** Runs one operation on a connected client, then prints JSON or the readable text. */
  const run =
    <A extends unknown[]>(
      operation: (client: RepaymentClient, ...args: A) => Promise<{ json: unknown; text: string }>,
    ): ((...args: [...A, Command]) => Promise<void>) =>
    async (...args) => {
      const command = args.pop() as Command;
      const { config, json } = globals(command);
      const connected = await connect(config);
      try {
        const result = await operation(connected.client, ...(args as unknown as A));
        io.out(json ? `${JSON.stringify(result.json, null, 2)}\n` : `${result.text}\n`);
      } finally {
        await connected.close();
      }
    };
  const done = (what: string) => ({ json: { ok: true }, text: what });

  // Every operation validates its input (files, then the domain schemas) before the lazy connection is used.
  program
    .command('start')
    .description('start the lifecycle of a contract from a JSON plan file (idempotent for the same plan)')
    .argument('<plan.json>', 'the repayment plan (see `repayment demo-plan`)')
    .action(
      run(async (client, file: string) => {
        const result = await client.startLifecycle(readJsonFile(file));
        return { json: result, text: formatStart(result) };
      }),
    );

  program
    .command('status')
    .description("show a lifecycle's phase and installments (the workflow's status query)")
    .argument('<outContractCode>')
    .action(
      run(async (client, code: string) => {
        const status = await client.getStatus(code);
        return { json: status, text: formatStatus(status) };
      }),
    );

  program
    .command('cancel')
    .description('stop a lifecycle; the contract is terminated at WeChat Pay')
    .argument('<outContractCode>')
    .requiredOption('--reason <text>', 'why (shown in the status and in the termination remark)')
    .action(
      run(async (client, code: string, options: { reason: string }) => {
        await client.cancel(code, options.reason);
        return done(`Cancel sent to the lifecycle of ${code}.`);
      }),
    );

  program
    .command('report-result')
    .description("report the lender's repayment result of one installment")
    .argument('<outContractCode>')
    .requiredOption('--record <outRecordId>', 'the installment (out_record_id, see `status`)')
    .requiredOption('--outcome <outcome>', 'SUCCESS or FAILED')
    .option('--amount <fen>', 'amount repaid, integer fen')
    .option('--transaction-id <id>', 'the payment transaction id')
    .option('--reason <text>', 'why it failed')
    .action(
      run(
        async (
          client,
          code: string,
          options: { record: string; outcome: string; amount?: string; transactionId?: string; reason?: string },
        ) => {
          const status = await client.reportRepaymentResult(code, {
            outRecordId: options.record,
            outcome: options.outcome as 'SUCCESS' | 'FAILED', // checked by the result's schema
            ...(options.amount !== undefined ? { amount: options.amount } : {}),
            ...(options.transactionId !== undefined ? { transactionId: options.transactionId } : {}),
            ...(options.reason !== undefined ? { reason: options.reason } : {}),
          });
          return {
            json: status,
            text: `Result ${options.outcome} of ${options.record} accepted by the lifecycle of ${code}.\n\n${formatStatus(status)}`,
          };
        },
      ),
    );

  program
    .command('resolve-alert')
    .description("an operator's decision on an alert of a lifecycle (see `status`): retry, skip or terminate")
    .argument('<outContractCode>')
    .requiredOption('--action <action>', 'retry (the step now), skip (the installment) or terminate (the contract)')
    .option('--alert <key>', 'the alert (e.g. create:R…); may be left out when the lifecycle has one')
    .option('--reason <text>', 'why (required to terminate; shown in the termination remark)')
    .action(
      run(async (client, code: string, options: { action: string; alert?: string; reason?: string }) => {
        const status = await client.resolveAlert(code, {
          action: options.action as 'retry', // checked by the update's schema
          ...(options.alert !== undefined ? { alert: options.alert } : {}),
          ...(options.reason !== undefined ? { reason: options.reason } : {}),
        });
        return { json: status, text: formatStatus(status) };
      }),
    );

  program
    .command('report-bill')
    .description('report a compensation bill; the lifecycle tracks it to its final state')
    .argument('<outContractCode>')
    .argument('<outBillNo>')
    .action(
      run(async (client, code: string, outBillNo: string) => {
        await client.reportCompensationBill(code, outBillNo);
        return done(`Compensation bill ${outBillNo} reported to the lifecycle of ${code}.`);
      }),
    );

  program
    .command('signed')
    .description('confirm that the user signed the contract (plans with signature mode "signal")')
    .argument('<outContractCode>')
    .option('--contract-id <id>', 'the WeChat Pay contract id (checked against the plan)')
    .option('--signed-time <rfc3339>', 'when the user signed')
    .action(
      run(async (client, code: string, options: { contractId?: string; signedTime?: string }) => {
        await client.confirmSigned(code, {
          ...(options.contractId !== undefined ? { contractId: options.contractId } : {}),
          ...(options.signedTime !== undefined ? { signedTime: options.signedTime } : {}),
        });
        return done(`Signature confirmed to the lifecycle of ${code}.`);
      }),
    );

  program
    .command('modify')
    .description('add or reschedule installments from a JSON file: {"add": [...], "reschedule": [...]}')
    .argument('<outContractCode>')
    .argument('<modification.json>')
    .action(
      run(async (client, code: string, file: string) => {
        const status = await client.modifyPlan(code, readJsonFile(file) as PlanModificationInput); // checked by the schema
        return { json: status, text: formatStatus(status) };
      }),
    );

  program
    .command('list')
    .description('list lifecycles by search attributes')
    .option('--phase <phase>', 'RepaymentPhase, e.g. MONITORING')
    .option('--contract <outContractCode>', 'OutContractCode')
    .option('--next-before <YYYY-MM-DD>', 'next repayment date before this day (Asia/Shanghai)')
    .option('--alerts', 'only lifecycles with an alert (RepaymentAlert is set)')
    .option('--query <visibility query>', 'an extra Temporal visibility clause, ANDed')
    .option('--limit <n>', 'at most this many (default 100)', positiveInteger)
    .action(
      run(
        async (
          client,
          options: {
            phase?: string;
            contract?: string;
            nextBefore?: string;
            alerts?: boolean;
            query?: string;
            limit?: number;
          },
        ) => {
          const rows = await client.list({
            ...(options.phase !== undefined ? { phase: options.phase } : {}),
            ...(options.alerts ? { inAlert: true } : {}),
            ...(options.contract !== undefined ? { outContractCode: options.contract } : {}),
            ...(options.nextBefore !== undefined ? { nextRepaymentBefore: options.nextBefore } : {}),
            ...(options.query !== undefined ? { query: options.query } : {}),
            ...(options.limit !== undefined ? { limit: options.limit } : {}),
          });
          return { json: rows, text: formatList(rows) };
        },
      ),
    );

  program
    .command('demo-plan')
    .description('print an example plan (monthly installments from next month) to save and `start`')
    .option('--code <outContractCode>', 'contract code (default DEMO + the current time)')
    .option('--installments <n>', 'number of monthly installments', positiveInteger, 12)
    .option('--signature <mode>', 'poll, signal or none', 'poll')
    .action((options: { code?: string; installments: number; signature: string }) => {
      const plan = demoPlan({
        installments: options.installments,
        signature: options.signature as 'poll', // checked by parsePlan below
        ...(options.code !== undefined ? { outContractCode: options.code } : {}),
      });
      parsePlan(plan);
      io.out(`${JSON.stringify(plan, null, 2)}\n`);
    });

  registerCertificateCommands(program, io);
  return program;
}

/** Runs the CLI; resolves to the process exit code. */
export async function runCli(argv: readonly string[], io: CliIo = processIo, connect?: Connect): Promise<number> {
  const program = buildProgram(io, connect);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    // Commander has already printed its own message (or the help).
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    const failure = describeFailure(error);
    io.err(
      argv.includes('--json') ? `${JSON.stringify({ error: failure.json }, null, 2)}\n` : `error: ${failure.text}\n`,
    );
    return failure.exitCode;
  }
}

function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new PlanValidationError([{ path: file, rule: `must be a readable file (${(error as Error).message})` }]);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new PlanValidationError([{ path: file, rule: `must be valid JSON (${(error as Error).message})` }]);
  }
}

function positiveInteger(value: string): number {
  if (!/^[1-9]\d{0,5}$/.test(value)) throw new InvalidArgumentError('must be a positive integer.');
  return Number(value);
}

if (require.main === module) {
  void runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
