import { proxyActivities } from '@temporalio/workflow';
import type { MainQueueActivities, ScheduleRequest } from '../../src/activities';
import { SCHEDULE_OPTIONS } from '../../src/workflows/activityPolicies';

/**
 * The bench's yardstick: the least a workflow can do around one WeChat Pay call, the same signed and verified
 * create the lifecycle makes first, through the same activity and the same retry policy.
 */
const { createScheduleRecord } = proxyActivities<MainQueueActivities>(SCHEDULE_OPTIONS);

export async function benchOneCall(request: ScheduleRequest): Promise<string> {
  return (await createScheduleRecord(request)).outRecordId;
}
