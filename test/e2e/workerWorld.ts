import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { connectRepaymentClient, type ConnectedRepaymentClient } from '../../src/client/lenderClient';
import { loadConfig } from '../../src/config/load';
import { startSandbox, type Sandbox } from '../../src/sandbox';
import { createDevServerEnv } from '../harness/temporal';
import { runEveryStep } from '../harness/teardown';
import { freePort, type RunningProcess } from './processes';
import { isolatedEnv, startWorkerProcess, writeWorkerConfig } from './support';

/**
 * The world of an end-to-end suite that runs the worker as an operator does: the dev server (Web UI on `uiPort`
 * if given), the sandbox over HTTP, the worker process configured for both, and a connected lender client.
 */
export interface WorkerWorld {
  dir: string;
  env: TestWorkflowEnvironment;
  address: string;
  sandbox: Sandbox;
  configFile: string;
  metricsPort: number;
  /** The worker process; a suite may replace it (after killing it), `stop` kills the current one. */
  worker: RunningProcess;
  repayment: ConnectedRepaymentClient;
  /** Stops everything, every step even if one fails. */
  stop(): Promise<void>;
}

export interface WorkerWorldOptions {
  uiPort?: number;
  /** YAML appended to the worker's temporal.yaml (paths in it are relative to `dir`). */
  extraYaml?: string;
  /** Files to write into `dir` before the worker starts (name → content), e.g. a secret the YAML names. */
  files?: Record<string, string>;
}

export async function startWorkerWorld(prefix: string, options: WorkerWorldOptions = {}): Promise<WorkerWorld> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const world: Partial<WorkerWorld> = { dir };
  const stop = () =>
    runEveryStep(
      () => world.worker?.kill('SIGKILL'),
      () => world.repayment?.close(),
      () => world.sandbox?.close(),
      () => world.env?.teardown(),
      () => rmSync(dir, { recursive: true, force: true }),
    );
  try {
    world.metricsPort = await freePort();
    world.env = await createDevServerEnv(options.uiPort ? { uiPort: options.uiPort } : {});
    world.address = world.env.connection.options.address;
    world.sandbox = await startSandbox({ dataDir: join(dir, 'sandbox') });
    world.configFile = writeWorkerConfig(dir, world.address, world.sandbox, world.metricsPort);
    if (options.extraYaml) appendFileSync(world.configFile, options.extraYaml);
    for (const [name, content] of Object.entries(options.files ?? {})) writeFileSync(join(dir, name), content);
    world.worker = await startWorkerProcess(world.configFile);
    world.repayment = await connectRepaymentClient(loadConfig({ file: world.configFile, env: isolatedEnv() }));
  } catch (error) {
    await stop();
    throw error;
  }
  return Object.assign(world as WorkerWorld, { stop });
}
