import { DAY_MS, shanghaiMidnight } from './calendar';
import { fnv1a64 } from './hash';
import type { Installment } from './plan';
import { pollIntervalMs, type LifecyclePolicy } from './policy';
import { isFinalInstallment, type InstallmentRecord, type PollResult, type RepaymentResult } from './status';

/**
 * The per-installment state machine, WAITING → SCHEDULED → POLLING → DUE → SETTLED | FAILED (and MISSED, SKIPPED
 * by an operator's decision), as pure functions over plain records. The workflow decides when to call them; they
 * decide what comes next and when.
 */

export type InstallmentAction = 'schedule' | 'poll' | 'due' | 'result-overdue';

const iso = (epochMs: number): string => new Date(epochMs).toISOString();

/** 00:00 Asia/Shanghai of repaymentDate − lead: the earliest moment the live API accepts the record. */
export function windowOpensAt(repaymentDate: string, leadDays: number): number {
  return shanghaiMidnight(repaymentDate) - leadDays * DAY_MS;
}

/** The repayment date begins (Asia/Shanghai): polling stops and a result is awaited. */
export function dueAt(repaymentDate: string): number {
  return shanghaiMidnight(repaymentDate);
}

/** A deterministic spread in [0, jitterSeconds] s, different for each record and poll. */
export function pollJitterMs(outRecordId: string, pollNumber: number, jitterSeconds: number): number {
  if (jitterSeconds === 0) return 0;
  return Number(fnv1a64(`${outRecordId}#poll${pollNumber}`) % BigInt(jitterSeconds + 1)) * 1000;
}

export function newInstallmentRecord(item: Installment, policy: LifecyclePolicy): InstallmentRecord {
  return {
    ...item,
    state: 'WAITING',
    pollCount: 0,
    nextActionAt: iso(windowOpensAt(item.repaymentDate, policy.scheduleLeadDays)),
  };
}

/** Re-derives the next action time of a WAITING record whose date changed. */
export function rescheduleWaiting(record: InstallmentRecord, policy: LifecyclePolicy): void {
  record.nextActionAt = iso(windowOpensAt(record.repaymentDate, policy.scheduleLeadDays));
}

/** The action a record needs at `nowMs`, if any. */
export function actionDue(record: InstallmentRecord, nowMs: number): InstallmentAction | undefined {
  if (record.nextActionAt === undefined || Date.parse(record.nextActionAt) > nowMs) return undefined;
  switch (record.state) {
    case 'WAITING':
      return 'schedule';
    case 'SCHEDULED':
    case 'POLLING':
      return nowMs >= dueAt(record.repaymentDate) ? 'due' : 'poll';
    case 'DUE':
      return 'result-overdue';
    default:
      return undefined;
  }
}

function nextPollAt(record: InstallmentRecord, fromMs: number, policy: LifecyclePolicy): number {
  const poll =
    fromMs + pollIntervalMs(policy) + pollJitterMs(record.outRecordId, record.pollCount, policy.pollJitterSeconds);
  return Math.min(poll, dueAt(record.repaymentDate));
}

export function markScheduled(record: InstallmentRecord, nowMs: number, policy: LifecyclePolicy): void {
  record.state = 'SCHEDULED';
  record.scheduledAt = iso(nowMs);
  record.nextActionAt = iso(nextPollAt(record, nowMs, policy));
}

export function markPolled(
  record: InstallmentRecord,
  nowMs: number,
  result: PollResult,
  policy: LifecyclePolicy,
): void {
  record.pollCount += 1;
  record.lastPollAt = iso(nowMs);
  record.lastPollResult = result;
  // A changed record keeps being polled (it may be put right); a missing one is the caller's to decide.
  if (result !== 'MISSING') {
    record.state = 'POLLING';
    record.nextActionAt = iso(nextPollAt(record, nowMs, policy));
  }
}

export function markDue(record: InstallmentRecord, policy: LifecyclePolicy): void {
  record.state = 'DUE';
  record.nextActionAt = iso(dueAt(record.repaymentDate) + policy.resultDeadlineDays * DAY_MS);
}

export function markFailed(record: InstallmentRecord, reason: string): void {
  record.state = 'FAILED';
  record.failureReason = reason;
  delete record.nextActionAt;
}

/**
 * Applies a reported result (accepted in any non-final state, since the lender may learn of it before the
 * workflow's own timer marks the record DUE). Returns false for a record that is already final (duplicates).
 */
export function applyResult(record: InstallmentRecord, result: RepaymentResult): boolean {
  if (isFinalInstallment(record)) return false;
  record.result = result;
  if (result.outcome === 'SUCCESS') {
    record.state = 'SETTLED';
    delete record.nextActionAt;
  } else {
    markFailed(record, `repayment failed${result.reason ? `: ${result.reason}` : ''}`);
  }
  return true;
}

/** The fields of a schedule record (seed 000/001 answer) that the lifecycle checks. */
export interface ScheduledRecordView {
  outRecordId: string;
  contractId: string;
  repaymentAmount: string;
  minRepaymentAmount: string;
  repaymentDate: string;
}

/** Fields whose value at WeChat Pay differs from what was scheduled; empty when the record matches. */
export function recordMismatches(expected: Installment, contractId: string, actual: ScheduledRecordView): string[] {
  const differences: string[] = [];
  if (actual.outRecordId !== expected.outRecordId) differences.push('out_record_id');
  if (actual.contractId !== contractId) differences.push('contract_id');
  if (actual.repaymentDate !== expected.repaymentDate) differences.push('repayment_date');
  if (!sameFen(actual.repaymentAmount, expected.repaymentAmount)) differences.push('repayment_amount');
  if (!sameFen(actual.minRepaymentAmount, expected.minRepaymentAmount)) differences.push('min_repayment_amount');
  return differences;
}

function sameFen(a: string, b: string): boolean {
  return /^\d+$/.test(a) && /^\d+$/.test(b) && BigInt(a) === BigInt(b);
}
