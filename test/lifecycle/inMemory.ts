import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import type { MainQueueActivities } from '../../src/activities';
import { addDays } from '../../src/domain/calendar';
import type { PartialLifecyclePolicy } from '../../src/domain/policy';
import { lenderEventsOff } from '../../src/worker';
import type { LifecycleInput } from '../../src/workflows/definitions';

/** The pieces of the workflow tests that run with in-memory activities on the time-skipping server. */

/** A worker of the lifecycle workflow with the given activities (lender events off). */
export async function inMemoryWorker(
  env: TestWorkflowEnvironment,
  taskQueue: string,
  activities: MainQueueActivities,
): Promise<Worker> {
  return Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await bundleWorkflowCode({ workflowsPath: require.resolve('../../src/workflows') }),
    activities: { ...activities, lenderEventsSettings: lenderEventsOff },
  });
}

/** The input of a lifecycle of one small installment `inDays` after `today`, already signed. */
export function oneInstallmentInput(
  code: string,
  today: string,
  inDays: number,
  policy: PartialLifecyclePolicy,
  compensationTaskQueue?: string,
): LifecycleInput {
  return {
    plan: {
      outContractCode: code,
      contractId: `WXC${code}`,
      appid: 'wxapp',
      openid: 'oSecretOpenid',
      signature: { mode: 'none' },
      installments: [{ repaymentAmount: '100', minRepaymentAmount: '5', repaymentDate: addDays(today, inDays) }],
    },
    policy,
    ...(compensationTaskQueue === undefined ? {} : { compensationTaskQueue }),
  };
}
