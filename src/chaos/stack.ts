import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import type { PartialLifecyclePolicy } from '../domain/policy';
import { SEARCH_ATTRIBUTES } from '../domain/searchAttributes';
import { SandboxControlClient } from '../sandbox/controlClient';
import { DEV_SERVER_EXTRA_ARGS } from '../servers/devServer';
import { resolveTemporalCli } from '../servers/provision';
import { freePort, ManagedProcess, sleep, waitUntil } from './processes';

/**
 * The real stack of a chaos run, each part its own process with its output in `<state>/logs/`: the Temporal dev
 * server (state in a SQLite file, so it can be stopped and started again on the same database), the WeChat Pay
 * sandbox (`npm run sandbox`'s entry, the whole request log in a file) and one or two workers (`npm run worker`'s
 * entry) in platform-certificate mode, with payload encryption on.
 */

export interface StackOptions {
  stateDir: string;
  workers: number;
  policy: PartialLifecyclePolicy;
  say: (line: string) => void;
}

const CLI_TYPES: Record<string, string> = { KEYWORD: 'Keyword', DATETIME: 'Datetime' };

export class ChaosStack {
  readonly devServer: ManagedProcess;
  readonly sandbox: ManagedProcess;
  readonly workers: ManagedProcess[];
  readonly control: SandboxControlClient;
  /** What the workers and the lender's client read (REPAYMENT_CONFIG). */
  readonly clientConfigFile: string;
  readonly requestLogFile: string;
  readonly logDir: string;

  private constructor(
    readonly options: StackOptions,
    readonly temporalAddress: string,
    readonly sandboxUrls: { primary: string; backup: string },
    parts: { devServer: ManagedProcess; sandbox: ManagedProcess; workers: ManagedProcess[]; configFile: string },
  ) {
    this.devServer = parts.devServer;
    this.sandbox = parts.sandbox;
    this.workers = parts.workers;
    this.clientConfigFile = parts.configFile;
    // Through the backup listener: the schedule takes the primary down, and the control API must stay reachable.
    this.control = new SandboxControlClient(sandboxUrls.backup, { token: '' });
    this.requestLogFile = join(options.stateDir, 'sandbox-requests.jsonl');
    this.logDir = join(options.stateDir, 'logs');
  }

  static async start(options: StackOptions): Promise<ChaosStack> {
    const { stateDir, say } = options;
    const logDir = join(stateDir, 'logs');
    mkdirSync(logDir, { recursive: true });
    const [temporalPort, primaryPort, backupPort] = [await freePort(), await freePort(), await freePort()];
    const env = cleanEnv();

    const cli = await resolveTemporalCli({ progress: say });
    if (!cli) throw new Error('no Temporal CLI: run `npm test` once (it provisions one) or put `temporal` on PATH');
    const devServer = new ManagedProcess(
      'dev-server',
      cli.path,
      devServerArgs(temporalPort, join(stateDir, 'temporal.db')),
      env,
      join(logDir, 'dev-server.log'),
    );
    const temporalAddress = `127.0.0.1:${temporalPort}`;
    devServer.start();
    await waitForTemporal(temporalAddress, 120_000);
    say(`  Temporal dev server on ${temporalAddress} (state ${join(stateDir, 'temporal.db')})`);

    const sandbox = new ManagedProcess(
      'sandbox',
      process.execPath,
      [
        join(__dirname, '..', 'sandbox', 'main.js'),
        ...['--port', String(primaryPort), '--backup-port', String(backupPort)],
        ...['--data-dir', join(stateDir, 'sandbox'), '--no-persist'],
        ...['--request-log', join(stateDir, 'sandbox-requests.jsonl')],
      ],
      env,
      join(logDir, 'sandbox.log'),
    );
    sandbox.start();
    const printed = await sandbox.waitFor(
      /temporal\.yaml section for a worker[^\n]*\n([\s\S]*?)\nStop: Ctrl-C/,
      60_000,
    );
    const sandboxUrls = { primary: `http://127.0.0.1:${primaryPort}`, backup: `http://127.0.0.1:${backupPort}` };
    say(`  WeChat Pay sandbox on ${sandboxUrls.primary} (backup ${sandboxUrls.backup})`);

    const control = new SandboxControlClient(sandboxUrls.backup, { token: '' });
    const signing = (await control.listPlatformCertificates()).find((c) => c.signing);
    if (!signing) throw new Error('the sandbox has no signing platform certificate');
    const snippet = (parseYaml(printed[1] ?? '') as { wechatpay: Record<string, unknown> }).wechatpay;
    const payloadKeyFile = join(stateDir, 'payload.key');
    writeFileSync(payloadKeyFile, randomBytes(32).toString('base64'), { mode: 0o600 });
    const configFor = (name: string): string => {
      const file = join(stateDir, `${name}.yaml`);
      const config = {
        temporal: {
          address: temporalAddress,
          namespace: 'default',
          payloadEncryption: { keyId: 'chaos', keyFile: payloadKeyFile },
        },
        wechatpay: {
          ...snippet,
          // Platform-certificate mode: trust the certificate that signs now; a rotation is picked up by download.
          verificationKeys: [{ id: signing.serial, publicKeyFile: signing.certificatePath }],
          platformCertificates: {
            storeFile: join(stateDir, `${name}-certificates.json`),
            unknownSerialCooldownMs: 5_000,
          },
        },
        worker: { metricsPort: 0, logLevel: 'INFO', maxConcurrentActivityTaskExecutions: 100 },
        lifecycle: options.policy,
      };
      writeFileSync(file, toYaml(config), { mode: 0o600 });
      return file;
    };
    const workers = Array.from(
      { length: options.workers },
      (_, i) =>
        new ManagedProcess(
          `worker-${i + 1}`,
          process.execPath,
          [join(__dirname, '..', 'app', 'workerMain.js')],
          { ...env, REPAYMENT_CONFIG: configFor(`worker-${i + 1}`) },
          join(logDir, `worker-${i + 1}.log`),
        ),
    );
    const stack = new ChaosStack(options, temporalAddress, sandboxUrls, {
      devServer,
      sandbox,
      workers,
      configFile: configFor('lender'),
    });
    await Promise.all(workers.map((_, i) => stack.startWorker(i)));
    say(`  ${workers.length} worker process(es) running`);
    return stack;
  }

  /** Set by stop(): nothing is started again after it. */
  stopped = false;

  /**
   * Starts a worker and waits until it polls. A worker cannot start while Temporal is down (it exits): like a process
   * supervisor, this starts it again, every 5 s, at most 12 times.
   */
  async startWorker(index: number): Promise<void> {
    const worker = this.workers[index]!;
    for (let attempt = 1; ; attempt++) {
      if (this.stopped) throw new Error('the chaos stack is stopping');
      worker.start();
      try {
        await worker.waitFor(/"message":"Worker running"/, 180_000);
        return;
      } catch (error) {
        if (worker.running || attempt >= 12) throw error;
        await sleep(5_000);
      }
    }
  }

  async killWorker(index: number): Promise<void> {
    await this.workers[index]!.kill('SIGKILL');
  }

  /** Stops the dev server (SIGTERM: it closes its database), waits `downMs`, starts it on the same database. */
  async restartDevServer(downMs: number): Promise<void> {
    await this.devServer.kill('SIGTERM', 30_000);
    await sleep(downMs);
    this.devServer.start();
    await waitForTemporal(this.temporalAddress, 120_000);
  }

  /** Every worker that is not running (killed, or died on its own) is started again. */
  async reviveWorkers(): Promise<number> {
    const down = this.workers.map((w, i) => (w.running ? -1 : i)).filter((i) => i >= 0);
    await Promise.all(down.map((i) => this.startWorker(i)));
    return down.length;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const worker of this.workers) await worker.close();
    await this.sandbox.close();
    await this.devServer.close();
  }
}

function devServerArgs(port: number, dbFile: string): string[] {
  return [
    ...['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--headless'],
    ...['--db-filename', dbFile, '--namespace', 'default'],
    ...SEARCH_ATTRIBUTES.flatMap((key) => ['--search-attribute', `${key.name}=${CLI_TYPES[key.type] ?? 'Keyword'}`]),
    ...DEV_SERVER_EXTRA_ARGS,
    // Write-ahead logging: the one SQLite file is the busiest thing of the run.
    ...['--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', 'synchronous=normal'],
  ];
}

async function waitForTemporal(address: string, timeoutMs: number): Promise<void> {
  await waitUntil(
    async () => {
      const connection = await Connection.connect({ address, connectTimeout: 2_000 });
      try {
        await connection.workflowService.getSystemInfo({});
        return true;
      } finally {
        await connection.close();
      }
    },
    `Temporal at ${address}`,
    timeoutMs,
  );
}

/** The chaos stack configures everything itself: nothing of the caller's Temporal or merchant settings leaks in. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !/^(TEMPORAL_(?!CLI_PATH)|WECHATPAY_|OTEL_|REPAYMENT_CONFIG$|SANDBOX_)/.test(k),
    ),
  );
}
