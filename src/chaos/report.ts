import type { CheckResult } from './checks';
import type { Evidence } from './collect';
import type { DriverResult } from './driver';
import type { FaultEvent } from './faultSchedule';
import type { Journal } from './journal';
import type { ChaosOptions } from './options';
import type { LifecycleSpec } from './plans';
import { CALL_OUTCOMES, type TimelineData } from './timeline';

/** The run's report: figures, checks, the fault schedule as planned and as run, timings; JSON and Markdown. */

export interface Timings {
  startedAt: number;
  stackReadyAt: number;
  driver: DriverResult;
  checkedAt: number;
}

export interface ChaosReport {
  passed: boolean;
  command: string;
  options: ChaosOptions;
  timings: Record<string, number>;
  figures: Record<string, number | string>;
  phases: Record<string, number>;
  evidenceClaimed: Record<string, number>;
  alertsByLabel: Record<string, number>;
  requests: { total: number; byEndpoint: Record<string, number>; byFault: Record<string, number>; backup: number };
  checks: CheckResult[];
  schedule: Array<FaultEvent & { ranAt?: number; endedAt?: number; outcome?: string; detail?: string }>;
  unusedFaults: DriverResult['unusedFaults'];
  stackEvents: Array<{ t: number; action: string; outcome: string; detail?: string }>;
}

export function buildReport(input: {
  options: ChaosOptions;
  book: readonly LifecycleSpec[];
  schedule: readonly FaultEvent[];
  journal: Journal;
  evidence: Evidence;
  checks: CheckResult[];
  timings: Timings;
}): { report: ChaosReport; timeline: TimelineData } {
  const { options, book, schedule, journal, evidence, checks, timings } = input;
  const t0 = timings.driver.faultPhase.start;
  const sec = (ms: number): number => Math.round((ms - t0) / 100) / 10;
  const lifecycles = [...evidence.workflows.values()].filter((w) => w.type === 'repaymentLifecycle');

  const phases = count(lifecycles.map((w) => w.phase ?? `(${w.runs.at(-1)?.status ?? 'unknown'})`));
  const evidenceClaimed = count(
    lifecycles
      .map((w) => w.status?.evidence ?? w.runs.at(-1)?.result?.evidence)
      .filter((e): e is NonNullable<typeof e> => !!e),
  );
  let raised = 0;
  let cleared = 0;
  const labels: string[] = [];
  const alertChanges: Array<{ t: number; delta: number }> = [];
  for (const workflow of lifecycles) {
    let current: string | null = null;
    for (const upsert of workflow.runs.flatMap((r) => r.alertUpserts)) {
      if (current === null && upsert.value !== null) {
        raised += 1;
        labels.push(upsert.value);
        alertChanges.push({ t: sec(upsert.at), delta: 1 });
      } else if (current !== null && upsert.value === null) {
        cleared += 1;
        alertChanges.push({ t: sec(upsert.at), delta: -1 });
      }
      current = upsert.value;
    }
  }
  const byCheck = new Map(checks.map((c) => [c.id, c] as const));
  const violations = (id: string): number => byCheck.get(id)?.violations ?? 0;
  const figures = {
    lifecycles: book.length,
    started: book.filter((s) => journal.done(s.plan.outContractCode, 'start')).length,
    lost: violations('lost'),
    duplicated: violations('duplicated'),
    wronglyTerminated: violations('wrongly-terminated'),
    terminateAfterSuccess: violations('terminate-once'),
    trustedUnverified: violations('trusted-unverified'),
    secretsFound: violations('secrets'),
    alertsRaised: raised,
    alertsCleared: cleared,
    alertsOpenAtEnd: lifecycles.filter((w) => w.alert).length,
    contractsTerminatedByMerchant: evidence.contracts.filter((c) => c.termination_mode === 'BY_MERCHANT').length,
    contractsTerminatedByUser: evidence.contracts.filter((c) => c.termination_mode === 'BY_USER').length,
    scheduleRecords: evidence.records.length,
    workerRestarts: timings.driver.workerRestarts,
    unexpectedWorkerExits: timings.driver.unexpectedWorkerExits,
    lateDeliveries: journal.entries.filter((e) => (e.attempts ?? 1) > 1 && e.outcome === 'ok').length,
    wallSeconds: Math.round((timings.checkedAt - timings.startedAt) / 1000),
  };

  const requests = {
    total: evidence.requests.length,
    byEndpoint: count(evidence.requests.map((r) => r.endpoint)),
    byFault: count(evidence.requests.filter((r) => r.fault !== undefined).map((r) => String(r.fault))),
    backup: evidence.requests.filter((r) => r.listener === 'backup').length,
  };
  const faultEntries = journal.entries.filter((e) => e.actor === 'fault');
  const ran = schedule.map((event) => {
    const entry = faultEntries.find((e) => e.eventId === event.id);
    return {
      ...event,
      ...(entry ? { ranAt: sec(entry.at), outcome: entry.outcome } : {}),
      ...(entry?.endAt ? { endedAt: sec(entry.endAt) } : {}),
      ...(entry?.detail ? { detail: entry.detail } : {}),
    };
  });
  const report: ChaosReport = {
    passed: checks.every((c) => c.passed),
    command: `npm run chaos -- --lifecycles ${options.lifecycles} --minutes ${options.minutes} --seed ${options.seed} --workers ${options.workers} --faults-per-kind ${options.faultsPerKind} --settle-minutes ${options.settleMinutes}`,
    options,
    timings: {
      stackStartSeconds: Math.round((timings.stackReadyAt - timings.startedAt) / 1000),
      faultPhaseSeconds: Math.round((timings.driver.faultPhase.end - timings.driver.faultPhase.start) / 1000),
      settleSeconds: Math.round((timings.driver.settle.end - timings.driver.settle.start) / 1000),
      checkSeconds: Math.round((timings.checkedAt - timings.driver.settle.end) / 1000),
      wallSeconds: figures.wallSeconds,
    },
    figures,
    phases,
    evidenceClaimed,
    alertsByLabel: count(labels),
    requests,
    checks,
    schedule: ran,
    unusedFaults: timings.driver.unusedFaults,
    stackEvents: journal.entries
      .filter((e) => e.actor === 'stack')
      .map((e) => ({ t: sec(e.at), action: e.action, outcome: e.outcome, ...(e.detail ? { detail: e.detail } : {}) })),
  };

  const timeline: TimelineData = {
    faults: ran
      .filter((e) => e.ranAt !== undefined)
      .map((e) => ({
        kind: e.kind,
        start: e.ranAt!,
        end: Math.max(e.endedAt ?? e.ranAt! + (e.durationSec ?? 0), e.ranAt! + 3),
        label: `#${e.id} ${e.description}`,
      })),
    calls: callsPerSecond(evidence, sec),
    alerts: cumulative(alertChanges),
    phases: [
      { t: 0, label: 'faults begin' },
      { t: sec(timings.driver.faultPhase.end), label: 'healed' },
      { t: sec(timings.driver.settle.end), label: 'checks' },
    ],
  };
  return { report, timeline };
}

const BUCKET_SECONDS = 5;

/** Calls per second in 5-s buckets, by outcome, with a zero for every empty bucket (so lines drop to 0 in gaps). */
function callsPerSecond(evidence: Evidence, sec: (ms: number) => number): TimelineData['calls'] {
  const counts = new Map<string, number>();
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const request of evidence.requests) {
    const t = Math.floor(sec(Date.parse(request.at)) / BUCKET_SECONDS) * BUCKET_SECONDS;
    if (t < -BUCKET_SECONDS * 6) continue; // the workers' first certificate downloads, long before the faults
    first = Math.min(first, t);
    last = Math.max(last, t);
    const outcome: (typeof CALL_OUTCOMES)[number] = request.fault
      ? 'injected fault'
      : request.status < 300
        ? '2xx'
        : request.status === 401
          ? '401 (clock drift)'
          : 'other error';
    counts.set(`${t}|${outcome}`, (counts.get(`${t}|${outcome}`) ?? 0) + 1);
  }
  const calls: TimelineData['calls'] = [];
  for (let t = first; t <= last; t += BUCKET_SECONDS) {
    for (const outcome of CALL_OUTCOMES) {
      calls.push({ t, outcome, perSecond: (counts.get(`${t}|${outcome}`) ?? 0) / BUCKET_SECONDS });
    }
  }
  return calls;
}

/** Lifecycles in alert over time, one point per second in which it changed. */
function cumulative(changes: Array<{ t: number; delta: number }>): TimelineData['alerts'] {
  const perSecond = new Map<number, number>();
  for (const change of changes)
    perSecond.set(Math.floor(change.t), (perSecond.get(Math.floor(change.t)) ?? 0) + change.delta);
  let level = 0;
  const points = [{ t: 0, lifecycles: 0 }];
  for (const [t, delta] of [...perSecond].sort((a, b) => a[0] - b[0])) {
    level += delta;
    points.push({ t, lifecycles: level });
  }
  return points;
}

function count(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}

export function reportMarkdown(report: ChaosReport): string {
  const f = report.figures;
  const lines = [
    `# Chaos run: ${report.passed ? 'PASSED' : 'FAILED'}`,
    '',
    `\`${report.command}\` — ${f.lifecycles} lifecycles, wall time ${f.wallSeconds} s ` +
      `(stack ${report.timings.stackStartSeconds} s, faults ${report.timings.faultPhaseSeconds} s, ` +
      `settling ${report.timings.settleSeconds} s, checks ${report.timings.checkSeconds} s).`,
    '',
    '![timeline](timeline.png)',
    '',
    '## Figures',
    '',
    '| figure | value |',
    '|---|---|',
    ...Object.entries(f).map(([k, v]) => `| ${k} | ${v} |`),
    '',
    `Final phases: ${entries(report.phases)}. Evidence the lifecycles recorded: ${entries(report.evidenceClaimed)}.`,
    `Alerts raised by label: ${entries(report.alertsByLabel) || 'none'}.`,
    `WeChat Pay requests: ${report.requests.total} (${entries(report.requests.byEndpoint)}); ${report.requests.backup} served by the backup domain; answers sabotaged by injected faults: ${entries(report.requests.byFault) || 'none'}.`,
    '',
    '## Checks',
    '',
    '| check | result | violations | examined |',
    '|---|---|---|---|',
    ...report.checks.map((c) => `| ${c.title} | ${c.passed ? 'pass' : '**FAIL**'} | ${c.violations} | ${c.examined} |`),
    '',
  ];
  for (const check of report.checks.filter((c) => c.examples.length > 0 || c.undecided.length > 0)) {
    lines.push(`### ${check.id}`, '');
    for (const example of check.examples.slice(0, 5)) lines.push(`- ${example}`);
    if (check.violations > 5) lines.push(`- … ${check.violations - 5} more (report.json)`);
    for (const note of check.undecided) lines.push(`- could not decide: ${note}`);
    lines.push('');
  }
  lines.push(
    '## Fault schedule (seeded; planned → as run)',
    '',
    '| # | planned | ran | ended | kind | what | outcome |',
    '|---|---|---|---|---|---|---|',
    ...report.schedule.map(
      (e) =>
        `| ${e.id} | t+${e.atSec}s | ${e.ranAt ?? '—'} | ${e.endedAt ?? '—'} | ${e.kind} | ${e.description}${e.detail ? ` — ${e.detail}` : ''} | ${e.outcome ?? 'not run'} |`,
    ),
    '',
    report.unusedFaults.length > 0
      ? `Injected answers not used before the faults were cleared: ${report.unusedFaults.map((u) => `${u.endpoint} ${u.kind} ×${u.remaining}`).join(', ')}.`
      : 'Every injected answer was used.',
    '',
    `Process events: ${report.stackEvents.map((e) => `t+${e.t}s ${e.action}${e.detail ? ` (${e.detail})` : ''}`).join('; ')}.`,
    '',
  );
  return lines.join('\n');
}

function entries(record: Record<string, number>): string {
  return Object.entries(record)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}
