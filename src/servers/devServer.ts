import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { SEARCH_ATTRIBUTES } from '../domain/searchAttributes';
import { resolveTemporalCli, type Progress } from './provision';

/** Workflow updates (the `modifyPlan` update) must be enabled on older dev servers. */
export const DEV_SERVER_EXTRA_ARGS = [
  '--dynamic-config-value',
  'frontend.enableUpdateWorkflowExecution=true',
  '--log-level',
  'warn',
] as const;

export interface DevServerOptions {
  port: number;
  uiPort: number;
  /** SQLite file that keeps workflows across restarts of `npm start`. */
  dbFile: string;
  namespace: string;
  /** The codec server the Web UI decodes payloads with (the CLI's `--ui-codec-endpoint`). */
  codecEndpoint?: string;
  progress?: Progress;
}

export interface RunningDevServer {
  address: string;
  uiUrl: string;
  namespace: string;
  stop(): Promise<void>;
}

/**
 * The embedded default: the Temporal CLI's dev server with the Web UI on, state in a file, and the project's
 * search attributes registered. Started through the SDK's ephemeral-server support, which also owns the process.
 */
export async function startDevServer(options: DevServerOptions): Promise<RunningDevServer> {
  const executable = await resolveTemporalCli({ progress: options.progress });
  mkdirSync(dirname(options.dbFile), { recursive: true });
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      ...(executable ? { executable } : {}),
      ip: '127.0.0.1',
      port: options.port,
      ui: true,
      uiPort: options.uiPort,
      dbFilename: options.dbFile,
      namespace: options.namespace,
      searchAttributes: [...SEARCH_ATTRIBUTES],
      extraArgs: [
        ...DEV_SERVER_EXTRA_ARGS,
        ...(options.codecEndpoint ? ['--ui-codec-endpoint', options.codecEndpoint] : []),
      ],
    },
  });
  return {
    address: `127.0.0.1:${options.port}`,
    uiUrl: `http://127.0.0.1:${options.uiPort}`,
    namespace: options.namespace,
    stop: () => env.teardown(),
  };
}
