import { ConfigError } from '../config/load';
import { fenToYuan } from '../domain/money';
import { PlanValidationError } from '../domain/plan';
import type { LifecycleStatus } from '../domain/status';
import type { LifecycleSummary, StartResult } from './lenderClient';

/** The CLI's human-readable output: plain-text tables, amounts in yuan (from integer fen, never via floats). */

/** Left-aligned columns separated by two spaces, a header and a rule; '-' for empty cells. */
export function renderTable(
  headers: readonly string[],
  rows: ReadonlyArray<ReadonlyArray<string | undefined>>,
): string {
  const cells = rows.map((row) => headers.map((_, i) => row[i] || '-'));
  const widths = headers.map((header, i) => Math.max(header.length, ...cells.map((row) => row[i]!.length)));
  const line = (row: readonly string[]) =>
    row
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

export function formatStart(result: StartResult): string {
  return result.alreadyStarted
    ? `Lifecycle already running for this plan: ${result.workflowId} (run ${result.runId}); nothing new started.`
    : `Started lifecycle ${result.workflowId} (run ${result.runId}).`;
}

export function formatStatus(status: LifecycleStatus): string {
  const facts: Array<[string, string | undefined]> = [
    ['Contract', `${status.outContractCode} (WeChat Pay contract ${status.contractId})`],
    ['Phase', status.phase],
    ['Signed', status.signed ? 'yes' : 'no'],
    ['Next poll', status.nextPollAt],
    ['Failure', status.failureReason],
    ['Evidence', status.evidence],
    ['Cancelled because', status.cancelReason],
    [
      'Termination',
      status.termination &&
        `${status.termination.at}${status.termination.alreadyTerminated ? ' (already terminated)' : ''}: ${status.termination.remark}`,
    ],
    ['Termination error', status.terminationError],
    ['Continued as new', status.continuedAsNewCount > 0 ? String(status.continuedAsNewCount) : undefined],
  ];
  const shown = facts.filter(([, value]) => value !== undefined);
  const width = Math.max(...shown.map(([label]) => label.length));
  const parts = [
    shown.map(([label, value]) => `${`${label}:`.padEnd(width + 1)} ${value}`).join('\n'),
    '',
    renderTable(
      ['#', 'RECORD', 'DATE', 'AMOUNT (CNY)', 'MIN (CNY)', 'STATE', 'DETAIL'],
      status.installments.map((record, index) => [
        String(index + 1),
        record.outRecordId,
        record.repaymentDate,
        fenToYuan(record.repaymentAmount),
        fenToYuan(record.minRepaymentAmount),
        record.state,
        record.failureReason ??
          (record.result
            ? `${record.result.outcome}${record.result.amount ? ` ${fenToYuan(record.result.amount)}` : ''}`
            : record.lastPollResult && `last poll ${record.lastPollResult}`),
      ]),
    ),
  ];
  const faults = [...(status.alerts ?? []), ...(status.retrying ?? [])];
  if (faults.length > 0) {
    parts.push(
      '',
      renderTable(
        ['ALERT', 'KIND', 'SINCE', 'FAILURES', 'NEXT RETRY', 'LAST ERROR'],
        faults.map((fault) => [
          `${fault.key}${fault.raisedAt ? '' : ' (retrying)'}`,
          fault.kind === 'INFRASTRUCTURE' ? `${fault.kind}/${fault.errorClass}` : fault.kind,
          fault.since,
          String(fault.failures),
          fault.retryAt,
          fault.lastError,
        ]),
      ),
    );
  }
  if (status.compensationBills.length > 0) {
    parts.push(
      '',
      renderTable(
        ['COMPENSATION BILL', 'STATE', 'AMOUNT (CNY)', 'REPORTED', 'FINISHED'],
        status.compensationBills.map((bill) => [
          bill.outBillNo,
          bill.state,
          bill.amount && fenToYuan(bill.amount),
          bill.reportedAt,
          bill.finishedAt,
        ]),
      ),
    );
  }
  return parts.join('\n');
}

export function formatList(rows: readonly LifecycleSummary[]): string {
  if (rows.length === 0) return 'No lifecycles found.';
  return renderTable(
    ['CONTRACT', 'PHASE', 'ALERT', 'NEXT REPAYMENT', 'STATUS', 'WORKFLOW ID', 'STARTED'],
    rows.map((row) => [
      row.outContractCode,
      row.phase,
      row.alert,
      row.nextRepaymentDate,
      row.status,
      row.workflowId,
      row.startTime,
    ]),
  );
}

export interface Failure {
  /** 2 for invalid input (a plan, a signal's payload, a filter, the configuration), 1 for anything else. */
  exitCode: 1 | 2;
  text: string;
  json: { code: string; message: string; issues?: Array<{ path: string; rule: string }> };
}

/** How the CLI reports an error: its exit code, one readable line, and a JSON object for `--json`. */
export function describeFailure(error: unknown): Failure {
  if (error instanceof PlanValidationError) {
    return {
      exitCode: 2,
      text: `invalid input: ${error.message}`,
      json: { code: 'INVALID_INPUT', message: error.message, issues: error.issues },
    };
  }
  if (error instanceof ConfigError) {
    return {
      exitCode: 2,
      text: `invalid configuration: ${error.message}`,
      json: { code: 'INVALID_CONFIG', message: error.message, issues: [{ path: error.key, rule: error.rule }] },
    };
  }
  // The SDK wraps transport errors ("Failed to query Workflow"); the cause says what actually went wrong.
  const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
  const message = error instanceof Error ? `${error.message}${cause}` : String(error);
  const code = typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : 'FAILED';
  return { exitCode: 1, text: message, json: { code, message } };
}
