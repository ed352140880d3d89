import { isCalendarDate, shanghaiMidnight } from '../domain/calendar';
import { PlanValidationError, type PlanIssue } from '../domain/plan';
import { NextRepaymentDate, OutContractCode, RepaymentAlert, RepaymentPhase } from '../domain/searchAttributes';
import type { LifecyclePhase } from '../domain/status';

/** Every phase, checked against the domain's type so that a new phase cannot be forgotten here. */
const PHASES = {
  AWAITING_SIGNATURE: true,
  SCHEDULING: true,
  MONITORING: true,
  COMPLETED: true,
  TERMINATING: true,
  TERMINATED: true,
  CANCELLED: true,
} as const satisfies Record<LifecyclePhase, true>;
export const LIFECYCLE_PHASES = Object.keys(PHASES) as LifecyclePhase[];

export const LIFECYCLE_WORKFLOW_TYPE = 'repaymentLifecycle';

export interface LifecycleFilter {
  phase?: string;
  outContractCode?: string;
  /** `YYYY-MM-DD`: lifecycles whose next unsettled repayment date is before this date (Asia/Shanghai). */
  nextRepaymentBefore?: string;
  /** Only lifecycles with an alert an operator must look at. */
  inAlert?: boolean;
  /** An extra visibility clause, ANDed as is (operator's own query; not escaped). */
  query?: string;
}

/**
 * A visibility string literal: double-quoted, with backslashes and quotes escaped, so that a value can never
 * end the literal and inject a clause. Control characters have no business in a filter value and are refused.
 */
export function quoteVisibilityString(value: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value))
    throw new RangeError('a visibility query value must not hold control characters');
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** The visibility query that lists lifecycles matching a filter; throws PlanValidationError naming a bad field. */
export function buildListQuery(filter: LifecycleFilter = {}): string {
  const issues: PlanIssue[] = [];
  const clauses = [`WorkflowType = ${quoteVisibilityString(LIFECYCLE_WORKFLOW_TYPE)}`];
  const value = (field: keyof LifecycleFilter, text: string): string | undefined => {
    try {
      return quoteVisibilityString(text);
    } catch {
      issues.push({ path: field, rule: 'must not hold control characters' });
      return undefined;
    }
  };
  if (filter.phase !== undefined) {
    if (!(LIFECYCLE_PHASES as string[]).includes(filter.phase)) {
      issues.push({ path: 'phase', rule: `must be one of ${LIFECYCLE_PHASES.join(', ')}` });
    } else clauses.push(`${RepaymentPhase.name} = ${quoteVisibilityString(filter.phase)}`);
  }
  if (filter.outContractCode !== undefined) {
    const quoted = value('outContractCode', filter.outContractCode);
    if (quoted) clauses.push(`${OutContractCode.name} = ${quoted}`);
  }
  if (filter.nextRepaymentBefore !== undefined) {
    if (!isCalendarDate(filter.nextRepaymentBefore)) {
      issues.push({ path: 'nextRepaymentBefore', rule: 'must be a calendar date YYYY-MM-DD' });
    } else {
      const instant = new Date(shanghaiMidnight(filter.nextRepaymentBefore)).toISOString();
      clauses.push(`${NextRepaymentDate.name} < ${quoteVisibilityString(instant)}`);
    }
  }
  if (filter.inAlert) clauses.push(`${RepaymentAlert.name} IS NOT NULL`);
  if (filter.query !== undefined) {
    if (filter.query.trim() === '') issues.push({ path: 'query', rule: 'must not be empty' });
    else clauses.push(`(${filter.query})`);
  }
  if (issues.length > 0) throw new PlanValidationError(issues);
  return clauses.join(' AND ');
}
