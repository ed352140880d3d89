import { readFileSync } from 'node:fs';
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter, type Payload, type PayloadCodec } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { ENCRYPTED_ENCODING } from '../codec/payloadEncryption';
import type { LifecycleStatus } from '../domain/status';
import type { SandboxControlClient } from '../sandbox/controlClient';
import type { SandboxBill, SandboxContract, SandboxRecord } from '../sandbox/model';
import type { RequestLogEntry } from '../sandbox/requestLog';

/**
 * Gathers what the checker judges from, after the run: what WeChat Pay saw (the sandbox's contracts, records, bills
 * and its whole request log) and what Temporal holds (visibility, every run's full history, final results). Nothing
 * here interprets the lifecycle's decisions; payloads are decrypted with the run's key only to look inside them.
 */

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

export interface RunFacts {
  runId: string;
  status: string;
  startTime: number;
  closeTime?: number;
  events: number;
  /** Timers started and neither fired nor cancelled, activities scheduled and not closed (at the end). */
  openTimers: number;
  openActivities: number;
  openChildStarts: number;
  /** The last workflow task failed and none completed after it: a bug holding the run. */
  workflowTaskFailing: boolean;
  /** A workflow task is scheduled or running (the run is about to act). */
  workflowTaskOpen: boolean;
  /** RepaymentAlert as upserted, in order, with the event time (null: cleared). */
  alertUpserts: Array<{ at: number; value: string | null }>;
  /** Decoded results of completed activities that hold one of the scan's `forged` values (JSON text). */
  forgedResults: string[];
  /** Payloads that are not encrypted (search attributes aside). */
  plaintextPayloads: number;
  /** Matches of the scan's `plaintext` pattern anywhere in the raw history (payload bytes, failures, attributes). */
  plaintextHits: string[];
  /** The run's result when it completed (the lifecycle's final status). */
  result?: LifecycleStatus;
}

export interface WorkflowFacts {
  workflowId: string;
  type: string;
  /** Oldest first; the last is the current run. */
  runs: RunFacts[];
  /** The current run's search attributes. */
  phase?: string;
  alert?: string;
  /** For a running lifecycle: its `status` query now (undefined when it did not answer). */
  status?: LifecycleStatus;
}

export interface Evidence {
  contracts: SandboxContract[];
  records: SandboxRecord[];
  bills: SandboxBill[];
  requests: RequestLogEntry[];
  workflows: Map<string, WorkflowFacts>;
  collectedAt: number;
}

/** What to look for in each history: a value that must never appear in clear, values only forged answers carry. */
export interface HistoryScan {
  plaintext: RegExp;
  forged: string[];
}

export async function collectEvidence(options: {
  control: SandboxControlClient;
  requestLogFile: string;
  temporal: Client;
  codec: PayloadCodec;
  billNumbers: string[];
  scan: HistoryScan;
  say: (line: string) => void;
}): Promise<Evidence> {
  const { control, temporal, codec, say } = options;
  const contracts = await control.listContracts();
  const records = await control.listRecords();
  const bills: SandboxBill[] = [];
  for (const no of options.billNumbers) {
    try {
      bills.push(await control.getBill(no));
    } catch {
      // a bill the lender never managed to create
    }
  }
  const requests = readFileSync(options.requestLogFile, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as RequestLogEntry);
  say(`  sandbox: ${contracts.length} contracts, ${records.length} records, ${requests.length} requests`);

  const executions: Array<{ workflowId: string; runId: string; type: string; status: string; start: number }> = [];
  for await (const info of temporal.workflow.list({ query: '', pageSize: 1000 })) {
    executions.push({
      workflowId: info.workflowId,
      runId: info.runId,
      type: info.type,
      status: info.status.name,
      start: info.startTime.getTime(),
    });
  }
  executions.sort((a, b) => a.start - b.start);

  const workflows = new Map<string, WorkflowFacts>();
  let done = 0;
  await pool(executions, 6, async (execution) => {
    const facts = await runFacts(temporal, codec, options.scan, execution);
    let workflow = workflows.get(execution.workflowId);
    if (!workflow) {
      workflow = { workflowId: execution.workflowId, type: execution.type, runs: [] };
      workflows.set(execution.workflowId, workflow);
    }
    workflow.runs.push(facts);
    if (++done % 250 === 0) say(`  histories: ${done}/${executions.length}`);
  });
  for (const workflow of workflows.values()) {
    workflow.runs.sort((a, b) => a.startTime - b.startTime);
    const last = workflow.runs.at(-1)!;
    const alerts = workflow.runs.flatMap((r) => r.alertUpserts);
    workflow.alert = alerts.at(-1)?.value ?? undefined;
    if (last.status === 'RUNNING' && workflow.type === 'repaymentLifecycle') {
      try {
        workflow.status = await temporal.workflow.getHandle(workflow.workflowId).query<LifecycleStatus>('status');
        workflow.phase = workflow.status.phase;
      } catch {
        // no answer: the checker says so
      }
    } else workflow.phase = last.result?.phase;
  }
  say(`  temporal: ${workflows.size} workflows, ${executions.length} runs`);
  return { contracts, records, bills, requests, workflows, collectedAt: Date.now() };
}

async function runFacts(
  temporal: Client,
  codec: PayloadCodec,
  scan: HistoryScan,
  { workflowId, runId, status, start: startTime }: { workflowId: string; runId: string; status: string; start: number },
): Promise<RunFacts> {
  const events: HistoryEvent[] = [];
  let pageToken: Uint8Array | undefined;
  for (let page = 0; page < 200; page++) {
    const answer = await temporal.workflowService.getWorkflowExecutionHistory({
      namespace: temporal.options.namespace,
      execution: { workflowId, runId },
      maximumPageSize: 1000,
      ...(pageToken ? { nextPageToken: pageToken } : {}),
    });
    events.push(...(answer.history?.events ?? []));
    pageToken = answer.nextPageToken && answer.nextPageToken.length > 0 ? answer.nextPageToken : undefined;
    if (!pageToken) break;
  }
  const facts: RunFacts = {
    runId,
    status,
    startTime,
    events: events.length,
    openTimers: 0,
    openActivities: 0,
    openChildStarts: 0,
    workflowTaskFailing: false,
    workflowTaskOpen: false,
    alertUpserts: [],
    forgedResults: [],
    plaintextPayloads: 0,
    plaintextHits: [],
  };
  const global = new RegExp(scan.plaintext.source, 'g');
  const timers = new Set<string>();
  const activities = new Set<string>();
  const children = new Set<string>();
  for (const event of events) {
    const at = timeOf(event.eventTime);
    const id = String(event.eventId ?? '');
    for (const hit of textOf(event).match(global) ?? [])
      if (facts.plaintextHits.length < 5) facts.plaintextHits.push(hit);
    facts.plaintextPayloads += plaintextPayloads(event);
    if (event.timerStartedEventAttributes) timers.add(event.timerStartedEventAttributes.timerId ?? '');
    if (event.timerFiredEventAttributes) timers.delete(event.timerFiredEventAttributes.timerId ?? '');
    if (event.timerCanceledEventAttributes) timers.delete(event.timerCanceledEventAttributes.timerId ?? '');
    if (event.activityTaskScheduledEventAttributes) activities.add(id);
    for (const closed of [
      event.activityTaskCompletedEventAttributes,
      event.activityTaskFailedEventAttributes,
      event.activityTaskTimedOutEventAttributes,
      event.activityTaskCanceledEventAttributes,
    ]) {
      if (closed) activities.delete(String(closed.scheduledEventId ?? ''));
    }
    if (event.startChildWorkflowExecutionInitiatedEventAttributes) children.add(id);
    for (const closed of [
      event.childWorkflowExecutionStartedEventAttributes,
      event.startChildWorkflowExecutionFailedEventAttributes,
    ]) {
      if (closed) children.delete(String(closed.initiatedEventId ?? ''));
    }
    if (event.workflowTaskFailedEventAttributes) facts.workflowTaskFailing = true;
    if (event.workflowTaskCompletedEventAttributes) facts.workflowTaskFailing = false;
    if (event.workflowTaskScheduledEventAttributes) facts.workflowTaskOpen = true;
    if (
      event.workflowTaskCompletedEventAttributes ||
      event.workflowTaskFailedEventAttributes ||
      event.workflowTaskTimedOutEventAttributes
    ) {
      facts.workflowTaskOpen = false;
    }
    const upserted =
      event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.RepaymentAlert;
    if (upserted) facts.alertUpserts.push({ at, value: keywordOf(upserted) });
    const result = event.activityTaskCompletedEventAttributes?.result?.payloads?.[0];
    if (result) {
      const text = JSON.stringify(await decoded(codec, result));
      if (scan.forged.some((value) => text.includes(value))) facts.forgedResults.push(text);
    }
    const completed = event.workflowExecutionCompletedEventAttributes?.result?.payloads?.[0];
    if (completed) facts.result = (await decoded(codec, completed)) as LifecycleStatus;
    const closedAs = closeStatusOf(event);
    if (closedAs) {
      // The history is read after the listing: a run that closed in between is judged closed.
      facts.status = closedAs;
      facts.closeTime = at;
    }
  }
  facts.openTimers = timers.size;
  facts.openActivities = activities.size;
  facts.openChildStarts = children.size;
  return facts;
}

/** The execution status a close event gives its run, as the listing names it. */
function closeStatusOf(event: HistoryEvent): string | undefined {
  if (event.workflowExecutionCompletedEventAttributes) return 'COMPLETED';
  if (event.workflowExecutionContinuedAsNewEventAttributes) return 'CONTINUED_AS_NEW';
  if (event.workflowExecutionFailedEventAttributes) return 'FAILED';
  if (event.workflowExecutionTerminatedEventAttributes) return 'TERMINATED';
  if (event.workflowExecutionTimedOutEventAttributes) return 'TIMED_OUT';
  if (event.workflowExecutionCanceledEventAttributes) return 'CANCELLED';
  return undefined;
}

const SERVER_CONSTANTS = new Set(['"ACTIVITY_ID_NOT_STARTED"']);

async function decoded(codec: PayloadCodec, payload: temporal.api.common.v1.IPayload): Promise<unknown> {
  const [plain] = await codec.decode([payload as Payload]);
  return defaultPayloadConverter.fromPayload(plain!);
}

function timeOf(time: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  if (!time) return 0;
  return Number(time.seconds ?? 0) * 1000 + Math.floor((time.nanos ?? 0) / 1e6);
}

/** A Keyword search attribute's value as upserted: a JSON string, or an empty list / null when it was removed. */
function keywordOf(payload: temporal.api.common.v1.IPayload): string | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(payload.data ?? new Uint8Array()).toString('utf8'));
    if (typeof value === 'string') return value;
    if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
    return null;
  } catch {
    return null;
  }
}

/**
 * Every payload under the event must be ciphertext, except what Temporal itself writes in clear by design: search
 * attributes (indexed), the SDK's marker metadata (`patch-data`: a patch id; `data` of a local activity's marker:
 * its sequence number, type and times; its `result` goes through the codec) and the server's details of an activity
 * cancelled before it started (SERVER_CONSTANTS). The openid scan reads all of them anyway.
 */
function plaintextPayloads(event: HistoryEvent): number {
  let count = 0;
  const visit = (value: unknown, key: string): void => {
    if (!value || typeof value !== 'object' || value instanceof Uint8Array) return;
    if (key === 'searchAttributes') return;
    const candidate = value as { metadata?: Record<string, Uint8Array>; data?: unknown };
    if (candidate.metadata && 'data' in candidate) {
      const encoding = Buffer.from(candidate.metadata.encoding ?? new Uint8Array()).toString('utf8');
      const data = Buffer.from((candidate.data as Uint8Array | null) ?? new Uint8Array()).toString('utf8');
      if (encoding !== ENCRYPTED_ENCODING && !SERVER_CONSTANTS.has(data)) count += 1;
      return;
    }
    for (const [k, v] of Object.entries(value)) visit(v, k);
  };
  const marker = event.markerRecordedEventAttributes;
  if (marker) {
    const { 'patch-data': _patch, data: _metadata, ...rest } = marker.details ?? {};
    visit({ ...marker, details: rest }, '');
    for (const [k, v] of Object.entries(event)) if (k !== 'markerRecordedEventAttributes') visit(v, k);
  } else visit(event, '');
  return count;
}

/** The event as text, bytes included as latin1, so that a plaintext openid anywhere in it is found. */
function textOf(event: HistoryEvent): string {
  return JSON.stringify(event, (_key, value: unknown) =>
    value instanceof Uint8Array ? Buffer.from(value).toString('latin1') : value,
  );
}

async function pool<T>(items: readonly T[], size: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: size }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}
