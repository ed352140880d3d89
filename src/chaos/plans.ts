import { addDays, shanghaiDateOf } from '../domain/calendar';
import type { InstallmentInput, RepaymentPlanInput } from '../domain/plan';
import type { PartialLifecyclePolicy } from '../domain/policy';
import type { Random } from './random';

/**
 * The book of a chaos run: N lifecycles with a seeded mix of plans (signed at once / later / never; installments
 * whose window is open now or opens later; weekly or monthly) and of what the lender and the user do to each
 * during the run. Everything here is what the checker later calls the truth: it never asks the workflow what
 * should have happened.
 */

export type Signing = 'at-once' | 'later' | 'never';
export type Behaviour = 'monitor' | 'settle' | 'fail' | 'cancel' | 'user-terminate' | 'bill';

export interface LifecycleSpec {
  index: number;
  plan: RepaymentPlanInput & { outContractCode: string; contractId: string; appid: string; openid: string };
  signing: Signing;
  behaviour: Behaviour;
  cadence: 'weekly' | 'monthly';
  window: 'now' | 'later';
  /** Seconds after the fault phase begins. */
  startAtSec: number;
  /** When the user signs in the sandbox (signing 'later'). */
  authorizeAtSec?: number;
  /** When the lender or user acts (behaviour other than 'monitor'). */
  actAtSec?: number;
  /** settle: the same result twice; a result naming a wrong record first; a result after the lifecycle ended. */
  duplicateResult?: boolean;
  wrongIdResult?: boolean;
  lateResult?: boolean;
  /** bill: when the compensation bill reaches its final state. */
  billFinishAtSec?: number;
}

/** The chaos policy: intervals of minutes (shortIntervals), so deadlines pass and polls happen inside the run. */
export function chaosPolicy(faultMinutes: number): PartialLifecyclePolicy {
  const short = faultMinutes < 4;
  return {
    shortIntervals: true,
    signingDeadlineHours: Math.max(1, Math.round(faultMinutes * 0.4)) / 60,
    signingPollIntervalSeconds: short ? 15 : 30,
    pollIntervalHours: (short ? 1 : 3) / 60,
    pollJitterSeconds: short ? 10 : 30,
    contractCheckIntervalMinutes: short ? 1 : 2,
    alertThresholdMinutes: 1,
    infraRetryMaxMinutes: 1,
    terminationRetryMinutes: 1,
    compensationPollIntervalSeconds: short ? 10 : 20,
    compensationNotFoundHours: 1,
    scheduleLeadDays: 7,
    onRepaymentFailed: 'terminate',
    onScheduleRefused: 'terminate',
  };
}

export const CHAOS_APPID = 'wxd678efh567hg6787';
/** Every openid of a chaos run starts so: the log and history scans look for it. */
export const OPENID_PREFIX = 'oChaos';
export const OPENID_PATTERN = /oChaos[0-9A-Za-z]{22}/;

export interface BookOptions {
  lifecycles: number;
  faultSeconds: number;
  signingDeadlineSeconds: number;
  /** Moments of the fault schedule that want fresh creates in flight (a worker kill): a wave of starts each. */
  createWavesAtSec: number[];
  nowMs: number;
}

export function buildBook(random: Random, options: BookOptions): LifecycleSpec[] {
  const { lifecycles, faultSeconds: w } = options;
  const today = shanghaiDateOf(options.nowMs);
  const waveSize = Math.max(5, Math.round(lifecycles * 0.03));
  const inWaves = options.createWavesAtSec.length * waveSize;
  const later = Math.round((lifecycles - inWaves) * 0.3);
  const specs: LifecycleSpec[] = [];
  for (let index = 0; index < lifecycles; index++) {
    const wave = index - (lifecycles - inWaves);
    const inCreateWave = wave >= 0;
    const startAtSec = inCreateWave
      ? Math.max(0, options.createWavesAtSec[Math.floor(wave / waveSize)]! - 3)
      : index < lifecycles - inWaves - later
        ? 0
        : Math.round(random.between(0.05, 0.6) * w);
    specs.push(spec(random, index, today, startAtSec, inCreateWave, options));
  }
  return specs;
}

function spec(
  random: Random,
  index: number,
  today: string,
  startAtSec: number,
  inCreateWave: boolean,
  options: BookOptions,
): LifecycleSpec {
  const w = options.faultSeconds;
  const code = `CH${(index + 1).toString().padStart(5, '0')}${random.text(6)}`;
  const signing: Signing = inCreateWave
    ? 'at-once'
    : random.weighted<Signing>([
        ['at-once', 55],
        ['later', 27],
        ['never', 18],
      ]);
  const mode =
    signing === 'at-once'
      ? random.weighted<'poll' | 'signal' | 'none'>([
          ['poll', 70],
          ['none', 15],
          ['signal', 15],
        ])
      : random.weighted<'poll' | 'signal'>([
          ['poll', 70],
          ['signal', 30],
        ]);
  const window = inCreateWave || random.chance(0.7) ? 'now' : 'later';
  const cadence = random.chance(0.5) ? 'weekly' : 'monthly';
  const behaviour: Behaviour =
    signing === 'never'
      ? random.chance(0.15)
        ? 'user-terminate'
        : 'monitor'
      : random.weighted<Behaviour>([
          ['monitor', 42],
          ['settle', 26],
          ['fail', 7],
          ['cancel', 7],
          ['user-terminate', 9],
          ['bill', 9],
        ]);
  const result: LifecycleSpec = {
    index,
    plan: {
      outContractCode: code,
      contractId: `WXC${code}`,
      appid: CHAOS_APPID,
      openid: `${OPENID_PREFIX}${random.text(22)}`,
      signature: { mode },
      installments: installments(random, code, today, window, cadence, index % 2 === 0),
    },
    signing,
    behaviour,
    cadence,
    window,
    startAtSec,
  };
  // The user signs well before the deadline; the lender acts while the faults go on.
  if (signing === 'later') {
    result.authorizeAtSec = startAtSec + Math.round(random.between(0.15, 0.6) * options.signingDeadlineSeconds);
  }
  if (behaviour !== 'monitor') {
    const earliest = Math.max(startAtSec, result.authorizeAtSec ?? 0) + 20;
    result.actAtSec = Math.round(earliest + random.between(0, Math.max(10, 0.85 * w - earliest)));
  }
  if (behaviour === 'settle') {
    result.duplicateResult = random.chance(0.35);
    result.wrongIdResult = random.chance(0.35);
    result.lateResult = random.chance(0.3);
  }
  if (behaviour === 'bill') result.billFinishAtSec = (result.actAtSec ?? 0) + Math.round(random.between(20, 90));
  return result;
}

function installments(
  random: Random,
  code: string,
  today: string,
  window: 'now' | 'later',
  cadence: 'weekly' | 'monthly',
  namedIds: boolean,
): InstallmentInput[] {
  // Day +2 at the earliest: a run that crosses midnight in Shanghai must not find its first date closed.
  const first = addDays(today, window === 'now' ? random.int(2, 6) : random.int(20, 40));
  const count = cadence === 'weekly' ? random.int(2, 4) : random.int(1, 3);
  return Array.from({ length: count }, (_, i) => {
    const amount = random.int(1_000, 500_000) * 10;
    return {
      ...(namedIds ? { outRecordId: `R${code}N${i}` } : {}),
      repaymentAmount: String(amount),
      minRepaymentAmount: String(amount / 10),
      repaymentDate: cadence === 'weekly' ? addDays(first, 7 * i) : addMonths(first, i),
    };
  });
}

function addMonths(date: string, months: number): string {
  const [year, month, day] = date.split('-').map(Number) as [number, number, number];
  const target = new Date(Date.UTC(year, month - 1 + months, 1));
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(day, lastDay));
  return target.toISOString().slice(0, 10);
}
