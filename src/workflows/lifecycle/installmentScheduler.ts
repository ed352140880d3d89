import { log } from '@temporalio/workflow';
import type { ScheduledRecord, ScheduleRequest } from '../../activities';
import { faultKey } from '../../domain/alerts';
import { addDays, shanghaiDateOf } from '../../domain/calendar';
import type { ClassifiedFailure } from '../../domain/failurePolicy';
import {
  actionDue,
  dueAt,
  markDue,
  markFailed,
  markPolled,
  markScheduled,
  recordMismatches,
} from '../../domain/installments';
import { isFinalInstallment, type InstallmentRecord } from '../../domain/status';
import { createScheduleRecord, queryScheduleRecord } from './activities';
import type { LifecycleCore } from './core';
import { legacyFailInstallment, legacyPoll, legacySchedule } from './legacy';
import type { SigningStep } from './signing';

/**
 * Each installment on its own track: window opens → create (seed 001, one item) → poll (seed 000) until the
 * repayment date → due → the lender's result. Infrastructure failures are retried on the lifecycle's own timer,
 * no later than the point where retrying stops helping (the window's end for a create, the repayment date for a
 * poll); a create is never resent after an unknown outcome without a query first. Only a verified refusal of the
 * create is evidence; everything else that needs a person raises an alert and waits.
 */

const nowIso = (): string => new Date(Date.now()).toISOString();

export class InstallmentScheduler {
  constructor(
    private readonly core: LifecycleCore,
    private readonly signing: SigningStep,
    /** The contract's instant of the day (patch spread-window-and-polls), or undefined for the old timing. */
    private readonly slotMs: number | undefined,
  ) {}

  step(now: number): void {
    const { core } = this;
    for (const record of core.state.installments) {
      if (core.busy(record.outRecordId)) continue;
      switch (actionDue(record, now)) {
        case 'schedule':
          core.launch(record.outRecordId, 'schedule', () => this.schedule(record));
          break;
        case 'poll':
          core.launch(record.outRecordId, 'poll', () => this.poll(record));
          break;
        case 'due':
          markDue(record, core.policy);
          core.faults.clearInstallment(record.outRecordId, ['poll']);
          core.events.installmentDue(record);
          break;
        case 'result-overdue':
          this.resultOverdue(record, now);
          break;
        case undefined:
          break;
      }
    }
  }

  wakeTimes(): number[] {
    return this.core.state.installments
      .filter((record) => record.nextActionAt && !this.core.busy(record.outRecordId))
      .map((record) => Date.parse(record.nextActionAt!));
  }

  request(record: InstallmentRecord): ScheduleRequest {
    const { plan } = this.core;
    return {
      contractId: plan.contractId,
      appid: plan.appid,
      openid: plan.openid,
      ...(plan.subMchid ? { subMchid: plan.subMchid } : {}),
      ...(plan.subAppid ? { subAppid: plan.subAppid } : {}),
      item: {
        outRecordId: record.outRecordId,
        repaymentAmount: record.repaymentAmount,
        minRepaymentAmount: record.minRepaymentAmount,
        repaymentDate: record.repaymentDate,
        ...(record.description ? { description: record.description } : {}),
        ...(record.attach ? { attach: record.attach } : {}),
      },
      ...(record.createOutcomeUnknown ? { reconcileFirst: true } : {}),
    };
  }

  private async schedule(record: InstallmentRecord): Promise<void> {
    const { core } = this;
    if (core.legacy) return legacySchedule(core, record, this.request(record));
    if (record.repaymentDate <= shanghaiDateOf(Date.now())) return this.missed(record);
    let stored: ScheduledRecord;
    try {
      stored = await createScheduleRecord(this.request(record));
    } catch (error) {
      const failure = core.classify(error);
      if (failure.outcomeUnknown) record.createOutcomeUnknown = true;
      if (failure.class === 'infrastructure') return this.retryCreate(record, failure);
      // A verified refusal: what WeChat Pay holds decides (a "duplicate" of our own earlier create is no refusal).
      const found = await this.reconcile(record);
      if (found === 'retry') return;
      if (found === undefined) return this.refused(record, failure);
      stored = found;
    }
    delete record.createOutcomeUnknown;
    if (isFinalInstallment(record)) return; // settled by the lender meanwhile
    const differences = recordMismatches(record, core.plan.contractId, stored);
    if (differences.length > 0) {
      core.faults.decision(
        'create',
        record.outRecordId,
        'RECORD_MISMATCH',
        `WeChat Pay holds the record with a different ${differences.join(', ')}`,
        Date.now(),
      );
      delete record.nextActionAt;
      return;
    }
    core.faults.clear(faultKey('create', record.outRecordId));
    // WeChat Pay holds a record only on an effective contract: it was authorized (a later UNAUTHORIZED is the user's).
    core.state.authorizedSeen = true;
    markScheduled(record, Date.now(), core.policy, this.slotMs);
    core.events.installmentScheduled(record, stored);
  }

  /** The record as WeChat Pay holds it, undefined when verifiably absent, 'retry' when the query itself failed. */
  private async reconcile(record: InstallmentRecord): Promise<ScheduledRecord | undefined | 'retry'> {
    try {
      const lookup = await queryScheduleRecord({
        outRecordId: record.outRecordId,
        contractId: this.core.plan.contractId,
      });
      return lookup.found ? lookup.record : undefined;
    } catch (error) {
      record.createOutcomeUnknown = true;
      this.retryCreate(record, this.core.classify(error));
      return 'retry';
    }
  }

  private retryCreate(record: InstallmentRecord, failure: ClassifiedFailure): void {
    // The last moment WeChat Pay accepts the date is the end of the day before it.
    const windowEnd = dueAt(record.repaymentDate);
    const retryAt = this.core.faults.failed('create', record.outRecordId, failure, Date.now(), windowEnd);
    record.nextActionAt = new Date(retryAt).toISOString();
  }

  /** Verified: WeChat Pay refused the record and does not hold it. Evidence, handled as the policy says. */
  private async refused(record: InstallmentRecord, failure: ClassifiedFailure): Promise<void> {
    const { core } = this;
    try {
      if (await this.signing.userTerminated()) return;
    } catch (error) {
      return this.retryCreate(record, core.classify(error));
    }
    const message = `WeChat Pay refused the schedule record (${failure.message})`;
    if (record.scheduledAt !== undefined) {
      // It was scheduled once and vanished: contradicting answers are for a person, not a termination.
      core.faults.decision('create', record.outRecordId, 'RECORD_MISSING', message, Date.now());
      delete record.nextActionAt;
      return;
    }
    // Only a refusal with a code listed in evidenceCodes ends the contract: a verified "not found" answering a create
    // (the contract or merchant unknown to WeChat Pay) contradicts what the lifecycle knows, so a person decides.
    if (core.policy.onScheduleRefused === 'terminate' && failure.errorClass === 'REFUSED') {
      core.faults.clearInstallment(record.outRecordId);
      markFailed(record, message);
      core.events.installmentRefused(record);
      core.requestStop({
        kind: 'failure',
        evidence: 'SCHEDULE_REFUSED',
        reason: `installment ${record.outRecordId}: ${message}`,
      });
      return;
    }
    core.faults.decision('create', record.outRecordId, 'SCHEDULE_REFUSED', message, Date.now());
    delete record.nextActionAt;
  }

  /** The window closed with no record at WeChat Pay: nothing can create it now; an operator decides. */
  private missed(record: InstallmentRecord): void {
    const { core } = this;
    const last = core.faults.get(faultKey('create', record.outRecordId))?.lastError;
    record.state = 'MISSED';
    delete record.nextActionAt;
    core.faults.decision(
      'create',
      record.outRecordId,
      'MISSED_WINDOW',
      `the window closed on ${addDays(record.repaymentDate, -1)} with no record at WeChat Pay${last ? ` (last error: ${last})` : ''}`,
      Date.now(),
    );
  }

  private async poll(record: InstallmentRecord): Promise<void> {
    const { core } = this;
    if (core.legacy) return legacyPoll(core, record);
    let lookup;
    try {
      lookup = await queryScheduleRecord({ outRecordId: record.outRecordId, contractId: core.plan.contractId });
    } catch (error) {
      const retryAt = core.faults.failed(
        'poll',
        record.outRecordId,
        core.classify(error),
        Date.now(),
        dueAt(record.repaymentDate),
      );
      record.nextActionAt = new Date(retryAt).toISOString();
      return;
    }
    if (isFinalInstallment(record)) return;
    const now = Date.now();
    if (!lookup.found) {
      // Verified: WeChat Pay no longer holds it. Created again with the same out_record_id, inside the window.
      markPolled(record, now, 'MISSING', core.policy, this.slotMs);
      core.faults.clear(faultKey('poll', record.outRecordId));
      log.warn('scheduled record not found at WeChat Pay; creating it again', { outRecordId: record.outRecordId });
      record.state = 'WAITING';
      record.nextActionAt = nowIso();
      return;
    }
    const differences = recordMismatches(record, core.plan.contractId, lookup.record);
    if (differences.length > 0) {
      markPolled(record, now, 'MISMATCH', core.policy, this.slotMs);
      core.faults.decision(
        'poll',
        record.outRecordId,
        'RECORD_MISMATCH',
        `scheduled record changed at WeChat Pay: ${differences.join(', ')} differ`,
        now,
      );
      return;
    }
    markPolled(record, now, 'MATCHES', core.policy, this.slotMs);
    core.faults.clear(faultKey('poll', record.outRecordId));
  }

  private resultOverdue(record: InstallmentRecord, now: number): void {
    const { core } = this;
    const reason = `no repayment result within ${core.policy.resultDeadlineDays} days of ${record.repaymentDate}`;
    if (core.legacy) return legacyFailInstallment(core, record, reason);
    delete record.nextActionAt;
    core.faults.decision('result', record.outRecordId, 'RESULT_OVERDUE', reason, now);
  }
}
