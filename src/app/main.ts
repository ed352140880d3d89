import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startConfiguredCodecServer } from '../codec/configured';
import type { RunningCodecServer } from '../codec/server';
import { loadConfig, type MerchantConfig } from '../config/load';
import { startSandbox, type Sandbox } from '../sandbox';
import { startDevServer, type RunningDevServer } from '../servers/devServer';
import { startConfiguredEventsReceiver, type RunningEventsReceiver } from './eventsReceiver';
import { JsonLogger } from './logger';
import { startCommands } from './operatorCommands';
import { onShutdownSignal } from './signals';
import { installRuntime, startWorker, type WorkerTarget } from './worker';

/**
 * `npm start`: the worker on the embedded default. No Temporal address configured → start the dev server (state in
 * a file, Web UI on, search attributes registered) and, with payload encryption on (the default there), a codec
 * server the Web UI decodes payloads with. No merchant credentials → start the sandbox and point the worker at it.
 * Ctrl-C stops everything it started, in reverse order.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = new JsonLogger(config.worker.logLevel);
  const say = (line: string): void => void process.stderr.write(`${line}\n`);
  for (const line of config.choices) say(`• ${line}`);
  installRuntime(config, logger);

  const stops: Array<() => Promise<void>> = [];
  let devServer: RunningDevServer | undefined;
  let codecServer: RunningCodecServer | undefined;
  let sandbox: Sandbox | undefined;
  let eventsReceiver: RunningEventsReceiver | undefined;
  try {
    if (config.temporal.mode === 'embedded') {
      if (config.temporal.payloadCodec) {
        // Before the dev server: its Web UI is started pointed at this URL.
        codecServer = await startConfiguredCodecServer(config, logger.child({ component: 'codec-server' }));
        stops.unshift(codecServer.close);
      }
      say(`Starting the Temporal dev server (state in ${config.temporal.devServer.dbFile})…`);
      devServer = await startDevServer({
        ...config.temporal.devServer,
        namespace: config.temporal.namespace,
        ...(codecServer ? { codecEndpoint: codecServer.url } : {}),
        progress: (line) => say(`  ${line}`),
      });
      stops.unshift(devServer.stop);
    }
    let target: WorkerTarget;
    if (config.wechatpay.merchant) {
      target = { merchant: config.wechatpay.merchant, baseUrls: config.wechatpay.baseUrls };
    } else {
      sandbox = await startSandbox({
        primaryPort: config.sandbox.port,
        backupPort: config.sandbox.backupPort,
        dataDir: config.sandbox.dataDir,
        persist: true,
      });
      const running = sandbox;
      stops.unshift(() => running.close());
      target = {
        merchant: sandboxMerchant(sandbox),
        baseUrls: { primary: sandbox.primaryUrl, backup: sandbox.backupUrl },
      };
      writeRunningFile(config.sandbox.dataDir, sandbox);
      stops.unshift(async () => rmSync(join(config.sandbox.dataDir, 'running.json'), { force: true }));
    }

    // Before the worker, so that the first events find it listening.
    eventsReceiver = await startConfiguredEventsReceiver(config.lenderEvents, say);
    if (eventsReceiver) stops.unshift(eventsReceiver.close);
    const worker = await startWorker(config, target, logger);
    stops.unshift(async () => {
      worker.shutdown();
      await worker.done;
    });
    say('');
    say('Credit-repayment worker is running.');
    if (devServer) say(`  Temporal Web UI:   ${devServer.uiUrl}/namespaces/${config.temporal.namespace}/workflows`);
    say(`  Temporal address:  ${config.temporal.connection.address} (namespace ${config.temporal.namespace})`);
    if (codecServer) {
      say(`  Codec server:      ${codecServer.url} (history holds ciphertext; the Web UI decodes through it)`);
    }
    if (sandbox) {
      say(
        `  WeChat Pay sandbox: ${sandbox.primaryUrl} (backup ${sandbox.backupUrl}), control API ${sandbox.primaryUrl}/sandbox/`,
      );
      say('  Live demo:         npm run demo   (in another terminal, from this directory)');
    }
    if (eventsReceiver)
      say(`  Lender events:     ${config.lenderEvents.url} (development receiver: verifies and prints each one)`);
    for (const [label, command] of startCommands()) say(`  ${label.padEnd(18)} ${command}`);
    say('  Stop:              Ctrl-C');
    onShutdownSignal(async (signal) => {
      say(
        `\n${signal}: stopping the worker${sandbox ? ', the sandbox' : ''}${codecServer ? ', the codec server' : ''}` +
          `${devServer ? ' and the dev server' : ''}…`,
      );
      for (const stop of stops) await stop();
      say('Stopped.');
    });
    await worker.done;
  } catch (err) {
    for (const stop of stops) await stop().catch(() => undefined);
    throw err;
  }
}

function sandboxMerchant(sandbox: Sandbox): MerchantConfig {
  return {
    mchid: sandbox.mchid,
    merchantSerialNo: sandbox.merchant.serialNo,
    privateKeyFile: sandbox.merchant.privateKeyPath,
    verificationKeys: sandbox.platformKeys.map((k) => ({ id: k.id, publicKeyFile: k.publicKeyPath })),
  };
}

/** Lets `npm run demo` and the CLI find the sandbox's ephemeral ports. */
function writeRunningFile(dataDir: string, sandbox: Sandbox): void {
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(
    join(dataDir, 'running.json'),
    JSON.stringify({ pid: process.pid, primaryUrl: sandbox.primaryUrl, backupUrl: sandbox.backupUrl }, null, 2),
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`npm start failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
