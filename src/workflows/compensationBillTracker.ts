import {
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  proxyActivities,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { CompensationActivities } from '../activities';
import { classifyFailure, DEFAULT_EVIDENCE_CODES } from '../domain/failurePolicy';
import { COMPENSATION_OPTIONS } from './activityPolicies';
import {
  compensationBillFinishedSignal,
  type CompensationBillOutcome,
  type CompensationBillTrackerInput,
} from './definitions';
import { describeFailure } from './failureText';

const FINAL_STATES = new Set(['SUCCESS', 'CLOSED', 'CANCELLED']);
const MAX_EVENTS = 2000;
/** Infrastructure failures are retried (capped backoff) instead of ending the tracking as QUERY_FAILED. */
const RETRY_INFRASTRUCTURE_PATCH = 'bill-tracker-retries-infrastructure';
const MAX_RETRY_DELAY_MS = 30 * 60_000;

/**
 * Child of a lifecycle: polls a compensation bill (seed 003) until a final state, then signals the lifecycle by
 * workflow id (not run id), so the answer reaches it even after it continued-as-new. Started with
 * ParentClosePolicy.ABANDON; if the lifecycle has closed meanwhile, the signal fails and the outcome is only returned.
 */
export async function compensationBillTracker(input: CompensationBillTrackerInput): Promise<CompensationBillOutcome> {
  const { queryCompensationBill } = proxyActivities<CompensationActivities>({
    ...COMPENSATION_OPTIONS,
    taskQueue: input.activityTaskQueue,
  });
  const startedAt = input.startedAt ?? new Date(Date.now()).toISOString();
  const retryInfrastructure = patched(RETRY_INFRASTRUCTURE_PATCH);
  let outcome: CompensationBillOutcome | undefined;
  let failures = 0;
  while (!outcome) {
    const at = new Date(Date.now()).toISOString();
    let delayMs = input.pollIntervalSeconds * 1000;
    try {
      const bill = await queryCompensationBill({ outBillNo: input.outBillNo });
      if (bill.found && FINAL_STATES.has(bill.state)) {
        outcome = {
          outBillNo: input.outBillNo,
          state: bill.state as CompensationBillOutcome['state'],
          amount: bill.amount,
          ...(bill.closeReason ? { closeReason: bill.closeReason } : {}),
          at,
        };
      } else if (!bill.found && Date.now() - Date.parse(startedAt) >= input.notFoundHours * 3_600_000) {
        outcome = { outBillNo: input.outBillNo, state: 'NOT_FOUND', at };
      }
      failures = 0;
    } catch (error) {
      if (isCancellation(error)) throw error;
      const failure = classifyFailure(error, DEFAULT_EVIDENCE_CODES);
      if (retryInfrastructure && failure?.class !== 'evidence') {
        // WeChat Pay (or the network) is failing, not the bill: keep tracking, slower each time.
        failures += 1;
        delayMs = Math.min(MAX_RETRY_DELAY_MS, delayMs * 2 ** Math.min(failures, 10));
        log.warn('compensation bill query failed; retrying', {
          outBillNo: input.outBillNo,
          error: describeFailure(error),
        });
      } else {
        outcome = { outBillNo: input.outBillNo, state: 'QUERY_FAILED', error: describeFailure(error), at };
      }
    }
    if (outcome) break;
    if (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength >= MAX_EVENTS) {
      return continueAsNew<typeof compensationBillTracker>({ ...input, startedAt });
    }
    await sleep(delayMs);
  }
  try {
    await getExternalWorkflowHandle(input.parentWorkflowId).signal(compensationBillFinishedSignal, outcome);
  } catch (error) {
    log.info('lifecycle already closed; compensation outcome not delivered', { error: describeFailure(error) });
  }
  return outcome;
}
