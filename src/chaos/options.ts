import { Command, InvalidArgumentError } from 'commander';

/** `npm run chaos -- [options]`. */
export interface ChaosOptions {
  lifecycles: number;
  /** The fault phase; the whole run is about this plus start-up, a settling phase and the checks. */
  minutes: number;
  seed: number;
  workers: 1 | 2;
  /** How many of each injected fault kind (worker kills, the dev-server restart and the key rotation aside). */
  faultsPerKind: number;
  /** After the faults: everything healthy, lifecycles catch up before the checker looks. */
  settleMinutes: number;
  /** Report, JSON, timeline and (under state/) the run's logs and databases. */
  out: string;
}

export const DEFAULT_SEED = 20261124;

export function parseOptions(argv: readonly string[]): ChaosOptions {
  const program = new Command()
    .name('chaos')
    .description(
      'Runs N repayment lifecycles on the real stack under a seeded fault schedule, then checks the outcome ' +
        'independently (sandbox records and request log vs Temporal). Exit 0 only when every check holds.',
    )
    .option('--lifecycles <n>', 'lifecycles to start', int(1, 5000), 1000)
    .option('--minutes <m>', 'length of the fault phase', number(0.5, 120), 10)
    .option('--seed <s>', 'seed of plans, lender script and fault schedule', int(0, 2 ** 32 - 1), DEFAULT_SEED)
    .option('--workers <n>', 'worker processes (1 or 2)', int(1, 2), 2)
    .option('--faults-per-kind <n>', 'injections of each fault kind', int(1, 10), 2)
    .option('--settle-minutes <m>', 'healthy phase before the checks', number(0.5, 30), 4)
    .option('--out <dir>', 'where the report goes', 'artifacts/chaos')
    .exitOverride()
    .parse(argv, { from: 'user' });
  const o = program.opts<ChaosOptions & { workers: number }>();
  return { ...o, workers: o.workers === 1 ? 1 : 2 };
}

function number(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`a number from ${min} to ${max}`);
    return n;
  };
}

function int(min: number, max: number) {
  const parse = number(min, max);
  return (value: string): number => {
    const n = parse(value);
    if (!Number.isInteger(n)) throw new InvalidArgumentError(`an integer from ${min} to ${max}`);
    return n;
  };
}
