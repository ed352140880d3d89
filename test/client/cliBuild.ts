import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../..');

export interface BuiltCli {
  /** Runs `repayment …` as a real process; never rejects: the exit code is part of the answer. */
  run(args: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }>;
  dir: string;
  remove(): void;
}

/**
 * Compiles the CLI and what it imports into a temporary directory, laid out like `dist/` (so that it runs
 * as the `bin` entry does) without touching the shared `dist/` others build into. commander is ESM-only,
 * which Jest's CommonJS runtime cannot load, while Node 20 can: hence a real process.
 */
export async function buildCli(): Promise<BuiltCli> {
  const dir = mkdtempSync(join(tmpdir(), 'repayment-cli-'));
  const tsconfig = join(dir, 'tsconfig.json');
  writeFileSync(
    tsconfig,
    JSON.stringify({
      extends: join(ROOT, 'tsconfig.build.json'),
      compilerOptions: {
        rootDir: ROOT,
        outDir: join(dir, 'out'),
        sourceMap: false,
        typeRoots: [join(ROOT, 'node_modules/@types')],
      },
      files: [join(ROOT, 'src/client/cli.ts')],
      include: [],
    }),
  );
  await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', tsconfig], { timeout: 120_000 });
  mkdirSync(join(dir, 'out'), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'out/node_modules'));
  const cli = join(dir, 'out/src/client/cli.js');
  return {
    dir,
    async run(args, env = cleanEnv()) {
      try {
        const { stdout, stderr } = await run(process.execPath, [cli, ...args], { env, cwd: dir, timeout: 60_000 });
        return { code: 0, stdout, stderr };
      } catch (error) {
        const failed = error as { code?: unknown; stdout?: string; stderr?: string; killed?: boolean };
        if (typeof failed.code !== 'number') throw error; // killed by the timeout or could not start
        return { code: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
      }
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The environment without TEMPORAL_* / REPAYMENT_* variables, so that only --config decides. */
export function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith('TEMPORAL_') && !key.startsWith('REPAYMENT_')),
  );
}
