import { onShutdownSignal } from '../app/signals';
import { JsonLogger } from '../app/logger';
import { loadConfig } from '../config/load';
import { allowedOrigins, startConfiguredCodecServer } from './configured';

/**
 * `npm run codec-server`: the codec server alone, with the key(s) and `codecServer:` settings of the same
 * temporal.yaml the worker reads (production: a token, TLS and the Web UI's origin; see README). `npm start`
 * runs one itself on the embedded default.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = new JsonLogger(config.worker.logLevel);
  for (const line of config.choices) logger.info(line);
  const server = await startConfiguredCodecServer(config, logger.child({ component: 'codec-server' }));
  const { tokenFile } = config.codecServer;
  logger.info('Codec server running', {
    url: server.url,
    browserOrigins: allowedOrigins(config),
    authentication: tokenFile ? 'bearer token' : 'none (loopback only)',
  });
  process.stderr.write(
    `Codec server on ${server.url}: give the temporal CLI --codec-endpoint ${server.url}` +
      `${tokenFile ? ' --codec-auth "Bearer <token>"' : ''}, and the Web UI its codec endpoint setting.\n`,
  );
  onShutdownSignal(async () => server.close());
}

main().catch((err: unknown) => {
  process.stderr.write(`codec server failed: ${(err as Error).message}\n`);
  process.exit(1);
});
