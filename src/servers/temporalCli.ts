import { spawn } from 'node:child_process';
import { tokensIn } from '../codec/configured';
import { ConfigError, loadConfig, type AppConfig } from '../config/load';
import { resolveTemporalCli } from './provision';

/**
 * `npm run temporal -- <args>`: the Temporal CLI that the project provisioned (`.cache/bin/temporal` unless one is
 * on PATH or in TEMPORAL_CLI_PATH), pointed at what temporal.yaml points the worker at: the server, the namespace,
 * and the codec server when payload encryption is on (so queries and payloads read decoded, and `--input` is
 * encrypted as the worker expects). Everything goes through the CLI's own environment variables, so a flag given
 * on the command line still wins.
 */

/** The CLI's environment for this configuration; `notes` says what could not be passed on. */
export function temporalCliEnv(
  config: AppConfig,
  env: NodeJS.ProcessEnv = process.env,
): { env: NodeJS.ProcessEnv; notes: string[] } {
  const { address, apiKey, tls } = config.temporal.connection;
  const out: NodeJS.ProcessEnv = { ...env, TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: config.temporal.namespace };
  const notes: string[] = [];
  if (apiKey !== undefined) out.TEMPORAL_API_KEY = apiKey;
  if (typeof tls === 'boolean') out.TEMPORAL_TLS = String(tls);
  else if (tls !== undefined) {
    out.TEMPORAL_TLS = 'true';
    // TLS files from the environment or a client profile reach the CLI as they reach the loader; YAML ones do not.
    if (!Object.keys(env).some((key) => key.startsWith('TEMPORAL_TLS_') || key === 'TEMPORAL_PROFILE')) {
      notes.push('temporal.tls.* files are not passed on: set TEMPORAL_TLS_CLIENT_CERT_PATH and the others for mTLS');
    }
  }
  const codec = codecEndpoint(config);
  if (codec && env.TEMPORAL_CODEC_ENDPOINT === undefined) {
    out.TEMPORAL_CODEC_ENDPOINT = codec;
    const { tokenFile } = config.codecServer;
    if (tokenFile && env.TEMPORAL_CODEC_AUTH === undefined) {
      out.TEMPORAL_CODEC_AUTH = `Bearer ${tokensIn(tokenFile)[0]}`;
    }
  }
  return { env: out, notes };
}

/** The codec server's URL as `npm start` or `npm run codec-server` runs it with this configuration. */
export function codecEndpoint(config: AppConfig): string | undefined {
  if (!config.temporal.payloadCodec) return undefined;
  const { host, port, tls } = config.codecServer;
  const reachable = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `${tls ? 'https' : 'http'}://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
}

async function main(args: string[]): Promise<number> {
  const say = (line: string): void => void process.stderr.write(`${line}\n`);
  const config = loadConfig();
  const cli = await resolveTemporalCli({ progress: (line) => say(`[temporal] ${line}`) });
  if (!cli) {
    say('No Temporal CLI found: put `temporal` on PATH (or set TEMPORAL_CLI_PATH), or install Go ≥ 1.23 to build it.');
    return 1;
  }
  const { env, notes } = temporalCliEnv(config);
  say(
    `[temporal] ${env.TEMPORAL_ADDRESS}, namespace ${env.TEMPORAL_NAMESPACE}` +
      `${env.TEMPORAL_CODEC_ENDPOINT ? `, codec server ${env.TEMPORAL_CODEC_ENDPOINT}` : ''}`,
  );
  for (const note of notes) say(`[temporal] note: ${note}`);
  const child = spawn(cli.path, args, { env, stdio: 'inherit' });
  // Ctrl-C reaches the CLI too (same terminal); wait for it to finish instead of leaving it behind.
  const ignore = (): void => undefined;
  process.on('SIGINT', ignore);
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? (signal === 'SIGINT' ? 130 : 1)));
  });
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      const config = error instanceof ConfigError;
      process.stderr.write(`npm run temporal: ${config ? 'invalid configuration: ' : ''}${(error as Error).message}\n`);
      process.exit(config ? 2 : 1);
    },
  );
}
