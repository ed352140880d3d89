import { Command, InvalidArgumentError } from 'commander';
import { loadConfig } from '../config/load';
import { readLenderEventSecrets } from '../config/lenderEvents';
import { startEventsReceiver } from './eventsReceiver';
import { onShutdownSignal } from './signals';

/**
 * `npm run events -- --port P`: the development receiver of lender events. It verifies each event with the secret of
 * `lender.events.secretFile` (or --secret-file) and prints it; point `lender.events.url` (LENDER_EVENTS_URL) at it.
 */

const DEFAULT_PORT = 8235;

function integer(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError('must be a whole number');
  return parsed;
}

async function main(): Promise<void> {
  const options = new Command('events')
    .description('Receive, verify and print lender events (development).')
    .option(
      '--port <port>',
      `port to listen on (default: the port of lender.events.url, else ${DEFAULT_PORT})`,
      integer,
    )
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--secret-file <file>', 'the shared secret(s), one per line (default: lender.events.secretFile)')
    .option('--tolerance <seconds>', 'refuse events signed longer ago than this', integer, 300)
    .option('--config <file>', 'the temporal.yaml to read (default ./temporal.yaml, or $REPAYMENT_CONFIG)')
    .parse()
    .opts<{ port?: number; host: string; secretFile?: string; tolerance: number; config?: string }>();
  const { lenderEvents } = loadConfig(options.config ? { file: options.config } : {});
  const secretFile = options.secretFile ?? lenderEvents.secretFile;
  if (!secretFile) {
    process.stderr.write('no secret: give --secret-file or set lender.events.secretFile (LENDER_EVENTS_SECRET_FILE)\n');
    process.exit(2);
  }
  const configuredPort = lenderEvents.url ? Number(new URL(lenderEvents.url).port) || undefined : undefined;
  const receiver = await startEventsReceiver({
    host: options.host,
    port: options.port ?? configuredPort ?? DEFAULT_PORT,
    secrets: readLenderEventSecrets(secretFile),
    toleranceSeconds: options.tolerance,
    print: (line) => void process.stdout.write(`${line}\n`),
  });
  process.stderr.write(
    `Lender events receiver on ${receiver.url} (verifying with ${secretFile}, tolerance ${options.tolerance} s).\n` +
      `Point lender.events.url (or LENDER_EVENTS_URL) here. Ctrl-C stops it.\n`,
  );
  onShutdownSignal(() => receiver.close());
}

main().catch((err: unknown) => {
  process.stderr.write(`events receiver failed: ${(err as Error).message}\n`);
  process.exit(1);
});
