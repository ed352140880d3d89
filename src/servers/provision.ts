import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { projectRoot } from '../paths';

/**
 * Finds the Temporal servers without downloading a binary at run time (which fails on machines that reach
 * only package registries). Each server is resolved in this order:
 *   1. an explicit path from the environment (TEMPORAL_CLI_PATH / TEMPORAL_TEST_SERVER_PATH);
 *   2. on PATH (`temporal` / `temporal-test-server`);
 *   3. the project's cache directory (REPAYMENT_CACHE_DIR, default `<project>/.cache`, gitignored);
 *   4. built from registries: `go install` of the Temporal CLI, Maven for the Java time-skipping test server;
 *   5. otherwise the SDK's own download (`undefined` here), for users on a normal machine with internet.
 */

/** v1.5.1 is the newest CLI tag without a `replace` directive, so it is the newest `go install` can build. */
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';
/** The Maven coordinates live in tools/test-server/pom.xml (io.temporal:temporal-test-server). */
const TEST_SERVER_POM = join('tools', 'test-server', 'pom.xml');
const TEST_SERVER_MAIN_CLASS = 'io.temporal.testserver.TestServer';

export type ServerExecutable = { type: 'existing-path'; path: string };
export type Progress = (line: string) => void;

export interface ProvisionOptions {
  env?: NodeJS.ProcessEnv;
  /** Where progress is printed; defaults to stderr. */
  progress?: Progress;
  /** When false, only look; never build. */
  build?: boolean;
}

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.REPAYMENT_CACHE_DIR ?? join(projectRoot(), '.cache');
}

export async function resolveTemporalCli(options: ProvisionOptions = {}): Promise<ServerExecutable | undefined> {
  const env = options.env ?? process.env;
  const progress = options.progress ?? defaultProgress;
  const cached = join(cacheDir(env), 'bin', 'temporal');
  const found = fromEnv(env.TEMPORAL_CLI_PATH, 'TEMPORAL_CLI_PATH') ?? onPath('temporal', env) ?? executable(cached);
  if (found) return { type: 'existing-path', path: found };
  if (options.build === false || !onPath('go', env)) return undefined;

  // go install writes into GOBIN; build into a scratch GOBIN and rename, so a half-written binary is never used.
  const scratch = join(cacheDir(env), 'bin.partial');
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  progress(
    `Building the Temporal CLI (${TEMPORAL_CLI_MODULE}) with go install; about 5 minutes on 2 cores the first time.`,
  );
  await runWithProgress('go', ['install', TEMPORAL_CLI_MODULE], { ...env, GOBIN: scratch }, progress, 'temporal CLI');
  mkdirSync(join(cacheDir(env), 'bin'), { recursive: true });
  renameSync(join(scratch, 'temporal'), cached);
  rmSync(scratch, { recursive: true, force: true });
  progress(`Temporal CLI ready: ${cached}`);
  return { type: 'existing-path', path: cached };
}

export async function resolveTestServer(options: ProvisionOptions = {}): Promise<ServerExecutable | undefined> {
  const env = options.env ?? process.env;
  const progress = options.progress ?? defaultProgress;
  const dir = join(cacheDir(env), 'test-server');
  const wrapper = join(dir, 'temporal-test-server');
  const found =
    fromEnv(env.TEMPORAL_TEST_SERVER_PATH, 'TEMPORAL_TEST_SERVER_PATH') ??
    onPath('temporal-test-server', env) ??
    (hasJars(join(dir, 'lib')) ? executable(wrapper) : undefined);
  if (found) return { type: 'existing-path', path: found };
  if (options.build === false || !onPath('mvn', env) || !onPath('java', env)) return undefined;

  const scratch = join(dir, 'lib.partial');
  rmSync(scratch, { recursive: true, force: true });
  progress('Fetching the Temporal time-skipping test server (io.temporal:temporal-test-server) with Maven.');
  await runWithProgress(
    'mvn',
    [
      '-B',
      '-q',
      '-f',
      join(projectRoot(), TEST_SERVER_POM),
      'dependency:copy-dependencies',
      `-DoutputDirectory=${scratch}`,
      '-DincludeScope=runtime',
    ],
    env,
    progress,
    'test server',
  );
  rmSync(join(dir, 'lib'), { recursive: true, force: true });
  renameSync(scratch, join(dir, 'lib'));
  // The SDK starts the executable with the port as its only argument, which is TestServer's CLI.
  writeFileSync(wrapper, `#!/bin/sh\nexec java -cp '${join(dir, 'lib')}/*' ${TEST_SERVER_MAIN_CLASS} "$@"\n`, {
    mode: 0o755,
  });
  progress(`Time-skipping test server ready: ${wrapper}`);
  return { type: 'existing-path', path: wrapper };
}

/** Resolves both servers (the test harness's global setup and `npm run provision`). */
export async function provisionAll(options: ProvisionOptions = {}): Promise<{
  temporalCli: ServerExecutable | undefined;
  testServer: ServerExecutable | undefined;
}> {
  // Sequential on purpose: both builds are CPU-heavy and the machine may have 2 cores.
  const temporalCli = await resolveTemporalCli(options);
  const testServer = await resolveTestServer(options);
  return { temporalCli, testServer };
}

function defaultProgress(line: string): void {
  process.stderr.write(`[provision] ${line}\n`);
}

function fromEnv(value: string | undefined, name: string): string | undefined {
  if (!value) return undefined;
  if (!executable(value)) throw new Error(`${name}=${value}: not an executable file`);
  return value;
}

function executable(path: string): string | undefined {
  try {
    accessSync(path, constants.X_OK);
    return path;
  } catch {
    return undefined;
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && executable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

function hasJars(dir: string): boolean {
  return existsSync(dir) && readdirSync(dir).some((f) => f.startsWith('temporal-test-server') && f.endsWith('.jar'));
}

/** Runs a build, forwarding its output and printing a heartbeat so a long first build never looks hung. */
function runWithProgress(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  progress: Progress,
  what: string,
): Promise<void> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    const onData = (chunk: Buffer): void => {
      for (const line of chunk.toString().split('\n')) {
        if (!line.trim()) continue;
        tail.push(line);
        if (tail.length > 20) tail.shift();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const heartbeat = setInterval(() => {
      progress(`still building the ${what} (${Math.round((Date.now() - started) / 1000)} s)…`);
    }, 30_000);
    child.on('error', (err) => {
      clearInterval(heartbeat);
      reject(new Error(`${cmd} could not start: ${err.message}`));
    });
    child.on('close', (code) => {
      clearInterval(heartbeat);
      if (code === 0) {
        progress(`${what} built in ${Math.round((Date.now() - started) / 1000)} s`);
        resolve();
      } else {
        reject(new Error(`${cmd} ${args[0]} failed with exit code ${code}:\n${tail.join('\n')}`));
      }
    });
  });
}
