import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createDevServerEnv, createTimeSkippingEnv } from '../harness/temporal';
import { sleepFor, tagged } from '../harness/workflows';
import { resolveTemporalCli } from '../../src/servers/provision';

const run = promisify(execFile);
const workflowsPath = require.resolve('../harness/workflows');

describe('time-skipping test server', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createTimeSkippingEnv();
  }, 120_000);
  afterAll(async () => {
    await env?.teardown();
  });

  it('runs a workflow that sleeps 30 days in seconds of wall time', async () => {
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'harness-time-skipping',
      workflowsPath,
    });
    const startedAt = Date.now();
    const result = await worker.runUntil(
      env.client.workflow.execute(sleepFor, { taskQueue: 'harness-time-skipping', workflowId: 'sleep-30', args: [30] }),
    );
    expect(result).toBe('slept 30 days');
    // The point of the server: 30 days of workflow time pass in far less than a minute of wall time.
    expect(Date.now() - startedAt).toBeLessThan(60_000);
  }, 120_000);

  it('accepts upserts of the project search attributes (registered by the harness)', async () => {
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'harness-time-skipping-sa',
      workflowsPath,
    });
    await worker.runUntil(
      env.client.workflow.execute(tagged, {
        taskQueue: 'harness-time-skipping-sa',
        workflowId: 'tagged-ts',
        args: ['CODE7'],
        workflowExecutionTimeout: '1 day',
      }),
    );
    const described = await env.client.workflow.getHandle('tagged-ts').describe();
    expect(described.status.name).toBe('COMPLETED');
  }, 120_000);
});

describe('dev server (temporal CLI)', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createDevServerEnv();
  }, 120_000);
  afterAll(async () => {
    await env?.teardown();
  });

  it('runs a workflow that the real `temporal` CLI describes with its search attributes', async () => {
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue: 'harness-dev', workflowsPath });
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(tagged, {
        taskQueue: 'harness-dev',
        workflowId: 'tagged-1',
        args: ['CODE42'],
      });
      // Wait until the upsert is applied (its workflow task completed).
      await waitFor(async () => {
        const d = await handle.describe();
        return d.typedSearchAttributes.get({ name: 'OutContractCode', type: 'KEYWORD' } as never) !== undefined;
      });

      const cli = await resolveTemporalCli({ build: false });
      expect(cli).toBeDefined();
      const address = env.connection.options.address;
      const { stdout } = await run(cli!.path, [
        'workflow',
        'describe',
        '--workflow-id',
        'tagged-1',
        '--address',
        address,
        '--namespace',
        env.namespace ?? 'default',
        '--output',
        'json',
      ]);
      const described = JSON.parse(stdout) as {
        workflowExecutionInfo: {
          type: { name: string };
          searchAttributes?: { indexedFields?: Record<string, unknown> };
        };
      };
      expect(described.workflowExecutionInfo.type.name).toBe('tagged');
      const fields = described.workflowExecutionInfo.searchAttributes?.indexedFields ?? {};
      expect(Object.keys(fields)).toEqual(expect.arrayContaining(['RepaymentPhase', 'OutContractCode']));
      const code = fields.OutContractCode as { data: string };
      expect(Buffer.from(code.data, 'base64').toString()).toBe('"CODE42"');
      await handle.terminate('test done');
    });
  }, 120_000);
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}
