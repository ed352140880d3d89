import { log, patched, sleep } from '@temporalio/workflow';
import type { ScheduledRecord } from '../../activities';
import { shanghaiDateOf } from '../../domain/calendar';
import { RESPONSE_VERIFICATION_FAILED, UNEXPECTED_ANSWER } from '../../domain/failureTypes';
import { NOT_FOUND_CODES } from '../../wechatpay/errors';
import { markFailed, markPolled, markScheduled, recordMismatches } from '../../domain/installments';
import { isFinalInstallment, type InstallmentRecord, type TerminationRecord } from '../../domain/status';
import { applicationCause, describeFailure, failureDetails } from '../failureText';
import { createScheduleRecord, queryScheduleRecord, querySigning, terminateContract } from './activities';
import type { ActionKind, LifecycleCore } from './core';

/**
 * How lifecycles that began before patch `evidence-only-failures` behave, unchanged, so that their histories
 * replay (test/histories/*.json recorded before it): any failed call, a vanished or changed record and a missing
 * result end the contract. Remove with `deprecatePatch` once no such lifecycle runs.
 */

export const EVIDENCE_ONLY_PATCH = 'evidence-only-failures';
const STRICT_TERMINATION_CONFIRMATION = 'strict-termination-confirmation';
/** A create whose outcome is unknown or "duplicate" is reconciled by a query at most this many times. */
const MAX_RECONCILE_ROUNDS = 3;

export function legacyFailInstallment(core: LifecycleCore, record: InstallmentRecord, reason: string): void {
  markFailed(record, reason);
  core.requestStop({ kind: 'failure', evidence: 'LEGACY', reason: `installment ${record.outRecordId}: ${reason}` });
}

/** The background action's failure, as it was handled before: the installment (or the lifecycle) fails. */
export function legacyActionFailed(core: LifecycleCore, key: string, kind: ActionKind, error: unknown): void {
  const what =
    kind === 'signing' ? 'signing query' : kind === 'bill' ? `compensation bill ${key.slice(5)}` : `${kind} of ${key}`;
  const record = core.state.installments.find((r) => r.outRecordId === key);
  if (record && !isFinalInstallment(record)) {
    legacyFailInstallment(core, record, `${kind} failed: ${describeFailure(error)}`);
  } else {
    core.requestStop({ kind: 'failure', evidence: 'LEGACY', reason: `${what} failed: ${describeFailure(error)}` });
  }
}

export async function legacySchedule(core: LifecycleCore, record: InstallmentRecord, request: unknown): Promise<void> {
  if (record.repaymentDate <= shanghaiDateOf(Date.now())) {
    legacyFailInstallment(
      core,
      record,
      `repayment date ${record.repaymentDate} passed before the record could be scheduled`,
    );
    return;
  }
  for (let round = 1; ; round++) {
    let stored: ScheduledRecord | undefined;
    try {
      stored = await createScheduleRecord(request as Parameters<typeof createScheduleRecord>[0]);
    } catch (error) {
      if (!isUnknownCreateOutcome(error) || round >= MAX_RECONCILE_ROUNDS) throw error;
      const lookup = await queryScheduleRecord({ outRecordId: record.outRecordId, contractId: core.plan.contractId });
      if (!lookup.found) continue;
      stored = lookup.record;
    }
    if (isFinalInstallment(record)) return;
    const differences = recordMismatches(record, core.plan.contractId, stored);
    if (differences.length > 0) {
      legacyFailInstallment(core, record, `WeChat Pay holds the record with a different ${differences.join(', ')}`);
    } else {
      markScheduled(record, Date.now(), core.policy);
    }
    return;
  }
}

export async function legacyPoll(core: LifecycleCore, record: InstallmentRecord): Promise<void> {
  const lookup = await queryScheduleRecord({ outRecordId: record.outRecordId, contractId: core.plan.contractId });
  if (isFinalInstallment(record)) return;
  const now = Date.now();
  if (!lookup.found) {
    markPolled(record, now, 'MISSING', core.policy);
    legacyFailInstallment(core, record, 'scheduled record vanished at WeChat Pay (not found)');
    return;
  }
  const differences = recordMismatches(record, core.plan.contractId, lookup.record);
  if (differences.length > 0) {
    markPolled(record, now, 'MISMATCH', core.policy);
    legacyFailInstallment(core, record, `scheduled record changed at WeChat Pay: ${differences.join(', ')} differ`);
    return;
  }
  markPolled(record, now, 'MATCHES', core.policy);
}

/** Terminates once; a refusal counts as done only on evidence (patched) and is otherwise retried on a long timer. */
export async function legacyTerminate(
  core: LifecycleCore,
  remark: string,
  onError: (error: string | undefined) => void,
): Promise<TerminationRecord> {
  const { plan, policy } = core;
  const nowIso = () => new Date(Date.now()).toISOString();
  const strict = patched(STRICT_TERMINATION_CONFIRMATION);
  for (;;) {
    let refusal: string | undefined;
    try {
      await terminateContract({ outContractCode: plan.outContractCode, remark });
      onError(undefined);
      return { remark, at: nowIso(), alreadyTerminated: false };
    } catch (error) {
      onError(describeFailure(error));
      refusal = applicationCause(error)?.type ?? undefined;
      log.warn('contract termination refused', { error: describeFailure(error) });
    }
    const mayBeDone = !strict || refusal === 'INVALID_REQUEST' || NOT_FOUND_CODES.includes(refusal ?? '');
    if (mayBeDone) {
      try {
        const signing = await querySigning({ outContractCode: plan.outContractCode, appid: plan.appid });
        const confirmed = !strict
          ? !signing.found || signing.authState !== 'AUTHORIZED'
          : refusal === 'INVALID_REQUEST'
            ? signing.found && signing.authState !== 'AUTHORIZED'
            : !signing.found;
        if (confirmed) {
          onError(undefined);
          return { remark, at: nowIso(), alreadyTerminated: true };
        }
      } catch (error) {
        log.warn('signing query failed while reconciling termination', { error: describeFailure(error) });
      }
    }
    await sleep(policy.terminationRetryMinutes * 60_000);
  }
}

/** A create answered "duplicate", or whose answer could not be trusted: it may have been executed. */
function isUnknownCreateOutcome(error: unknown): boolean {
  const cause = applicationCause(error);
  if (!cause) return false;
  if (cause.type === RESPONSE_VERIFICATION_FAILED || cause.type === UNEXPECTED_ANSWER) return true;
  return failureDetails(error)?.issue === 'DUPLICATE' || (cause.type ?? '').includes('DUPLICATE');
}
