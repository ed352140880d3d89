import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChaosReport } from '../../src/chaos/report';
import { projectRoot } from '../../src/paths';

/**
 * The short chaos run, as `npm run chaos` runs it (the built entry, real processes: dev server, sandbox, two
 * workers): 50 lifecycles, two faults of each injected kind, three worker kills, a dev-server restart, a clock drift
 * and a key rotation, then the independent checker. About 3 minutes.
 */

jest.setTimeout(9 * 60_000);

it('survives the fault schedule: nothing lost, duplicated, wrongly terminated, trusted unverified or leaked', async () => {
  const out = mkdtempSync(join(tmpdir(), 'chaos-test-'));
  const started = Date.now();
  const { code, output } = await run(
    process.execPath,
    [
      join(projectRoot(), 'dist', 'src', 'chaos', 'main.js'),
      ...['--lifecycles', '50', '--minutes', '1.2', '--settle-minutes', '1.2', '--seed', '7', '--out', out],
    ],
    8 * 60_000,
  );
  const wallSeconds = (Date.now() - started) / 1000;
  expect({ code, tail: code === 0 || code === 1 ? 'ok' : output.slice(-3000) }).toMatchObject({ tail: 'ok' });
  const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as ChaosReport;

  expect(report.figures).toMatchObject({
    lifecycles: 50,
    started: 50,
    lost: 0,
    duplicated: 0,
    wronglyTerminated: 0,
    trustedUnverified: 0,
    secretsFound: 0,
  });
  for (const check of report.checks) {
    expect({ check: check.id, passed: check.passed, examples: check.examples }).toMatchObject({ passed: true });
  }
  expect(code).toBe(0);
  // Every fault of the schedule ran, the worker kill found creates in flight, and WeChat Pay saw faults.
  expect(report.schedule.filter((e) => e.outcome !== 'ok').map((e) => `${e.id} ${e.kind}: ${e.detail}`)).toEqual([]);
  expect(new Set(report.schedule.map((e) => e.kind)).size).toBe(10);
  expect(report.figures.workerRestarts).toBeGreaterThanOrEqual(4);
  expect(report.requests.backup).toBeGreaterThan(0);
  // WeChat Pay answered with injected faults; which of the "next N answers" were used depends on what ran when: with
  // 50 lifecycles a create or terminate may not fall inside the reset/tampered faults' period (the 1,000-lifecycle
  // run's report shows them used), so only the period faults and the forged answers are sure to be seen here.
  const sabotaged = Object.keys(report.requests.byFault);
  expect(sabotaged).toEqual(expect.arrayContaining(['500', '503', 'forged']));
  expect(readFileSync(join(out, 'timeline.png')).subarray(1, 4).toString('latin1')).toBe('PNG');
  expect(readFileSync(join(out, 'report.md'), 'utf8')).toContain('## Fault schedule');
  expect(wallSeconds).toBeLessThan(6 * 60);
  // Kept for inspection when an expectation above fails.
  rmSync(out, { recursive: true, force: true });
});

function run(command: string, args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: projectRoot() });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    // The run stops its stack on SIGTERM; a hung run is not left behind.
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
