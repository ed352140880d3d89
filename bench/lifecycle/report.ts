import type { HistoryResult } from './historyRun';
import type { BaselineResult, LifecycleRunResult, WakeResult } from './liveRun';
import type { SpreadResult } from './spreadPeak';

/** The bench's figures, the ratios and goals derived from them, and the table printed on stdout. */

export interface BenchReport {
  machine: { cpus: number; loadAverage1m: number; node: string };
  options: { lifecycles: number; concurrency: number; cache: number };
  baseline: BaselineResult;
  lifecycles: LifecycleRunResult;
  wake: WakeResult;
  history: HistoryResult | undefined;
  spread: Omit<SpreadResult, 'firstDayPerMinute'> & { firstDayPerMinute?: undefined };
  derived?: Derived;
}

export interface Derived {
  startsPerSecond: number;
  lifecyclesPerSecondToFirstCreate: number;
  baselineCpuMsPerCall: number;
  lifecycleCpuMsPerCall: number;
  cpuPerCallRatio: number;
  mibPerThousandCached: number;
  projectedRssMiBTenThousandAsleep: number;
  projectedRssMiBTenThousandAllCached: number;
}

const GIB = 1024;

export function derive(report: BenchReport): Derived {
  const { baseline, lifecycles, options } = report;
  const cached = Math.max(1, Math.min(options.lifecycles, options.cache || options.lifecycles));
  const perCached = Math.max(0, lifecycles.asleepRssMiB - lifecycles.idleRssMiB) / cached;
  const baselineCpuMsPerCall = baseline.workerCpuMs / Math.max(1, baseline.apiCalls);
  const lifecycleCpuMsPerCall = lifecycles.workerCpuMs / Math.max(1, lifecycles.apiCalls);
  return {
    startsPerSecond: lifecycles.lifecycles / lifecycles.startSeconds,
    lifecyclesPerSecondToFirstCreate: lifecycles.lifecycles / lifecycles.toFirstCreateSeconds,
    baselineCpuMsPerCall,
    lifecycleCpuMsPerCall,
    cpuPerCallRatio: lifecycleCpuMsPerCall / baselineCpuMsPerCall,
    mibPerThousandCached: perCached * 1000,
    projectedRssMiBTenThousandAsleep: lifecycles.idleRssMiB + perCached * Math.min(10_000, options.cache || 10_000),
    projectedRssMiBTenThousandAllCached: lifecycles.idleRssMiB + perCached * 10_000,
  };
}

const f = (n: number, digits = 1): string => n.toFixed(digits);
const verdict = (ok: boolean): string => (ok ? 'met' : 'NOT met');

export function printReport(report: BenchReport): void {
  const d = report.derived ?? derive(report);
  const { lifecycles: l, wake: w, history: h, spread: s, options: o } = report;
  const rows: Array<[string, string, string]> = [
    ['lifecycles started (lender client)', `${l.lifecycles} in ${f(l.startSeconds)} s = ${f(d.startsPerSecond)}/s`, ''],
    [
      'to first schedule record created',
      `${f(l.toFirstCreateSeconds)} s = ${f(d.lifecyclesPerSecondToFirstCreate)} lifecycles/s`,
      '',
    ],
    [
      'worker CPU per API call, yardstick',
      `${f(d.baselineCpuMsPerCall, 2)} ms (${report.baseline.apiCalls} calls)`,
      '',
    ],
    ['worker CPU per API call, lifecycles', `${f(d.lifecycleCpuMsPerCall, 2)} ms (${l.apiCalls} calls)`, ''],
    [
      '  ratio lifecycle / yardstick',
      `${f(d.cpuPerCallRatio, 2)}x`,
      `goal <= 1.3x: ${verdict(d.cpuPerCallRatio <= 1.3)}`,
    ],
    ['worker RSS idle / asleep', `${f(l.idleRssMiB, 0)} / ${f(l.asleepRssMiB, 0)} MiB (cache ${o.cache})`, ''],
    ['  per 1,000 cached lifecycles', `${f(d.mibPerThousandCached, 0)} MiB`, ''],
    [
      '  10,000 asleep, cache bounded',
      `${f(d.projectedRssMiBTenThousandAsleep, 0)} MiB (all cached: ${f(d.projectedRssMiBTenThousandAllCached, 0)})`,
      `goal <= 1 GiB: ${verdict(d.projectedRssMiBTenThousandAsleep <= GIB)}`,
    ],
    [
      'wake-up CPU, cached / evicted (replay)',
      `${f(w.cachedCpuMsPerQuery, 1)} / ${f(w.evictedCpuMsPerQuery, 1)} ms per status query`,
      '',
    ],
  ];
  if (h) {
    rows.push(
      [
        '36 installments, daily polls: events/run',
        `max ${h.maxEventsPerRun} over ${h.runs} run(s), ${h.totalEvents} in all`,
        `goal < 2,000: ${verdict(h.maxEventsPerRun < 2000)}`,
      ],
      [
        '  WeChat Pay calls per installment',
        `${f(h.callsPerInstallment, 2)} (planned ${h.plannedPollsPerInstallment} polls + 1 create; polls ${h.pollsPerInstallment.min}-${h.pollsPerInstallment.max}, creates ${h.createsPerInstallment.min}-${h.createsPerInstallment.max})`,
        `duplicates ${h.duplicateCreates}: ${verdict(h.createsPerInstallment.max === 1 && h.duplicateCreates === 0 && h.pollsPerInstallment.max === h.plannedPollsPerInstallment)}`,
      ],
      ['  contract checks (per lifecycle)', `${h.contractChecks}`, ''],
    );
  }
  rows.push([
    `${s.installments} due on one day: peak calls/s`,
    `${s.spread.peakPerSecond}/s spread (${s.spread.peakPerMinute}/min), ${s.unspread.peakPerSecond}/s before`,
    'computed from the workflow timer functions',
  ]);
  const width = Math.max(...rows.map((r) => r[0].length));
  const valueWidth = Math.max(...rows.map((r) => r[1].length));
  console.log(
    `\nbench:lifecycle  ${report.machine.cpus} cpus, load ${f(report.machine.loadAverage1m, 2)}, node ${report.machine.node}`,
  );
  for (const [name, value, goal] of rows) console.log(`${name.padEnd(width)}  ${value.padEnd(valueWidth)}  ${goal}`);
}
