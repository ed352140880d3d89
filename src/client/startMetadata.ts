import type { RepaymentPlan } from '../domain/plan';
import type { LifecyclePolicy } from '../domain/policy';
import { fenToYuan } from '../domain/money';

/**
 * What the Web UI shows of a lifecycle from its start (the workflow's static summary and details): the contract,
 * how many installments, how much in total and from when, in the list; the plan and its policy on the workflow's
 * page. Never the openid. Both are payloads, so with payload encryption on they reach the server encrypted and
 * the UI shows them through the codec server.
 */

/** Installments listed in the details; a longer plan ends with a line saying how many more. */
const LISTED_INSTALLMENTS = 24;

export interface StartMetadata {
  staticSummary: string;
  staticDetails: string;
}

export function lifecycleStartMetadata(plan: RepaymentPlan, policy: LifecyclePolicy): StartMetadata {
  const items = [...plan.installments].sort((a, b) => (a.repaymentDate < b.repaymentDate ? -1 : 1));
  const total = fenToYuan(items.reduce((sum, item) => sum + BigInt(item.repaymentAmount), 0n).toString());
  const count = `${items.length} installment${items.length === 1 ? '' : 's'}`;
  const first = items[0]!.repaymentDate;
  const last = items[items.length - 1]!.repaymentDate;
  const staticSummary =
    `${plan.outContractCode} · ${count} · ${total} CNY · first ${first}` + (policy.demo ? ' · demo time scale' : '');

  const polls = policy.demo
    ? `every ${policy.demo.pollIntervalSeconds} s (demo time scale)`
    : `every ${policy.pollIntervalHours} h`;
  const signing = {
    poll: `polled until signed, deadline ${policy.signingDeadlineHours} h`,
    signal: `confirmed by the lender's signal, deadline ${policy.signingDeadlineHours} h`,
    none: 'signed before the start',
  }[plan.signature.mode];
  const rows = items
    .slice(0, LISTED_INSTALLMENTS)
    .map(
      (item, i) =>
        `| ${i + 1} | ${item.outRecordId} | ${item.repaymentDate} | ${fenToYuan(item.repaymentAmount)} | ` +
        `${fenToYuan(item.minRepaymentAmount)} |`,
    );
  if (items.length > LISTED_INSTALLMENTS) rows.push(`| … | ${items.length - LISTED_INSTALLMENTS} more | | | |`);
  const staticDetails = [
    `**Contract** ${plan.outContractCode} (WeChat Pay contract ${plan.contractId}, appid ${plan.appid})`,
    '',
    `**Plan** ${count}, ${total} CNY, ${first}${last === first ? '' : ` to ${last}`} (Asia/Shanghai)`,
    '',
    `**Signature** ${signing}`,
    '',
    `**Policy** each record created ${policy.scheduleLeadDays} days before its date, polled ${polls}; ` +
      `a failed repayment: ${policy.onRepaymentFailed}; alerts after ${policy.alertThresholdMinutes} min of failures`,
    '',
    '| # | record | date | amount (CNY) | min (CNY) |',
    '|---|---|---|---|---|',
    ...rows,
  ].join('\n');
  return { staticSummary, staticDetails };
}
