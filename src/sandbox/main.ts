import { Command, InvalidArgumentError } from 'commander';
import { onShutdownSignal } from '../app/signals';
import { startSandbox } from './index';

/**
 * `npm run sandbox`: the WeChat Pay sandbox on its own, state persisted under the data directory. Prints its
 * URLs, key ids, the control API and the temporal.yaml snippet a worker needs; stops on SIGINT/SIGTERM.
 * Flags win over SANDBOX_PORT / SANDBOX_BACKUP_PORT / SANDBOX_DATA_DIR / SANDBOX_HOST; SANDBOX_CONTROL_TOKEN guards
 * the control API.
 */
async function main(): Promise<void> {
  const program = new Command()
    .name('sandbox')
    .description('Local WeChat Pay APIv3 sandbox (five credit-repayment endpoints, control API under /sandbox/)')
    .option('--port <port>', 'primary port (0 = any free port)', parsePort, envPort('SANDBOX_PORT'))
    .option('--backup-port <port>', 'backup port (0 = any free port)', parsePort, envPort('SANDBOX_BACKUP_PORT'))
    .option('--data-dir <dir>', 'keys and state', process.env.SANDBOX_DATA_DIR ?? '.sandbox')
    .option('--mchid <mchid>', 'merchant id the sandbox accepts', '1900000001')
    .option(
      '--host <address>',
      'address to listen on (0.0.0.0 for other machines; the control API then needs SANDBOX_CONTROL_TOKEN)',
      process.env.SANDBOX_HOST ?? '127.0.0.1',
    )
    .option('--no-persist', 'keep the state in memory only')
    .option('--request-log <file>', 'also append every request-log entry to this file (JSON lines, mode 0600)')
    .option('--quiet', 'do not log each request')
    .parse();
  const opts = program.opts<{
    port: number;
    backupPort: number;
    dataDir: string;
    mchid: string;
    host: string;
    persist: boolean;
    quiet?: boolean;
    requestLog?: string;
  }>();
  const say = (line: string): void => void process.stdout.write(`${line}\n`);

  const sandbox = await startSandbox({
    host: opts.host,
    primaryPort: opts.port,
    backupPort: opts.backupPort,
    dataDir: opts.dataDir,
    mchid: opts.mchid,
    persist: opts.persist,
    ...(opts.requestLog ? { requestLogFile: opts.requestLog } : {}),
    ...(opts.quiet ? {} : { logger: (line: string) => process.stderr.write(`${line}\n`) }),
  });
  say('WeChat Pay sandbox is running.');
  say(`  primary:      ${sandbox.primaryUrl}`);
  say(`  backup:       ${sandbox.backupUrl}`);
  say(`  control API:  ${sandbox.primaryUrl}/sandbox/  (e.g. GET ${sandbox.primaryUrl}/sandbox/health)`);
  say(
    sandbox.controlTokenRequired
      ? '                every control call needs Authorization: Bearer $SANDBOX_CONTROL_TOKEN'
      : '                loopback callers only (set SANDBOX_CONTROL_TOKEN to allow others with a Bearer token)',
  );
  say(`  mchid:        ${sandbox.mchid}`);
  say(`  merchant serial_no: ${sandbox.merchant.serialNo}`);
  for (const key of sandbox.platformKeys) say(`  platform key: ${key.id}  (${key.publicKeyPath})`);
  for (const cert of sandbox.platformCertificates) {
    say(`  platform certificate: ${cert.serial}${cert.signing ? ' (signing)' : ''}  (${cert.certificatePath})`);
  }
  say(`  APIv3 key:    ${sandbox.apiV3KeyPath}  (mode 0600; seals the certificates of GET /v3/certificates)`);
  say(`  state:        ${opts.persist ? `${opts.dataDir}/state.json + state.journal` : 'in memory'}`);
  if (opts.requestLog) say(`  request log:  ${opts.requestLog}  (every request, JSON lines)`);
  say('');
  say('temporal.yaml section for a worker (the ports hold while this process runs):');
  say(sandbox.configSnippet());
  say('Stop: Ctrl-C');
  onShutdownSignal(async () => {
    await sandbox.close();
    say('sandbox stopped');
  });
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError('a port number 0-65535');
  return port;
}

function envPort(name: string): number {
  const value = process.env[name];
  if (value === undefined || value === '') return 0;
  try {
    return parsePort(value);
  } catch {
    throw new Error(`${name}: a port number 0-65535, got ${JSON.stringify(value)}`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`sandbox failed to start: ${(err as Error).message}\n`);
  process.exit(1);
});
