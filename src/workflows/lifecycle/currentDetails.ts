import { faultKey } from '../../domain/alerts';
import { dueAt } from '../../domain/installments';
import { isFinalInstallment, type InstallmentRecord, type LifecyclePhase, type StepFault } from '../../domain/status';
import type { LifecycleCore } from './core';
import { CONTRACT_KEY, SIGNING_KEY } from './signing';
import { TERMINATE_KEY } from './terminationSaga';

/**
 * What the Web UI shows as the lifecycle's current details (markdown): its phase, what it is doing now, what it
 * does next and when, and any alert. Also the one-line summary of the main loop's timer. Read-only over the state:
 * nothing here issues a command.
 */

export interface PlannedAction {
  at: number;
  what: string;
}

const UPCOMING_SHOWN = 3;
const SHANGHAI_OFFSET_MS = 8 * 3_600_000;

/** `2026-11-28 17:05:00 +08:00`: the time as the lender reads it (Asia/Shanghai). */
export function shanghaiTime(epochMs: number): string {
  // Metadata must never fail the workflow task: a time that is not one is shown as such.
  if (!Number.isFinite(epochMs)) return 'an unknown time';
  return `${new Date(epochMs + SHANGHAI_OFFSET_MS).toISOString().replace('T', ' ').slice(0, 19)} +08:00`;
}

/** Everything the lifecycle has planned, earliest first. */
export function plannedActions(core: LifecycleCore): PlannedAction[] {
  const { state, plan } = core;
  const actions: PlannedAction[] = [];
  const add = (at: string | number | undefined, what: string): void => {
    if (at !== undefined) actions.push({ at: typeof at === 'number' ? at : Date.parse(at), what });
  };
  const retrying = (key: string): string => (core.faults.get(key)?.retryAt ? 'retry: ' : '');
  if (state.stop) {
    add(core.faults.get(TERMINATE_KEY)?.retryAt, 'retry terminating the contract');
  } else if (!state.signed) {
    if (plan.signature.mode === 'poll' && !core.busy(SIGNING_KEY)) {
      add(state.nextSigningPollAt ?? Date.now(), `${retrying(SIGNING_KEY)}ask WeChat Pay whether the user signed`);
    }
    add(
      Date.parse(state.signingStartedAt) + core.policy.signingDeadlineHours * 3_600_000,
      'signing deadline: still unsigned then, the contract ends',
    );
  } else {
    for (const record of state.installments) {
      if (isFinalInstallment(record) || !record.nextActionAt || core.busy(record.outRecordId)) continue;
      add(record.nextActionAt, installmentAction(core, record));
    }
    const check = core.faults.get(CONTRACT_KEY)?.retryAt ?? state.nextContractCheckAt;
    if (!core.busy(CONTRACT_KEY)) add(check, `${retrying(CONTRACT_KEY)}check that the contract is still in force`);
  }
  const raiseAt = core.faults.nextRaiseAt();
  if (raiseAt !== undefined) add(raiseAt, 'raise an alert if a failing step is still failing');
  return actions.sort((a, b) => a.at - b.at);
}

/** The main loop's timer: what it waits for. */
export function timerSummary(core: LifecycleCore, wakeAt: number): string {
  const planned = plannedActions(core).find((action) => Math.abs(action.at - wakeAt) < 1000);
  return `Until ${shanghaiTime(wakeAt)}: ${planned?.what ?? 'the next step'}`;
}

export function currentDetails(core: LifecycleCore, phase: LifecyclePhase, final: boolean): string {
  const { state, policy } = core;
  const lines = [`- **Phase**: ${phase}${phaseNote(core, phase)}`];
  if (!final) {
    const now = runningNow(core);
    if (now.length > 0) lines.push(`- **Now**: ${now.join('; ')}`);
    const upcoming = plannedActions(core).slice(0, UPCOMING_SHOWN);
    lines.push(
      upcoming.length > 0
        ? `- **Next**: ${upcoming.map((a) => `${shanghaiTime(a.at)}: ${a.what}`).join('; then ')}`
        : '- **Next**: waiting for the lender (a result, a bill or a change of plan)',
    );
  }
  const counts = new Map<string, number>();
  for (const record of state.installments) counts.set(record.state, (counts.get(record.state) ?? 0) + 1);
  const unsettled = state.installments.filter((r) => !isFinalInstallment(r)).map((r) => r.repaymentDate);
  lines.push(
    `- **Installments**: ${[...counts].map(([name, n]) => `${n} ${name}`).join(', ')}` +
      (unsettled.length > 0 ? `; next repayment ${unsettled.reduce((a, b) => (a < b ? a : b))}` : ''),
  );
  const alerts = core.faults.alerts();
  lines.push(alerts.length > 0 ? `- **Alerts** (resolveAlert: retry, skip or terminate):` : '- **Alerts**: none');
  for (const fault of alerts) lines.push(`  - ${describeFault(fault)}`);
  for (const fault of core.faults.retrying()) lines.push(`- **Retrying**: ${describeFault(fault)}`);
  if (policy.demo) lines.push(`- **Time scale**: demo, polls every ${policy.demo.pollIntervalSeconds} s`);
  return lines.join('\n');
}

function installmentAction(core: LifecycleCore, record: InstallmentRecord): string {
  const id = record.outRecordId;
  switch (record.state) {
    case 'WAITING':
      return core.faults.get(faultKey('create', id))
        ? `retry creating the schedule record of ${id}`
        : `create the schedule record of ${id} (${record.repaymentDate}): its window opens`;
    case 'SCHEDULED':
    case 'POLLING':
      return Date.parse(record.nextActionAt!) >= dueAt(record.repaymentDate)
        ? `${id} falls due (${record.repaymentDate}): the lender's result is awaited`
        : `${core.faults.get(faultKey('poll', id)) ? 'retry polling' : 'poll'} the schedule record ${id}`;
    case 'DUE':
      return `no result for ${id} by then: alert`;
    default:
      return `${id}: ${record.state}`;
  }
}

function runningNow(core: LifecycleCore): string[] {
  const now: string[] = [];
  if (core.busy(SIGNING_KEY)) now.push('asking WeChat Pay whether the user signed');
  if (core.busy(CONTRACT_KEY)) now.push('checking that the contract is still in force');
  for (const record of core.state.installments) {
    if (!core.busy(record.outRecordId)) continue;
    now.push(`${record.state === 'WAITING' ? 'creating' : 'polling'} the schedule record ${record.outRecordId}`);
  }
  return now;
}

function phaseNote(core: LifecycleCore, phase: LifecyclePhase): string {
  const { state } = core;
  const stop = state.stop;
  if (stop && (phase === 'TERMINATING' || phase === 'TERMINATED' || phase === 'CANCELLED')) {
    return ` (${stop.evidence ? `${stop.evidence}: ` : ''}${stop.reason})`;
  }
  if (state.signed && state.signedTime) return ` (signed ${shanghaiTime(Date.parse(state.signedTime))})`;
  return '';
}

function describeFault(fault: StepFault): string {
  const kind = fault.kind === 'INFRASTRUCTURE' ? `${fault.kind}/${fault.errorClass}` : fault.kind;
  const retry = fault.retryAt ? `, next retry ${shanghaiTime(Date.parse(fault.retryAt))}` : '';
  return (
    `\`${fault.key}\` ${kind} since ${shanghaiTime(Date.parse(fault.since))} ` +
    `(${fault.failures} failure${fault.failures === 1 ? '' : 's'}${retry}): ${fault.lastError}`
  );
}
