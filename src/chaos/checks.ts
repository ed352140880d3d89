import { View } from './checkView';
import { lenderMessages, evidenceEnds, lost } from './lifecycleChecks';
import { duplicated, secrets, terminateAfterSuccess, trustedUnverified, wronglyTerminated } from './wechatpayChecks';
import type { CheckContext, CheckResult } from './checkTypes';

export type { CheckContext, CheckResult } from './checkTypes';
export { RETRY_SETTLES_WITHIN_MS } from './checkTypes';

/**
 * The independent checker. It judges each lifecycle from what the lender and the user did (the journal), what WeChat
 * Pay saw (the sandbox's contracts, records and request log) and what Temporal holds (visibility, histories, final
 * results), and never from the workflow's own reasoning: it imports none of the lifecycle's decision code. Each check
 * counts its violations and keeps the first examples.
 */
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
