import { refusesExecution } from '../sandbox/faults';
import type { RequestLogEntry } from '../sandbox/requestLog';
import type { Evidence } from './collect';
import type { Journal } from './journal';
import type { LifecycleSpec } from './plans';
import type { LogScan } from './secrets';

/** What every check of the independent checker shares: its input, its result, and how it counts. */

export interface CheckResult {
  id: string;
  title: string;
  passed: boolean;
  violations: number;
  /** How many things it looked at. */
  examined: number;
  examples: string[];
  /** What it could not decide, said plainly (not a failure). */
  undecided: string[];
}

export interface CheckContext {
  book: readonly LifecycleSpec[];
  journal: Journal;
  evidence: Evidence;
  logs: LogScan;
  signingDeadlineMs: number;
  scheduleLeadDays: number;
  /** How long a lifecycle may take to act on evidence once everything is healthy (a contract check, a retry). */
  evidenceActsWithinMs: number;
  /** How long everything was healthy before the evidence was collected (the settling phase). */
  healthyMs: number;
}

/**
 * The longest a healthy lifecycle may wait before it retries a step that failed during the faults: an activity's
 * longest backoff (2 min) and start-to-close timeout (45 s), then the lifecycle's own retry (chaos policy: 1 min).
 * With a shorter settling phase, "an open window on a signed contract has no record" cannot be decided.
 */
export const RETRY_SETTLES_WITHIN_MS = 4 * 60_000;

/** Examples kept per check (the Markdown report shows the first five; the JSON all of these). */
const MAX_EXAMPLES = 50;

export class Tally {
  violations = 0;
  examined = 0;
  readonly examples: string[] = [];
  readonly undecided: string[] = [];
  fail(example: string): void {
    this.violations += 1;
    if (this.examples.length < MAX_EXAMPLES) this.examples.push(example);
  }
  result(id: string, title: string): CheckResult {
    return {
      id,
      title,
      passed: this.violations === 0,
      violations: this.violations,
      examined: this.examined,
      examples: this.examples,
      undecided: this.undecided,
    };
  }
}

/** An answer to a state-changing call that went through: a 2xx, sabotaged or not (the operation was executed). */
export function executedOk(entry: RequestLogEntry): boolean {
  return entry.status >= 200 && entry.status < 300 && (!entry.fault || !refusesExecution(entry.fault));
}

/**
 * Terminate requests WeChat Pay processed: those refused before reaching the contract (401 authentication, 429, 5xx,
 * an injected fault that does not execute) are retries the worker must make, not terminations.
 */
export function processed(entry: RequestLogEntry): boolean {
  if (entry.status === 401 || entry.status === 429 || entry.status >= 500) return false;
  return !entry.fault || !refusesExecution(entry.fault);
}
