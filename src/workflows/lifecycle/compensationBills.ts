import { CancellationScope, ParentClosePolicy, startChild, workflowInfo } from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { DEFAULT_COMPENSATION_TASK_QUEUE } from '../activityPolicies';
import { compensationBillTracker } from '../compensationBillTracker';
import type { LifecycleCore } from './core';

/**
 * Compensation bills the lender reported: each is tracked to its final state by a child workflow
 * (`<lifecycle id>-bill-<out_bill_no>`), started with ParentClosePolicy.ABANDON so that it outlives this run
 * (continue-as-new) and even a terminated lifecycle; it reports back by signal.
 */
export function startBillTrackers(core: LifecycleCore, compensationTaskQueue: string | undefined): void {
  for (const bill of core.state.compensationBills) {
    const key = `bill:${bill.outBillNo}`;
    if (bill.state !== 'REPORTED' || core.busy(key)) continue;
    core.launch(key, 'bill', async () => {
      // Not cancellable: the tracker outlives this run and even a terminated lifecycle.
      await CancellationScope.nonCancellable(async () => {
        try {
          await startChild(compensationBillTracker, {
            workflowId: `${workflowInfo().workflowId}-bill-${bill.outBillNo}`,
            parentClosePolicy: ParentClosePolicy.ABANDON,
            args: [
              {
                outBillNo: bill.outBillNo,
                parentWorkflowId: workflowInfo().workflowId,
                activityTaskQueue: compensationTaskQueue ?? DEFAULT_COMPENSATION_TASK_QUEUE,
                pollIntervalSeconds: core.policy.compensationPollIntervalSeconds,
                notFoundHours: core.policy.compensationNotFoundHours,
              },
            ],
          });
        } catch (error) {
          if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
        }
      });
      if (bill.state === 'REPORTED') bill.state = 'TRACKING';
    });
  }
}
