import { loadConfig } from '../config/load';
import { JsonLogger } from './logger';
import { onShutdownSignal } from './signals';
import { installRuntime, startWorker } from './worker';

/**
 * `npm run worker`: only the worker, against a configured Temporal cluster and merchant (or a sandbox whose keys
 * and URLs are configured). This is the process to run N times to scale out.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = new JsonLogger(config.worker.logLevel);
  for (const line of config.choices) logger.info(line);
  installRuntime(config, logger);
  const merchant = config.wechatpay.merchant;
  if (!merchant) {
    throw new Error(
      'no merchant credentials configured (wechatpay.* in temporal.yaml); `npm start` runs the embedded sandbox instead',
    );
  }
  const worker = await startWorker(config, { merchant, baseUrls: config.wechatpay.baseUrls }, logger);
  onShutdownSignal(async (signal) => {
    logger.info('Shutting down', { signal });
    worker.shutdown();
    await worker.done;
  });
  await worker.done;
}

main().catch((err: unknown) => {
  process.stderr.write(`worker failed: ${(err as Error).message}\n`);
  process.exit(1);
});
