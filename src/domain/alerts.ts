import type { ClassifiedFailure } from './failurePolicy';
import type { LifecyclePolicy } from './policy';
import type { AlertKind, LifecycleStep, StepFault } from './status';

/**
 * The lifecycle's failing steps and alerts, as pure bookkeeping over the carried `faults` list.
 * - An infrastructure failure records the step as failing (since when, how often, the last error) and when to
 *   retry it (capped exponential backoff); past `alertThresholdMinutes` of failing it becomes an alert.
 * - A decision (missed window, record changed, result overdue, …) is an alert at once and waits for an operator
 *   or for the event that settles it.
 * - Success of the step clears it.
 * The caller is told what was raised and cleared, so it can publish the search attribute, metrics and events.
 */

const MINUTE_MS = 60_000;
const FIRST_RETRY_MS = MINUTE_MS;

export interface FaultChange {
  raised: StepFault[];
  cleared: StepFault[];
}

export const faultKey = (step: LifecycleStep, outRecordId?: string): string =>
  outRecordId ? `${step}:${outRecordId}` : step;

const iso = (epochMs: number): string => new Date(epochMs).toISOString();

export class FaultBook {
  constructor(
    private readonly faults: StepFault[],
    private readonly policy: Pick<LifecyclePolicy, 'alertThresholdMinutes' | 'infraRetryMaxMinutes'>,
    private readonly onChange: (change: FaultChange) => void = () => undefined,
  ) {}

  get(key: string): StepFault | undefined {
    return this.faults.find((f) => f.key === key);
  }

  /**
   * Records an infrastructure failure of a step and returns when to retry it: capped exponential backoff from
   * the first failure, never later than `retryCeilingMs` (e.g. the end of the installment's window).
   */
  failed(
    step: LifecycleStep,
    outRecordId: string | undefined,
    failure: ClassifiedFailure,
    nowMs: number,
    retryCeilingMs = Number.POSITIVE_INFINITY,
  ): number {
    const key = faultKey(step, outRecordId);
    let fault = this.get(key);
    if (!fault || fault.kind !== 'INFRASTRUCTURE') {
      if (fault) this.clear(key);
      fault = { key, step, kind: 'INFRASTRUCTURE', lastError: '', since: iso(nowMs), failures: 0 };
      if (outRecordId) fault.outRecordId = outRecordId;
      this.faults.push(fault);
    }
    fault.failures += 1;
    fault.errorClass = failure.errorClass;
    fault.lastError = failure.message;
    const backoff = Math.min(FIRST_RETRY_MS * 2 ** Math.min(fault.failures - 1, 20), this.maxRetryMs());
    const retryAt = Math.min(nowMs + backoff, retryCeilingMs);
    fault.retryAt = iso(retryAt);
    this.raiseDue(nowMs);
    return retryAt;
  }

  /** A decision an operator (or a later event) must make: an alert at once. */
  decision(step: LifecycleStep, outRecordId: string | undefined, kind: AlertKind, message: string, nowMs: number) {
    const key = faultKey(step, outRecordId);
    const existing = this.get(key);
    if (existing?.kind === kind) {
      existing.lastError = message;
      existing.failures += 1;
      return;
    }
    if (existing) this.clear(key);
    const fault: StepFault = {
      key,
      step,
      kind,
      lastError: message,
      since: iso(nowMs),
      failures: 1,
      raisedAt: iso(nowMs),
      ...(outRecordId ? { outRecordId } : {}),
    };
    this.faults.push(fault);
    this.onChange({ raised: [fault], cleared: [] });
  }

  /** The step succeeded, or its question was settled: it is no longer failing. */
  clear(key: string): StepFault | undefined {
    const index = this.faults.findIndex((f) => f.key === key);
    if (index < 0) return undefined;
    const [fault] = this.faults.splice(index, 1);
    if (fault?.raisedAt) this.onChange({ raised: [], cleared: [fault] });
    return fault;
  }

  /** Clears every fault of one installment (skipped, settled, or no longer polled). */
  clearInstallment(outRecordId: string, steps?: readonly LifecycleStep[]): void {
    for (const fault of this.faults.filter((f) => f.outRecordId === outRecordId)) {
      if (!steps || steps.includes(fault.step)) this.clear(fault.key);
    }
  }

  /** Clears every fault but those of some steps (a stopping lifecycle keeps its termination's and its events'). */
  clearAllExcept(steps: readonly LifecycleStep[]): void {
    for (const fault of this.faults.filter((f) => !steps.includes(f.step))) this.clear(fault.key);
  }

  /** Raises the infrastructure faults that have been failing past the threshold. */
  raiseDue(nowMs: number): void {
    const raised: StepFault[] = [];
    for (const fault of this.faults) {
      if (fault.raisedAt || Date.parse(fault.since) + this.thresholdMs() > nowMs) continue;
      fault.raisedAt = iso(nowMs);
      raised.push(fault);
    }
    if (raised.length > 0) this.onChange({ raised, cleared: [] });
  }

  /** The next moment a failing step crosses the threshold, if any. */
  nextRaiseAt(): number | undefined {
    const times = this.faults.filter((f) => !f.raisedAt).map((f) => Date.parse(f.since) + this.thresholdMs());
    return times.length > 0 ? Math.min(...times) : undefined;
  }

  alerts(): StepFault[] {
    return this.faults.filter((f) => f.raisedAt !== undefined);
  }

  retrying(): StepFault[] {
    return this.faults.filter((f) => f.raisedAt === undefined);
  }

  /** RepaymentAlert: `<step>:<error class or alert kind>` of the oldest alert, or null when there is none. */
  label(): string | null {
    const oldest = this.alerts().reduce<StepFault | undefined>(
      (a, b) => (a === undefined || b.raisedAt! < a.raisedAt! ? b : a),
      undefined,
    );
    if (!oldest) return null;
    return `${oldest.step}:${oldest.kind === 'INFRASTRUCTURE' ? oldest.errorClass : oldest.kind}`;
  }

  private thresholdMs(): number {
    return this.policy.alertThresholdMinutes * MINUTE_MS;
  }

  private maxRetryMs(): number {
    return this.policy.infraRetryMaxMinutes * MINUTE_MS;
  }
}
