import { addDays, shanghaiDateOf } from '../domain/calendar';
import { workflowIdFor } from '../domain/plan';
import { refusesExecution } from '../sandbox/faults';
import type { RequestLogEntry } from '../sandbox/requestLog';
import type { Evidence, WorkflowFacts } from './collect';
import type { Journal } from './journal';
import type { LifecycleSpec } from './plans';
import type { LogScan } from './secrets';

/**
 * The independent checker. It judges each lifecycle from what the lender and the user did (the journal), what WeChat
 * Pay saw (the sandbox's contracts, records and request log) and what Temporal holds (visibility, histories, final
 * results), and never from the workflow's own reasoning: it imports none of the lifecycle's decision code. Each check
 * counts its violations and keeps the first examples.
 */

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

class Tally {
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

export function runChecks(ctx: CheckContext): CheckResult[] {
  const view = new View(ctx);
  return [
    lost(ctx, view),
    duplicated(ctx, view),
    wronglyTerminated(ctx, view),
    terminateAfterSuccess(ctx, view),
    trustedUnverified(ctx, view),
    evidenceEnds(ctx, view),
    lenderMessages(ctx, view),
    secrets(ctx),
  ];
}

/** Indexes over the evidence, by contract. */
class View {
  readonly contract = new Map<string, Evidence['contracts'][number]>();
  readonly records = new Map<string, Evidence['records']>();
  readonly creates = new Map<string, RequestLogEntry[]>();
  readonly terminates = new Map<string, RequestLogEntry[]>();
  /** Signing queries by out_contract_code (from the path). */
  readonly queries = new Map<string, RequestLogEntry[]>();
  readonly today: string;

  constructor(private readonly ctx: CheckContext) {
    for (const c of ctx.evidence.contracts) this.contract.set(c.out_contract_code, c);
    for (const r of ctx.evidence.records) push(this.records, r.contract_id, r);
    for (const entry of ctx.evidence.requests) {
      const body = (entry.body ?? {}) as { contract_id?: string; out_contract_code?: string };
      if (entry.endpoint === 'schedule-create' && body.contract_id) push(this.creates, body.contract_id, entry);
      if (entry.endpoint === 'terminate' && body.out_contract_code)
        push(this.terminates, body.out_contract_code, entry);
    }
    this.today = shanghaiDateOf(ctx.evidence.collectedAt);
  }

  workflow(spec: LifecycleSpec): WorkflowFacts | undefined {
    return this.ctx.evidence.workflows.get(workflowIdFor(spec.plan.outContractCode));
  }

  started(spec: LifecycleSpec): number | undefined {
    return this.ctx.journal.done(spec.plan.outContractCode, 'start')?.at;
  }

  /** Temporal's status of the lifecycle's current run. */
  state(spec: LifecycleSpec): string | undefined {
    return this.workflow(spec)?.runs.at(-1)?.status;
  }

  /** The lifecycle's phase at the end: the final result's, or the status query's while it runs. */
  phase(spec: LifecycleSpec): string | undefined {
    return this.workflow(spec)?.phase;
  }

  /**
   * Whether WeChat Pay ever gave the lifecycle a verified "AUTHORIZED": a signing query answered 200 (no fault that
   * spoils the answer) while the sandbox held the contract signed. A lifecycle that never had one cannot know.
   */
  sawAuthorized(spec: LifecycleSpec): boolean {
    const code = spec.plan.outContractCode;
    const from =
      spec.signing === 'at-once'
        ? this.ctx.journal.done(code, 'contract')?.at
        : this.ctx.journal.done(code, 'authorize')?.at;
    if (from === undefined) return false;
    const until = Math.min(
      this.ctx.journal.done(code, 'user-terminate')?.at ?? Number.POSITIVE_INFINITY,
      this.merchantTerminatedAt(spec) ?? Number.POSITIVE_INFINITY,
    );
    return (this.queries.get(code) ?? []).some((e) => {
      const at = Date.parse(e.at);
      return e.status === 200 && !e.fault && at >= from && at < until;
    });
  }

  /** `CODE (signing …, mode …, saw|never answered AUTHORIZED)`: what an example needs to be understood. */
  describe(spec: LifecycleSpec): string {
    const seen = this.sawAuthorized(spec) ? 'saw AUTHORIZED' : 'never answered AUTHORIZED';
    return `${spec.plan.outContractCode} (signing ${spec.signing}, mode ${spec.plan.signature.mode}, ${seen})`;
  }

  /** When the contract was first terminated by the merchant (the first executed terminate request). */
  merchantTerminatedAt(spec: LifecycleSpec): number | undefined {
    const first = (this.terminates.get(spec.plan.outContractCode) ?? []).find(executedOk);
    return first ? Date.parse(first.at) : undefined;
  }
}

function lost(ctx: CheckContext, view: View): CheckResult {
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
    const waiting = run.openTimers + run.openActivities + run.openChildStarts > 0;
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

function duplicated(ctx: CheckContext, view: View): CheckResult {
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

function wronglyTerminated(ctx: CheckContext, view: View): CheckResult {
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

/**
 * Terminate requests WeChat Pay processed: those refused before reaching the contract (401 authentication, 429, 5xx,
 * an injected fault that does not execute) are retries the worker must make, not terminations.
 */
function processed(entry: RequestLogEntry): boolean {
  if (entry.status === 401 || entry.status === 429 || entry.status >= 500) return false;
  return !entry.fault || !refusesExecution(entry.fault);
}

function terminateAfterSuccess(ctx: CheckContext, view: View): CheckResult {
  const tally = new Tally();
  for (const spec of ctx.book) {
    const code = spec.plan.outContractCode;
    const requests = (view.terminates.get(code) ?? []).filter(processed);
    if (requests.length === 0) continue;
    tally.examined += 1;
    const who = view.describe(spec);
    const first = requests.findIndex(executedOk);
    if (first >= 0 && first < requests.length - 1) {
      const success = requests[first]!;
      const after = requests.slice(first + 1);
      tally.fail(
        `${who}: ${after.length} terminate request(s) after the one that went through ` +
          `(seq ${success.seq}${success.fault ? `, answer ${success.fault}` : ''}): ` +
          after.map((e) => `seq ${e.seq} → ${e.status}`).join(', '),
      );
      continue;
    }
    const byUser = ctx.journal.done(code, 'user-terminate');
    const afterUser = byUser ? requests.filter((e) => Date.parse(e.at) >= byUser.at) : [];
    if (afterUser.length > 1) {
      tally.fail(`${who}: terminated by the user, then ${afterUser.length} terminate requests (one or none expected)`);
    }
  }
  return tally.result(
    'terminate-once',
    'No terminate request processed after one went through; at most one after a user termination',
  );
}

function trustedUnverified(ctx: CheckContext, view: View): CheckResult {
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

/** Evidence must end a lifecycle: the user's termination, the lender's cancel or failed result, the signing deadline. */
function evidenceEnds(ctx: CheckContext, view: View): CheckResult {
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

function lenderMessages(ctx: CheckContext, view: View): CheckResult {
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

function secrets(ctx: CheckContext): CheckResult {
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

function executedOk(entry: RequestLogEntry): boolean {
  return entry.status >= 200 && entry.status < 300 && (!entry.fault || !refusesExecution(entry.fault));
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
