import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startProcess, type RunningProcess } from './processes';
import { dist, isolatedEnv, startNpmStart } from './support';

/**
 * `npm start` on the embedded default, as a user runs it (npm start = build, then this entry point): with no
 * Temporal address and no merchant credentials it brings up the dev server with its Web UI, the sandbox and the
 * worker; `npm run demo` starts a lifecycle against them; Ctrl-C stops everything it started.
 */

let dir: string;
let main: RunningProcess | undefined;

afterAll(async () => {
  await main?.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('brings up dev server, Web UI, sandbox and worker with no configuration, and Ctrl-C stops them', async () => {
  const env = isolatedEnv();
  const started = await startNpmStart('e2e-start-', env);
  dir = started.dir;
  main = started.main;
  const { uiPort } = started.ports;
  expect(main.output()).toContain('temporal: embedded dev server');
  expect(main.output()).toContain('wechatpay: local sandbox');

  const ui = await fetch(`http://127.0.0.1:${uiPort}/namespaces/default/workflows`);
  expect(ui.status).toBe(200);
  const running = JSON.parse(readFileSync(join(dir, '.sandbox', 'running.json'), 'utf8')) as { primaryUrl: string };
  const health = (await (await fetch(`${running.primaryUrl}/sandbox/health`)).json()) as { ok: boolean };
  expect(health.ok).toBe(true);
  expect(existsSync(join(dir, '.temporal', 'dev-server.db'))).toBe(true);

  const demo = startProcess('node', [dist('app/demo.js')], env, dir);
  expect(await demo.exited).toBe(0);
  expect(demo.output()).toMatch(/Started repayment-DEMO\d+/);
  expect(demo.output()).toMatch(/Phase: +MONITORING/);

  main.child.kill('SIGINT');
  expect(await main.exited).toBe(0);
  expect(main.output()).toContain('Stopped.');
  await expect(fetch(`http://127.0.0.1:${uiPort}/`)).rejects.toThrow();
  await expect(fetch(`${running.primaryUrl}/sandbox/health`)).rejects.toThrow();
  main = undefined;
}, 240_000);
