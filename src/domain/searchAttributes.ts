import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * The search attributes that make lifecycles findable in the Web UI and with `temporal workflow list`.
 * One definition, used by the workflow (upserts), the harness and `npm start` (registration) and the client (queries).
 * Personal data (openid) is never a search attribute.
 */
export const RepaymentPhase = defineSearchAttributeKey('RepaymentPhase', SearchAttributeType.KEYWORD);
export const OutContractCode = defineSearchAttributeKey('OutContractCode', SearchAttributeType.KEYWORD);
export const WechatContractId = defineSearchAttributeKey('WechatContractId', SearchAttributeType.KEYWORD);
export const NextRepaymentDate = defineSearchAttributeKey('NextRepaymentDate', SearchAttributeType.DATETIME);
/** `<step>:<error class or alert kind>` of the oldest alert (e.g. `poll:UNVERIFIED`); absent when none. */
export const RepaymentAlert = defineSearchAttributeKey('RepaymentAlert', SearchAttributeType.KEYWORD);

export const SEARCH_ATTRIBUTES = [
  RepaymentPhase,
  OutContractCode,
  WechatContractId,
  NextRepaymentDate,
  RepaymentAlert,
] as const;
