import { provisionAll } from '../../src/servers/provision';

/**
 * Jest global setup: make sure both Temporal servers are available before any suite starts, building them
 * from registries the first time (minutes, with progress), and reusing the project cache afterwards.
 * The resolved paths reach the test files through the environment.
 */
export default async function globalSetup(): Promise<void> {
  const { temporalCli, testServer } = await provisionAll();
  if (temporalCli) process.env.TEMPORAL_CLI_PATH = temporalCli.path;
  if (testServer) process.env.TEMPORAL_TEST_SERVER_PATH = testServer.path;
}
