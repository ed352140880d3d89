import { proxyActivities } from '@temporalio/workflow';
import type { MainQueueActivities } from '../../activities';
import { fenToYuan } from '../../domain/money';
import { QUERY_OPTIONS, SCHEDULE_OPTIONS, TERMINATE_OPTIONS } from '../activityPolicies';

/**
 * The lifecycle's WeChat Pay activities (imported type-only: the workflow bundle holds no I/O code). Each call
 * carries a one-line summary that the Web UI shows on the activity (never the openid); the summary is metadata,
 * not part of what replay compares, so it changes no command.
 */

type Activities = MainQueueActivities;
const queries = proxyActivities<Activities>(QUERY_OPTIONS);
const schedules = proxyActivities<Activities>(SCHEDULE_OPTIONS);
const terminations = proxyActivities<Activities>(TERMINATE_OPTIONS);

const unknownOutcome = (reconcileFirst: boolean | undefined): string =>
  reconcileFirst ? ' (the last outcome is unknown: query first)' : '';

export const querySigning: Activities['querySigning'] = (request) =>
  queries.querySigning.executeWithOptions({ summary: `Signing query of contract ${request.outContractCode}` }, [
    request,
  ]);

export const queryScheduleRecord: Activities['queryScheduleRecord'] = (request) =>
  queries.queryScheduleRecord.executeWithOptions({ summary: `Query schedule record ${request.outRecordId}` }, [
    request,
  ]);

export const createScheduleRecord: Activities['createScheduleRecord'] = (request) => {
  const { outRecordId, repaymentAmount, repaymentDate } = request.item;
  const summary =
    `Create schedule record ${outRecordId}: ${fenToYuan(repaymentAmount)} CNY on ${repaymentDate}` +
    unknownOutcome(request.reconcileFirst);
  return schedules.createScheduleRecord.executeWithOptions({ summary }, [request]);
};

export const terminateContract: Activities['terminateContract'] = (request) =>
  terminations.terminateContract.executeWithOptions(
    { summary: `Terminate contract ${request.outContractCode}${unknownOutcome(request.reconcileFirst)}` },
    [request],
  );
