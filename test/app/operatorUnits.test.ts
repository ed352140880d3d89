import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { progressLines } from '../../src/app/demoProgress';
import { demoPlan, LIVE_DEMO_TIME_SCALE } from '../../src/client/demoPlan';
import { lifecycleStartMetadata } from '../../src/client/startMetadata';
import { ConfigError, loadConfig } from '../../src/config/load';
import { addDays, shanghaiDateOf } from '../../src/domain/calendar';
import { markScheduled, newInstallmentRecord, windowOpensAt } from '../../src/domain/installments';
import { parsePlan, PlanValidationError, resolvePolicy } from '../../src/domain/plan';
import { DemoTimeScaleSchema, pollIntervalMs } from '../../src/domain/policy';
import type { LifecycleStatus } from '../../src/domain/status';
import { temporalCliEnv } from '../../src/servers/temporalCli';

/** The operator's pieces that need no server: the CLI's environment, the demo's plan and policy, what it prints. */

const NOW = Date.parse('2026-11-28T09:00:00Z');
const OPENID = 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'operator-units-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Loads a temporal.yaml written into the test's directory, with no TEMPORAL_* or WECHATPAY_* from the machine. */
function configFrom(yaml: string) {
  writeFileSync(join(dir, 'temporal.yaml'), yaml);
  return loadConfig({ cwd: dir, env: { TEMPORAL_CONFIG_FILE: join(dir, 'none.toml') } });
}

describe('npm run temporal: the environment the provisioned CLI runs with', () => {
  it('points at the embedded dev server, its namespace and the codec server npm start runs', () => {
    const config = configFrom(
      'temporal:\n  namespace: ops\n  devServer:\n    port: 17999\ncodecServer:\n  port: 18999\n',
    );
    const { env, notes } = temporalCliEnv(config, { PATH: '/usr/bin' });
    expect(env).toMatchObject({
      PATH: '/usr/bin',
      TEMPORAL_ADDRESS: '127.0.0.1:17999',
      TEMPORAL_NAMESPACE: 'ops',
      TEMPORAL_CODEC_ENDPOINT: 'http://127.0.0.1:18999',
    });
    expect(env.TEMPORAL_CODEC_AUTH).toBeUndefined();
    expect(notes).toEqual([]);
  });

  it("keeps the operator's own codec endpoint, and sends the first token of codecServer.tokenFile", () => {
    writeFileSync(join(dir, 'tokens'), 'first-token-0123456789\nsecond-token-0123456789\n');
    const config = configFrom('codecServer:\n  host: 0.0.0.0\n  port: 18999\n  tokenFile: tokens\n');
    expect(temporalCliEnv(config, {}).env).toMatchObject({
      TEMPORAL_CODEC_ENDPOINT: 'http://127.0.0.1:18999',
      TEMPORAL_CODEC_AUTH: 'Bearer first-token-0123456789',
    });
    const own = temporalCliEnv(config, { TEMPORAL_CODEC_ENDPOINT: 'https://codec.example' }).env;
    expect(own.TEMPORAL_CODEC_ENDPOINT).toBe('https://codec.example');
    expect(own.TEMPORAL_CODEC_AUTH).toBeUndefined();
  });

  it("passes a cluster's address, namespace and API key (TLS on); no codec server without encryption", () => {
    writeFileSync(join(dir, 'api.key'), 'secret-api-key\n');
    const config = configFrom('temporal:\n  address: cluster.example:7233\n  namespace: prod\n  apiKeyFile: api.key\n');
    const { env } = temporalCliEnv(config, {});
    expect(env).toMatchObject({
      TEMPORAL_ADDRESS: 'cluster.example:7233',
      TEMPORAL_NAMESPACE: 'prod',
      TEMPORAL_API_KEY: 'secret-api-key',
      TEMPORAL_TLS: 'true',
    });
    expect(env.TEMPORAL_CODEC_ENDPOINT).toBeUndefined();
  });
});

describe('the demo time scale', () => {
  it('polls in seconds only when given explicitly: a plan policy and temporal.yaml cannot set it', () => {
    const plan = demoPlan({ now: NOW, firstInDays: 2, installments: 3 });
    expect(() => parsePlan({ ...plan, policy: { demo: { pollIntervalSeconds: 15 } } })).toThrow(PlanValidationError);
    expect(() => configFrom('lifecycle:\n  demo:\n    pollIntervalSeconds: 15\n')).toThrow(ConfigError);
    expect(() => resolvePolicy({ pollIntervalHours: 0 }, undefined)).toThrow(PlanValidationError);
    expect(DemoTimeScaleSchema.safeParse({ pollIntervalSeconds: 4 }).success).toBe(false);

    const production = resolvePolicy(undefined, undefined);
    expect(pollIntervalMs(production)).toBe(24 * 3_600_000);
    // What the client pins at start and the workflow validates again: the demo scale survives resolution.
    const demo = resolvePolicy({ ...production, demo: LIVE_DEMO_TIME_SCALE } as never, { pollJitterSeconds: 0 });
    expect(demo.demo).toEqual({ pollIntervalSeconds: 15 });
    const record = newInstallmentRecord(parsePlan(plan).installments[0]!, demo);
    markScheduled(record, NOW, demo);
    expect(record.nextActionAt).toBe(new Date(NOW + 15_000).toISOString());
  });

  it("starts the live demo's first installment inside its window on any day of the year", () => {
    for (let day = 0; day < 366; day++) {
      const now = NOW + day * 86_400_000;
      const plan = parsePlan(demoPlan({ now, firstInDays: 2, installments: 3 }), shanghaiDateOf(now));
      const first = plan.installments[0]!;
      expect(first.repaymentDate).toBe(addDays(shanghaiDateOf(now), 2));
      expect(windowOpensAt(first.repaymentDate, resolvePolicy(undefined, plan.policy).scheduleLeadDays)).toBeLessThan(
        now,
      );
      expect(plan.policy).toEqual({ pollJitterSeconds: 0 });
    }
    expect(() => demoPlan({ now: NOW, firstInDays: 8 })).toThrow(RangeError);
  });
});

it('summarises a plan for the Web UI without its openid, listing at most 24 installments', () => {
  const plan = parsePlan(demoPlan({ now: NOW, outContractCode: 'META1', installments: 30 }));
  const policy = resolvePolicy(undefined, undefined);
  const { staticSummary, staticDetails } = lifecycleStartMetadata(plan, policy);
  expect(staticSummary).toBe('META1 · 30 installments · 30000.00 CNY · first 2026-12-10');
  expect(staticDetails).toContain('**Plan** 30 installments, 30000.00 CNY, 2026-12-10 to 2029-05-10 (Asia/Shanghai)');
  expect(staticDetails).toContain('polled every 24 h');
  expect(staticDetails).toContain(`| 1 | ${plan.installments[0]!.outRecordId} | 2026-12-10 | 1000.00 | 100.00 |`);
  expect(staticDetails).toContain('| … | 6 more | | | |');
  expect(`${staticSummary}${staticDetails}`).not.toContain(OPENID);
  const demo = lifecycleStartMetadata(plan, { ...policy, demo: LIVE_DEMO_TIME_SCALE });
  expect(demo.staticSummary).toMatch(/ · demo time scale$/);
  expect(demo.staticDetails).toContain('polled every 15 s (demo time scale)');
});

it("tells the demo's progress: the signing check, the create, each poll, a settled installment, an alert", () => {
  const base: LifecycleStatus = {
    phase: 'AWAITING_SIGNATURE',
    outContractCode: 'DEMO1',
    contractId: 'WXCDEMO1',
    signed: false,
    installments: [
      {
        outRecordId: 'R1',
        repaymentAmount: '100000',
        minRepaymentAmount: '10000',
        repaymentDate: '2026-11-30',
        state: 'WAITING',
        pollCount: 0,
      },
    ],
    compensationBills: [],
    continuedAsNewCount: 0,
    alerts: [],
    retrying: [],
    rejectedResults: 0,
  };
  const scheduled: LifecycleStatus = {
    ...base,
    phase: 'MONITORING',
    signed: true,
    installments: [{ ...base.installments[0]!, state: 'SCHEDULED', scheduledAt: '2026-11-28T09:00:01.000Z' }],
  };
  expect(progressLines(undefined, base)).toEqual(['phase AWAITING_SIGNATURE']);
  expect(progressLines(base, scheduled)).toEqual([
    'phase MONITORING',
    'signing check: WeChat Pay (the sandbox) answers that the user signed the contract',
    'create: schedule record R1 created at WeChat Pay, 1000.00 CNY on 2026-11-30',
  ]);
  const polled: LifecycleStatus = {
    ...scheduled,
    installments: [
      {
        ...scheduled.installments[0]!,
        state: 'POLLING',
        pollCount: 1,
        lastPollResult: 'MATCHES',
        nextActionAt: '2026-11-28T09:00:31.000Z',
      },
    ],
  };
  expect(progressLines(scheduled, polled)).toEqual([
    'poll 1 of R1: WeChat Pay holds it as scheduled; next poll 2026-11-28T09:00:31.000Z',
  ]);
  const settled: LifecycleStatus = {
    ...polled,
    installments: [{ ...polled.installments[0]!, state: 'SETTLED', result: { outcome: 'SUCCESS', reportedAt: 'x' } }],
    alerts: [
      {
        key: 'poll:R1',
        step: 'poll',
        kind: 'RECORD_MISMATCH',
        lastError: 'repayment_amount differ',
        since: 'x',
        failures: 1,
      },
    ],
  };
  expect(progressLines(polled, settled)).toEqual([
    'installment R1: SETTLED (SUCCESS)',
    'alert poll:R1 (RECORD_MISMATCH): repayment_amount differ',
  ]);
});
