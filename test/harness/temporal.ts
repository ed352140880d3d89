import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { SEARCH_ATTRIBUTES } from '../../src/domain/searchAttributes';
import { registerSearchAttributes } from '../../src/servers/searchAttributes';
import { resolveTemporalCli, resolveTestServer } from '../../src/servers/provision';
import { DEV_SERVER_EXTRA_ARGS } from '../../src/servers/devServer';

// Keep test output readable: the SDK's INFO lines (bundles, worker states) drown test failures.
// TEMPORAL_TEST_LOG_LEVEL=INFO brings them back.
Runtime.install({ logger: new DefaultLogger((process.env.TEMPORAL_TEST_LOG_LEVEL as 'INFO' | undefined) ?? 'WARN') });

/**
 * Temporal environments for test suites: share one per Jest file (beforeAll) and tear it down in afterAll.
 * The servers were provisioned by globalSetup; when they could not be (no go/mvn), the SDK's own download is
 * the fallback, which works only with internet.
 */

export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const executable = await resolveTestServer({ build: false });
  const env = await TestWorkflowEnvironment.createTimeSkipping(executable ? { server: { executable } } : {});
  // The Java test server starts without custom search attributes; upserts of unknown ones fail workflow tasks.
  await registerSearchAttributes(env.connection, env.namespace ?? 'default');
  return env;
}

/** A real dev server (the `temporal` CLI) on 127.0.0.1 with the project's search attributes registered; Web UI on `uiPort` if given. */
export async function createDevServerEnv(options: { uiPort?: number } = {}): Promise<TestWorkflowEnvironment> {
  const executable = await resolveTemporalCli({ build: false });
  return TestWorkflowEnvironment.createLocal({
    server: {
      ...(executable ? { executable } : {}),
      ip: '127.0.0.1',
      ...(options.uiPort ? { ui: true, uiPort: options.uiPort } : {}),
      searchAttributes: [...SEARCH_ATTRIBUTES],
      extraArgs: [...DEV_SERVER_EXTRA_ARGS],
    },
  });
}
