import type { EndpointName, FaultInput } from '../sandbox/faults';
import type { Random } from './random';

/**
 * The fault schedule of a chaos run, drawn from the seed and printed before the run: each bullet of the issue at
 * least once, the injected kinds `faultsPerKind` times, spread over the fault phase with overlaps (several things go
 * wrong at once). Times are seconds after the fault phase begins.
 */

export type FaultEventKind =
  | 'worker-kill'
  | 'worker-kill-creates-in-flight'
  | 'dev-server-restart'
  | 'errors-500-503'
  | 'rate-limit-burst'
  | 'unknown-outcome'
  | 'forged-answers'
  | 'primary-down'
  | 'clock-drift'
  | 'key-rotation';

export interface FaultEvent {
  id: number;
  kind: FaultEventKind;
  atSec: number;
  /** Periods (errors, primary down, drift, dev server down); absent for one-off injections. */
  durationSec?: number;
  /** What the sandbox is told (its faults API), for injected kinds. */
  injections?: FaultInput[];
  /** worker-kill: which worker (index), or every worker for the in-flight kill. */
  worker?: number | 'all';
  /** clock-drift: how far the sandbox's authentication clock moves. */
  offsetMs?: number;
  description: string;
}

export interface ScheduleOptions {
  faultSeconds: number;
  faultsPerKind: number;
  workers: number;
}

/** The held-back creates the in-flight kill waits for (sandbox `slow` fault). */
export const IN_FLIGHT_DELAY_MS = 8_000;

export function buildFaultSchedule(random: Random, options: ScheduleOptions): FaultEvent[] {
  const w = options.faultSeconds;
  const at = (fraction: number): number =>
    Math.round(Math.min(0.92, Math.max(0.03, fraction + random.between(-0.04, 0.04))) * w);
  const period = (fraction: number, min: number): number => Math.max(min, Math.round(fraction * w));
  const spread = (from: number, to: number, i: number): number =>
    from + ((to - from) * (i + 0.5)) / options.faultsPerKind;
  const events: Array<Omit<FaultEvent, 'id'>> = [];

  // Worker processes SIGKILLed at least three times, one of them while creates are in flight.
  for (const [fraction, worker] of [
    [0.15, 0],
    [0.55, options.workers - 1],
    [0.8, 0],
  ] as const) {
    events.push({
      kind: 'worker-kill',
      atSec: at(fraction),
      worker,
      description: `SIGKILL worker-${worker + 1}, restart it`,
    });
  }
  events.push({
    kind: 'worker-kill-creates-in-flight',
    atSec: at(0.33),
    worker: 'all',
    injections: [{ endpoint: 'schedule-create', kind: 'slow', delayMs: IN_FLIGHT_DELAY_MS, count: 20 }],
    description: `creates held ${IN_FLIGHT_DELAY_MS / 1000} s by the sandbox (executed, unanswered); SIGKILL every worker while they are`,
  });
  const downSec = period(0.05, 10);
  events.push({
    kind: 'dev-server-restart',
    atSec: at(0.45),
    durationSec: downSec,
    description: `Temporal dev server stopped, started again on the same database after ${downSec} s`,
  });
  events.push({
    kind: 'key-rotation',
    atSec: at(0.5),
    description: 'the sandbox signs with a new platform certificate (workers in platform-certificate mode)',
  });

  for (let i = 0; i < options.faultsPerKind; i++) {
    const errorsSec = period(0.12, 15);
    events.push({
      kind: 'errors-500-503',
      atSec: at(spread(0.05, 0.7, i)),
      durationSec: errorsSec,
      injections: [
        { endpoint: '*', kind: 500, ratio: 0.1, forMs: errorsSec * 1000 },
        // Sees only what the first let through: 10 % of the remaining 90 %.
        { endpoint: '*', kind: 503, ratio: 0.1 / 0.9, forMs: errorsSec * 1000 },
      ],
      description: `20 % of answers on every endpoint are 500 or 503 for ${errorsSec} s`,
    });
    // Faults on batch-create stay clear of the in-flight kill (≈0.33): they would answer its creates first.
    events.push(burst('schedule-create', 25, at(spread(0.45, 0.85, i))));
    events.push(burst('compensation-query', 15, at(spread(0.3, 0.85, i))));
    for (const endpoint of ['schedule-create', 'terminate'] as const) {
      events.push({
        kind: 'unknown-outcome',
        atSec: at(endpoint === 'terminate' ? spread(0.2, 0.85, i) : spread(0.45, 0.9, i)),
        injections: [
          { endpoint, kind: 'reset', count: 2 },
          { endpoint, kind: 'tampered', count: 2 },
        ],
        description: `the next 2 ${endpoint} answers are reset, the 2 after that tampered (executed, outcome unknown)`,
      });
    }
    events.push({
      kind: 'forged-answers',
      atSec: at(spread(0.45, 0.85, i)),
      injections: (['contract-query', 'schedule-query', 'schedule-create'] as const).map((endpoint) => ({
        endpoint,
        kind: 'forged' as const,
        count: 3,
      })),
      description:
        'the next 3 answers of the signing query, the record query and batch-create are forged (a lie, unverifiable)',
    });
    const primarySec = period(0.1, 15);
    events.push({
      kind: 'primary-down',
      atSec: at(spread(0.15, 0.75, i)),
      durationSec: primarySec,
      description: `the primary domain is down for ${primarySec} s (the backup serves)`,
    });
  }
  const driftSec = period(0.3, 20);
  events.push({
    kind: 'clock-drift',
    atSec: at(0.6),
    durationSec: driftSec,
    offsetMs: 420_000,
    description: `the sandbox's clock runs 420 s ahead for ${driftSec} s: every request 401, every answer stale`,
  });

  return events
    .sort((a, b) => a.atSec - b.atSec || a.kind.localeCompare(b.kind))
    .map((event, i) => ({ id: i + 1, ...event }));
}

function burst(endpoint: EndpointName, count: number, atSec: number): Omit<FaultEvent, 'id'> {
  return {
    kind: 'rate-limit-burst',
    atSec,
    injections: [{ endpoint, kind: 429, count }],
    description: `the next ${count} ${endpoint} answers are 429 FREQUENCY_LIMITED`,
  };
}

/** The schedule as printed at the start of the run and in the report. */
export function formatSchedule(events: readonly FaultEvent[]): string[] {
  return events.map(
    (e) =>
      `  #${String(e.id).padStart(2)} t+${String(e.atSec).padStart(4)}s${e.durationSec ? ` (${e.durationSec} s)` : ''}  ${e.kind}: ${e.description}`,
  );
}

/** Moments at which the book starts a wave of fresh lifecycles, so that creates are in flight. */
export function createWaves(events: readonly FaultEvent[]): number[] {
  return events.filter((e) => e.kind === 'worker-kill-creates-in-flight').map((e) => e.atSec);
}
