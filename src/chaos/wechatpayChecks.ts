import type { RequestLogEntry } from '../sandbox/requestLog';
import type { View } from './checkView';
import { executedOk, processed, Tally, type CheckContext, type CheckResult } from './checkTypes';
import type { LifecycleSpec } from './plans';

/**
 * The checks of what WeChat Pay saw: records created once and as planned, terminations on evidence only, terminate
 * sent once, no unverifiable answer acted on, and nothing secret in a log line or a history.
 */

export function duplicated(ctx: CheckContext, view: View): CheckResult {
  const tally = new Tally();
  const planned = new Map(ctx.book.map((spec) => [spec.plan.contractId, spec] as const));
  for (const [contractId, records] of view.records) {
    const spec = planned.get(contractId);
    const byDate = new Map<string, number>();
    for (const record of records) {
      tally.examined += 1;
      byDate.set(record.repayment_date, (byDate.get(record.repayment_date) ?? 0) + 1);
      const item = spec?.plan.installments.find((i) => i.repaymentDate === record.repayment_date);
      if (!spec || !item) {
        tally.fail(
          `record ${record.out_record_id} of ${contractId}: no planned installment on ${record.repayment_date}`,
        );
        continue;
      }
      const wrong = [
        record.repayment_amount !== item.repaymentAmount &&
          `repayment_amount ${record.repayment_amount} ≠ ${item.repaymentAmount}`,
        record.min_repayment_amount !== item.minRepaymentAmount &&
          `min_repayment_amount ${record.min_repayment_amount} ≠ ${item.minRepaymentAmount}`,
        item.outRecordId !== undefined &&
          record.out_record_id !== item.outRecordId &&
          `out_record_id ≠ ${item.outRecordId}`,
      ].filter(Boolean);
      if (wrong.length > 0)
        tally.fail(`record ${record.out_record_id} of ${spec.plan.outContractCode}: ${wrong.join(', ')}`);
    }
    for (const [date, count] of byDate) {
      if (count > 1)
        tally.fail(`${spec?.plan.outContractCode ?? contractId}: ${count} records for the installment of ${date}`);
    }
  }
  // Executed creates per out_record_id (a record deleted and created again would show here too).
  const executed = new Map<string, number>();
  for (const entries of view.creates.values()) {
    for (const entry of entries.filter(executedOk)) {
      const items = (entry.body as { schedule_items?: Array<{ out_record_id?: string }> }).schedule_items ?? [];
      for (const item of items)
        if (item.out_record_id) executed.set(item.out_record_id, (executed.get(item.out_record_id) ?? 0) + 1);
    }
  }
  for (const [id, count] of executed) if (count > 1) tally.fail(`record ${id}: created ${count} times (request log)`);
  return tally.result(
    'duplicated',
    'No schedule record created twice for an installment, none with other amounts or dates than planned',
  );
}

/** Why the checker holds a termination justified, from the journal and the sandbox only; undefined: no evidence. */
function justification(ctx: CheckContext, view: View, spec: LifecycleSpec, terminatedAt: number): string | undefined {
  const code = spec.plan.outContractCode;
  const did = (action: string): boolean =>
    ctx.journal.of(code).some((e) => e.action === action && e.outcome === 'ok' && e.at <= terminatedAt);
  if (did('cancel')) return 'LENDER_CANCELLED';
  if (did('failed-result')) return 'REPAYMENT_FAILED';
  if (did('user-terminate') || view.contract.get(code)?.termination_mode === 'BY_USER') return 'USER_TERMINATED';
  const started = view.started(spec);
  const signedTime = view.contract.get(code)?.signed_time;
  if (started !== undefined && terminatedAt >= started + ctx.signingDeadlineMs) {
    const deadline = started + ctx.signingDeadlineMs;
    if (spec.plan.signature.mode !== 'none' && (signedTime === undefined || Date.parse(signedTime) > deadline))
      return 'NOT_SIGNED';
  }
  const refused = (view.creates.get(spec.plan.contractId) ?? []).find(
    (e) =>
      e.status >= 400 &&
      e.status < 500 &&
      e.status !== 401 &&
      e.status !== 429 &&
      !e.fault &&
      Date.parse(e.at) <= terminatedAt,
  );
  if (refused) return 'SCHEDULE_REFUSED';
  return undefined;
}

export function wronglyTerminated(ctx: CheckContext, view: View): CheckResult {
  const tally = new Tally();
  for (const spec of ctx.book) {
    const code = spec.plan.outContractCode;
    const workflow = view.workflow(spec);
    const run = workflow?.runs.at(-1);
    const merchantAt = view.merchantTerminatedAt(spec);
    const stopped = ['TERMINATED', 'CANCELLED', 'TERMINATING'].includes(view.phase(spec) ?? '');
    if (merchantAt === undefined && !stopped) continue;
    tally.examined += 1;
    const at = merchantAt ?? run?.closeTime ?? ctx.evidence.collectedAt;
    const why = justification(ctx, view, spec, at);
    if (!why) {
      const claimed = workflow?.status?.evidence ?? workflow?.runs.at(-1)?.result?.evidence ?? 'none';
      tally.fail(
        `${code}: ${merchantAt !== undefined ? 'terminated at WeChat Pay' : `lifecycle ${view.phase(spec)}`} without evidence ` +
          `(the workflow claims ${claimed}; journal: ${ctx.journal
            .of(code)
            .map((e) => `${e.action}/${e.outcome}`)
            .join(', ')})`,
      );
    }
  }
  return tally.result(
    'wrongly-terminated',
    'No contract terminated without evidence (business refusal, signing timeout, lender failure or cancel, user termination)',
  );
}

export function terminateAfterSuccess(ctx: CheckContext, view: View): CheckResult {
  const tally = new Tally();
  const refusedResends: string[] = [];
  for (const spec of ctx.book) {
    const code = spec.plan.outContractCode;
    const requests = (view.terminates.get(code) ?? []).filter(processed);
    if (requests.length === 0) continue;
    tally.examined += 1;
    const who = view.describe(spec);
    // Without a verified AUTHORIZED the signing query cannot tell a terminated contract from one never signed:
    // after a terminate whose answer was lost, the worker must send it again, and WeChat Pay refuses it harmlessly.
    const unconfirmable = (resent: RequestLogEntry[]) =>
      !view.sawAuthorized(spec) && resent.every((e) => e.status >= 400);
    const first = requests.findIndex(executedOk);
    if (first >= 0 && first < requests.length - 1) {
      const success = requests[first]!;
      const after = requests.slice(first + 1);
      if (unconfirmable(after)) {
        refusedResends.push(`${who}: ${after.length} refused resend(s) after seq ${success.seq}`);
        continue;
      }
      tally.fail(
        `${who}: ${after.length} terminate request(s) after the one that went through ` +
          `(seq ${success.seq}${success.fault ? `, answer ${success.fault}` : ''}): ` +
          after.map((e) => `seq ${e.seq} → ${e.status}`).join(', '),
      );
      continue;
    }
    const byUser = ctx.journal.done(code, 'user-terminate');
    const afterUser = byUser ? requests.filter((e) => Date.parse(e.at) >= byUser.at) : [];
    if (afterUser.length <= 1) continue;
    if (unconfirmable(afterUser)) {
      refusedResends.push(`${who}: terminated by the user, then ${afterUser.length} refused terminate requests`);
    } else {
      tally.fail(`${who}: terminated by the user, then ${afterUser.length} terminate requests (one or none expected)`);
    }
  }
  if (refusedResends.length > 0) {
    tally.undecided.push(
      `${refusedResends.length} contract(s) never answered AUTHORIZED had a terminate sent again after an answer ` +
        `was lost, each refused by WeChat Pay (allowed: nothing can confirm the first), e.g. ${refusedResends[0]}`,
    );
  }
  return tally.result(
    'terminate-once',
    'No terminate request processed after one went through; at most one after a user termination',
  );
}

export function trustedUnverified(ctx: CheckContext, view: View): CheckResult {
  const tally = new Tally();
  const forgedSent = ctx.evidence.requests.filter((e) => e.fault === 'forged').length;
  tally.examined = forgedSent;
  for (const spec of ctx.book) {
    const code = spec.plan.outContractCode;
    const workflow = view.workflow(spec);
    if (!workflow) continue;
    for (const run of workflow.runs) {
      for (const text of run.forgedResults)
        tally.fail(`${code}: an activity returned a forged answer's value: ${text.slice(0, 200)}`);
    }
    // The driver never changes or deletes a record: only an answer that lied can make one look changed or gone.
    const lies = workflow.runs
      .flatMap((r) => r.alertUpserts)
      .filter((u) => /RECORD_MISMATCH|RECORD_MISSING/.test(u.value ?? ''));
    if (lies.length > 0) tally.fail(`${code}: alert ${lies[0]!.value} although WeChat Pay's record never changed`);
    const claimed = workflow.status?.evidence ?? workflow.runs.at(-1)?.result?.evidence;
    if (claimed === 'USER_TERMINATED' && !ctx.journal.done(code, 'user-terminate')) {
      tally.fail(`${code}: stopped as terminated by the user, which the user never did`);
    }
    const notSigned = (view.creates.get(spec.plan.contractId) ?? []).find((e) =>
      (e.invented ?? []).some((l) => l.includes('CONTRACT_NOT_AUTHORIZED')),
    );
    if (notSigned && !ctx.journal.done(code, 'user-terminate')) {
      tally.fail(
        `${code}: scheduled on a contract that was not signed (request seq ${notSigned.seq}): it believed an unverified "signed"`,
      );
    }
  }
  if (forgedSent === 0)
    tally.undecided.push('no forged answer was sent during the run, so this check saw no lie to resist');
  return tally.result(
    'trusted-unverified',
    'No WeChat Pay answer trusted that failed verification (forged answers left no trace)',
  );
}

export function secrets(ctx: CheckContext): CheckResult {
  const tally = new Tally();
  tally.examined = ctx.logs.lines;
  for (const finding of ctx.logs.findings)
    tally.fail(`${finding.kind} in ${finding.file}:${finding.line}: ${finding.excerpt}`);
  tally.violations = Object.values(ctx.logs.counts).reduce((a, b) => a + b, 0);
  for (const workflow of ctx.evidence.workflows.values()) {
    for (const run of workflow.runs) {
      tally.examined += 1;
      if (run.plaintextPayloads > 0) {
        tally.fail(`${workflow.workflowId} run ${run.runId}: ${run.plaintextPayloads} payload(s) not encrypted`);
      }
      if (run.plaintextHits.length > 0)
        tally.fail(`${workflow.workflowId} run ${run.runId}: an openid in clear in its history`);
    }
  }
  return tally.result(
    'secrets',
    'No private key, Authorization header or openid in any log line; every history payload encrypted, no openid in clear',
  );
}
