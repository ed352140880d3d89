import { setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import { shanghaiMidnight } from '../../domain/calendar';
import { NextRepaymentDate, RepaymentAlert, RepaymentPhase } from '../../domain/searchAttributes';
import { FINAL_PHASES, isFinalInstallment, type LifecyclePhase, type LifecycleStatus } from '../../domain/status';
import type { LifecycleCore } from './core';
import { currentDetails, timerSummary } from './currentDetails';

/**
 * What operators and the lender see: the search attributes (RepaymentPhase, NextRepaymentDate, RepaymentAlert),
 * upserted only on change, the Web UI's current details and timer summaries (metadata, no commands), and the
 * `status` query's answer.
 */
export class Visibility {
  private published: { phase?: string; next?: number | null; alert?: string | null } = {};

  constructor(
    private readonly core: LifecycleCore,
    private readonly phase: () => LifecyclePhase,
    private readonly terminationError: () => string | undefined,
  ) {}

  publish(): void {
    const { core } = this;
    const phase = this.phase();
    setCurrentDetails(currentDetails(core, phase, FINAL_PHASES.includes(phase)));
    const unsettled = core.state.installments.filter((r) => !isFinalInstallment(r)).map((r) => r.repaymentDate);
    const next = unsettled.length > 0 ? shanghaiMidnight(unsettled.reduce((a, b) => (a < b ? a : b))) : null;
    const updates = [];
    if (phase !== this.published.phase) updates.push({ key: RepaymentPhase, value: phase });
    if (next !== this.published.next) {
      updates.push({ key: NextRepaymentDate, value: next === null ? null : new Date(next) });
    }
    const alert = core.legacy ? (this.published.alert ?? null) : core.faults.label();
    if (alert !== (this.published.alert ?? null)) updates.push({ key: RepaymentAlert, value: alert });
    if (updates.length === 0) return;
    upsertSearchAttributes(updates);
    this.published = { phase, next, alert };
  }

  /** The one-line summary of the main loop's timer that wakes it at `wakeAt`. */
  timerSummary(wakeAt: number): string {
    return timerSummary(this.core, wakeAt);
  }

  status(final: boolean): LifecycleStatus {
    const { core } = this;
    const { state } = core;
    const stop = state.stop;
    const nextPollAt = final || stop ? undefined : this.nextPollAt();
    const error = this.terminationError();
    return {
      phase: this.phase(),
      outContractCode: core.plan.outContractCode,
      contractId: core.plan.contractId,
      signed: state.signed,
      installments: state.installments,
      ...(nextPollAt ? { nextPollAt } : {}),
      ...(stop?.kind === 'failure' ? { failureReason: stop.reason } : {}),
      ...(stop?.kind === 'cancel' ? { cancelReason: stop.reason } : {}),
      ...(stop?.evidence ? { evidence: stop.evidence } : {}),
      ...(state.termination ? { termination: state.termination } : {}),
      ...(error ? { terminationError: error } : {}),
      compensationBills: state.compensationBills,
      continuedAsNewCount: state.continuedAsNewCount,
      alerts: core.faults.alerts(),
      retrying: core.faults.retrying(),
      rejectedResults: state.rejectedResults ?? 0,
    };
  }

  private nextPollAt(): string | undefined {
    const { state, plan } = this.core;
    if (!state.signed) {
      return plan.signature.mode === 'poll'
        ? (state.nextSigningPollAt ?? new Date(Date.now()).toISOString())
        : undefined;
    }
    const polls = state.installments
      .filter((r) => (r.state === 'SCHEDULED' || r.state === 'POLLING') && r.nextActionAt)
      .map((r) => r.nextActionAt as string);
    return polls.length > 0 ? polls.reduce((a, b) => (a < b ? a : b)) : undefined;
  }
}
