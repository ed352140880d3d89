import { proxyActivities } from '@temporalio/workflow';
import type { MainQueueActivities } from '../../activities';
import { QUERY_OPTIONS, SCHEDULE_OPTIONS, TERMINATE_OPTIONS } from '../activityPolicies';

/** The lifecycle's WeChat Pay activities (imported type-only: the workflow bundle holds no I/O code). */
export const { querySigning, queryScheduleRecord } = proxyActivities<MainQueueActivities>(QUERY_OPTIONS);
export const { createScheduleRecord } = proxyActivities<MainQueueActivities>(SCHEDULE_OPTIONS);
export const { terminateContract } = proxyActivities<MainQueueActivities>(TERMINATE_OPTIONS);
