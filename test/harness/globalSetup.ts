import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '../../src/paths';
import { provisionAll } from '../../src/servers/provision';

/**
 * Jest global setup: make sure both Temporal servers are available before any suite starts, building them
 * from registries the first time (minutes, with progress), and reusing the project cache afterwards. The
 * resolved paths reach the test files through the environment. The end-to-end suites run the built entry
 * points as a user does, so the project is compiled first.
 */
export default async function globalSetup(): Promise<void> {
  const { temporalCli, testServer } = await provisionAll();
  if (temporalCli) process.env.TEMPORAL_CLI_PATH = temporalCli.path;
  if (testServer) process.env.TEMPORAL_TEST_SERVER_PATH = testServer.path;
  const root = projectRoot();
  execFileSync(
    process.execPath,
    [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
}
