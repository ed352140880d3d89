import { fenToYuan } from '../domain/money';
import type { InstallmentRecord, LifecycleStatus } from '../domain/status';

/** What changed between two `status` answers of the demo's lifecycle, as lines a person reads. */
export function progressLines(before: LifecycleStatus | undefined, after: LifecycleStatus): string[] {
  const lines: string[] = [];
  if (before?.phase !== after.phase) lines.push(`phase ${after.phase}`);
  if (!before?.signed && after.signed) {
    lines.push('signing check: WeChat Pay (the sandbox) answers that the user signed the contract');
  }
  const earlier = new Map((before?.installments ?? []).map((record) => [record.outRecordId, record]));
  for (const record of after.installments) lines.push(...installmentLines(earlier.get(record.outRecordId), record));
  const known = new Set((before?.alerts ?? []).map((fault) => fault.key));
  for (const fault of after.alerts ?? []) {
    if (!known.has(fault.key)) lines.push(`alert ${fault.key} (${fault.kind}): ${fault.lastError}`);
  }
  return lines;
}

function installmentLines(before: InstallmentRecord | undefined, after: InstallmentRecord): string[] {
  const id = after.outRecordId;
  const lines: string[] = [];
  if (after.scheduledAt && !before?.scheduledAt) {
    lines.push(
      `create: schedule record ${id} created at WeChat Pay, ${fenToYuan(after.repaymentAmount)} CNY on ` +
        `${after.repaymentDate}`,
    );
  }
  if (after.pollCount > (before?.pollCount ?? 0)) {
    const found = after.lastPollResult === 'MATCHES' ? 'WeChat Pay holds it as scheduled' : after.lastPollResult;
    lines.push(`poll ${after.pollCount} of ${id}: ${found}; next poll ${after.nextActionAt ?? '-'}`);
  }
  if (before && before.state !== after.state && !['SCHEDULED', 'POLLING'].includes(after.state)) {
    const detail = after.result ? ` (${after.result.outcome})` : after.failureReason ? `: ${after.failureReason}` : '';
    lines.push(`installment ${id}: ${after.state}${detail}`);
  }
  return lines;
}
