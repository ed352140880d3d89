import { addDays } from '../domain/calendar';
import { workflowIdFor } from '../domain/plan';
import type { View } from './checkView';
import { RETRY_SETTLES_WITHIN_MS, Tally, type CheckContext, type CheckResult } from './checkTypes';
import type { LifecycleSpec } from './plans';

/** The checks of the lifecycles themselves: none lost, evidence ends each, the lender's messages handled right. */

export function lost(ctx: CheckContext, view: View): CheckResult {
  const tally = new Tally();
  let undecidedWindows = false;
  for (const spec of ctx.book) {
    const code = spec.plan.outContractCode;
    if (view.started(spec) === undefined) {
      tally.fail(`${code}: its start was never acknowledged (journal), so nothing can be checked of it`);
      continue;
    }
    tally.examined += 1;
    const workflow = view.workflow(spec);
    const run = workflow?.runs.at(-1);
    if (!workflow || !run) {
      tally.fail(`${code}: started, but Temporal does not know workflow ${workflowIdFor(code)}`);
      continue;
    }
    if (run.status !== 'RUNNING' && run.status !== 'COMPLETED') {
      tally.fail(`${code}: run ${run.runId} ended ${run.status} (a lifecycle must end COMPLETED)`);
      continue;
    }
    if (run.status === 'COMPLETED') continue;
    if (run.workflowTaskFailing)
      tally.fail(`${code}: its workflow task keeps failing (run ${run.runId}, ${run.events} events)`);
    const waiting = run.workflowTaskOpen || run.openTimers + run.openActivities + run.openChildStarts > 0;
    if (!waiting && !workflow.alert) {
      tally.fail(
        `${code}: running with no timer, no activity and no alert (run ${run.runId}, phase ${workflow.phase})`,
      );
      continue;
    }
    // Signed at WeChat Pay, window open, not settled: WeChat Pay must hold the record, or an alert must say why not.
    const contract = view.contract.get(code);
    if (contract?.state !== 'AUTHORIZED' || workflow.alert || !signedLongEnough(ctx, spec, contract.signed_time))
      continue;
    if (ctx.healthyMs < RETRY_SETTLES_WITHIN_MS) {
      if (!undecidedWindows) {
        undecidedWindows = true;
        tally.undecided.push(
          `whether every open window on a signed contract was scheduled: the stack was healthy only ` +
            `${Math.round(ctx.healthyMs / 1000)} s before the checks, less than the ${RETRY_SETTLES_WITHIN_MS / 1000} s ` +
            'a lifecycle may wait before retrying a step that failed during the faults',
        );
      }
      continue;
    }
    const held = new Set((view.records.get(spec.plan.contractId) ?? []).map((r) => r.repayment_date));
    const reported = new Set(
      ctx.journal
        .of(code)
        .filter((e) => e.action === 'result' && e.outcome === 'ok')
        .map((e) => e.detail),
    );
    for (const [i, item] of spec.plan.installments.entries()) {
      const open = item.repaymentDate <= addDays(view.today, ctx.scheduleLeadDays);
      if (!open || held.has(item.repaymentDate) || reported.size > 0) continue;
      tally.fail(
        `${code}: installment ${i} (${item.repaymentDate}) is in its window on a signed contract, but WeChat Pay holds no record and no alert is raised`,
      );
    }
  }
  return tally.result(
    'lost',
    'No lifecycle lost (every start found; running ones wait on a timer, an activity or an alert; open windows scheduled)',
  );
}

/** The lifecycle had time to learn of the signature (two signing polls) before the checks. */
function signedLongEnough(ctx: CheckContext, spec: LifecycleSpec, signedTime: string | undefined): boolean {
  if (spec.signing === 'at-once') return true;
  return signedTime !== undefined && Date.parse(signedTime) < ctx.evidence.collectedAt - 120_000;
}

/** Evidence must end a lifecycle: the user's termination, the lender's cancel or failed result, the signing deadline. */
export function evidenceEnds(ctx: CheckContext, view: View): CheckResult {
  const tally = new Tally();
  let asleep = 0;
  for (const spec of ctx.book) {
    const code = spec.plan.outContractCode;
    const started = view.started(spec);
    if (started === undefined) continue;
    const closed = view.state(spec) === 'COMPLETED';
    const reasons: string[] = [];
    for (const action of ['user-terminate', 'cancel', 'failed-result'] as const) {
      const done = ctx.journal.done(code, action);
      if (!done || done.at >= ctx.evidence.collectedAt - ctx.evidenceActsWithinMs) continue;
      // With no record at WeChat Pay the lifecycle sleeps until a window opens, and the refused create ends it then.
      if (action === 'user-terminate' && !view.records.has(spec.plan.contractId)) {
        if (!closed) asleep += 1;
        continue;
      }
      reasons.push(action);
    }
    const contract = view.contract.get(code);
    const deadline = started + ctx.signingDeadlineMs;
    if (
      spec.signing === 'never' &&
      deadline < ctx.evidence.collectedAt - ctx.evidenceActsWithinMs &&
      contract?.signed_time === undefined
    ) {
      reasons.push('signing deadline');
    }
    if (reasons.length === 0) continue;
    tally.examined += 1;
    if (!closed)
      tally.fail(
        `${view.describe(spec)}: ${reasons.join(' and ')} more than ${ctx.evidenceActsWithinMs / 1000} s before the checks, yet the lifecycle is ${view.phase(spec) ?? 'unknown'}`,
      );
  }
  if (asleep > 0) {
    tally.undecided.push(
      `${asleep} contract(s) terminated by the user while WeChat Pay held no record of them: their lifecycles sleep ` +
        'until a window opens (no contract checks without a scheduled record), beyond this run; not judged',
    );
  }
  return tally.result(
    'evidence-ends',
    'Evidence ends its lifecycle (user termination, lender cancel or failed result, signing deadline)',
  );
}

export function lenderMessages(ctx: CheckContext, view: View): CheckResult {
  const tally = new Tally();
  for (const spec of ctx.book) {
    const code = spec.plan.outContractCode;
    for (const entry of ctx.journal.of(code)) {
      if (entry.action === 'wrong-id-update' || entry.action === 'late-result') {
        tally.examined += 1;
        if (entry.outcome === 'ok')
          tally.fail(`${code}: ${entry.action} was accepted (it names no installment or comes after the end)`);
      }
    }
    if (spec.behaviour !== 'settle') continue;
    const results = ctx.journal.of(code).filter((e) => e.action === 'result');
    if (results.length === 0) continue;
    tally.examined += 1;
    const final = view.workflow(spec)?.runs.at(-1)?.result;
    const allAccepted = results.length === spec.plan.installments.length && results.every((e) => e.outcome === 'ok');
    if (allAccepted && final?.phase !== 'COMPLETED' && view.phase(spec) !== 'COMPLETED') {
      tally.fail(`${code}: every installment reported repaid, yet the lifecycle is ${view.phase(spec) ?? 'unknown'}`);
    }
    if (final && final.installments.some((i) => i.state !== 'SETTLED')) {
      tally.fail(`${code}: completed with an installment not SETTLED after duplicate or late results`);
    }
  }
  return tally.result(
    'lender-messages',
    'Lender results: a wrong outRecordId and a result after the end refused; duplicates change nothing; all repaid completes',
  );
}
