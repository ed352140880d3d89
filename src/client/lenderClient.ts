import {
  Client,
  Connection,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type WorkflowExecutionInfo,
  type WorkflowExecutionStatusName,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure, type SearchAttributePair } from '@temporalio/common';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow/codec-helpers';
import type { z } from 'zod';
import { loadConfig, type AppConfig } from '../config/load';
import { shanghaiDateOf, shanghaiMidnight } from '../domain/calendar';
import { PlanModificationSchema, type PlanModificationInput } from '../domain/modification';
import { ResolveAlertSchema, type ResolveAlertInput } from '../domain/operatorActions';
import {
  issuesOf,
  parsePlan,
  PlanValidationError,
  RepaymentPlanSchema,
  resolvePolicy,
  workflowIdFor,
  type PlanIssue,
  type RepaymentPlan,
} from '../domain/plan';
import {
  DemoTimeScaleSchema,
  PartialLifecyclePolicySchema,
  type DemoTimeScale,
  type PartialLifecyclePolicy,
} from '../domain/policy';
import {
  NextRepaymentDate,
  OutContractCode,
  RepaymentAlert,
  RepaymentPhase,
  WechatContractId,
} from '../domain/searchAttributes';
import {
  CancelRequestSchema,
  CompensationBillReportedSchema,
  ContractSignedSchema,
  RepaymentResultSignalSchema,
  type ContractSigned,
  type RepaymentResultSignal,
} from '../domain/signals';
import type { LifecycleStatus } from '../domain/status';
import type { UpdateDefinition } from '@temporalio/common';
import {
  cancelSignal,
  compensationBillReportedSignal,
  contractSignedSignal,
  INVALID_MODIFICATION,
  INVALID_RESOLUTION,
  INVALID_RESULT,
  modifyPlanUpdate,
  reportRepaymentResultUpdate,
  resolveAlertUpdate,
  statusQuery,
  type LifecycleInput,
} from '../workflows/definitions';
import { tracingFor, type Tracing } from '../tracing';
import { LifecycleConflictError, LifecycleNotFoundError, ModificationRejectedError } from './errors';
import { jsonDifferences } from './planDiff';
import { lifecycleStartMetadata } from './startMetadata';
import { buildListQuery, LIFECYCLE_WORKFLOW_TYPE, type LifecycleFilter } from './visibilityQuery';

export interface RepaymentClientOptions {
  taskQueue: string;
  compensationTaskQueue: string;
  /** Policy defaults for every lifecycle (temporal.yaml's `lifecycle:`); a plan's own `policy` wins over them. */
  policyDefaults?: PartialLifecyclePolicy;
  /** The clock that decides "today" in Asia/Shanghai for plan validation (tests); defaults to Date.now. */
  now?: () => number;
}

export interface StartOptions {
  /** Overrides of the client's policy defaults for this lifecycle only (the plan's own `policy` still wins). */
  policy?: PartialLifecyclePolicy;
  /** A demo's time scale (polls in seconds): only for a demonstration, never set by a plan or temporal.yaml. */
  demo?: DemoTimeScale;
}

export interface StartResult {
  workflowId: string;
  runId: string;
  /** True when the contract's lifecycle already existed with the same plan: nothing new was started. */
  alreadyStarted: boolean;
}

export interface ListOptions extends LifecycleFilter {
  /** At most this many lifecycles (1..1000, default 100). */
  limit?: number;
}

export interface LifecycleSummary {
  workflowId: string;
  runId: string;
  /** Temporal's execution status: RUNNING, COMPLETED, FAILED, ... */
  status: WorkflowExecutionStatusName;
  phase?: string;
  /** RepaymentAlert: `<step>:<class>` of the oldest alert, absent when there is none. */
  alert?: string;
  outContractCode?: string;
  contractId?: string;
  /** The next unsettled repayment date (Asia/Shanghai), absent when none is left. */
  nextRepaymentDate?: string;
  startTime: string;
}

const MAX_LIST_LIMIT = 1000;

/**
 * The lender's backend API to the repayment lifecycles. Every input is validated with the same domain schemas
 * the workflow uses, before anything is sent, so that a bad field is reported here and never reaches history.
 * Lifecycles are addressed by the contract's out_contract_code (workflow id `repayment-<code>`).
 */
export class RepaymentClient {
  private readonly now: () => number;

  constructor(
    readonly temporal: Client,
    private readonly options: RepaymentClientOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Starts the contract's lifecycle. Idempotent: the same plan again returns the existing lifecycle with
   * `alreadyStarted: true`; a different plan for the same contract throws LifecycleConflictError. A contract
   * never gets a second lifecycle once one has run its course (completed, terminated the contract, cancelled); a
   * lifecycle that FAILED (refused at start, or ended by an operator through Temporal) can be started again.
   */
  async startLifecycle(planInput: unknown, options: StartOptions = {}): Promise<StartResult> {
    const plan = parsePlan(planInput, shanghaiDateOf(this.now()));
    const overrides = validated(PartialLifecyclePolicySchema, { ...this.options.policyDefaults, ...options.policy }, [
      'policy',
    ]);
    // Resolved here, once: the workflow runs (and replays) with exactly this policy, whatever later code defaults.
    const policy = resolvePolicy(overrides, plan.policy);
    if (options.demo) policy.demo = validated(DemoTimeScaleSchema, options.demo, ['demo']);
    const workflowId = workflowIdFor(plan.outContractCode);
    const input: LifecycleInput = { plan, policy, compensationTaskQueue: this.options.compensationTaskQueue };
    try {
      const handle = await this.temporal.workflow.start(LIFECYCLE_WORKFLOW_TYPE, {
        taskQueue: this.options.taskQueue,
        workflowId,
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
        args: [input],
        typedSearchAttributes: initialSearchAttributes(plan),
        // What the Web UI lists and shows from the start (the workflow keeps its current details up to date).
        ...lifecycleStartMetadata(plan, policy),
      });
      return { workflowId, runId: handle.firstExecutionRunId, alreadyStarted: false };
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      return this.existingLifecycle(plan, workflowId);
    }
  }

  /**
   * The lender's repayment result of one installment (`outcome` SUCCESS or FAILED), through an update: a result that
   * names no installment, contradicts a settled one or carries a bad amount is refused (PlanValidationError naming
   * the field); the same result again is accepted. Returns the lifecycle's status.
   */
  async reportRepaymentResult(outContractCode: string, result: RepaymentResultSignal): Promise<LifecycleStatus> {
    const payload = validated(RepaymentResultSignalSchema, result);
    return this.update(outContractCode, reportRepaymentResultUpdate, payload, INVALID_RESULT);
  }

  /**
   * An operator's decision on an alert (`status().alerts`): retry the step now, skip the installment, or terminate
   * the contract (with a reason). `alert` is the alert's key; it may be left out when the lifecycle has one.
   */
  async resolveAlert(outContractCode: string, resolution: ResolveAlertInput): Promise<LifecycleStatus> {
    const payload = validated(ResolveAlertSchema, resolution);
    return this.update(outContractCode, resolveAlertUpdate, payload, INVALID_RESOLUTION);
  }

  /** A compensation bill the lender issued for the contract; the lifecycle tracks it to its final state. */
  async reportCompensationBill(outContractCode: string, outBillNo: string): Promise<void> {
    const payload = validated(CompensationBillReportedSchema, { outBillNo });
    await this.call(
      outContractCode,
      (handle) => handle.signal(compensationBillReportedSignal, payload),
      'no running lifecycle',
    );
  }

  /** The lender learned of the signature (signature mode `signal`). */
  async confirmSigned(outContractCode: string, info: ContractSigned = {}): Promise<void> {
    const payload = validated(ContractSignedSchema, info);
    await this.call(outContractCode, (handle) => handle.signal(contractSignedSignal, payload), 'no running lifecycle');
  }

  /** Stops the lifecycle and terminates the contract at WeChat Pay. */
  async cancel(outContractCode: string, reason: string): Promise<void> {
    const payload = validated(CancelRequestSchema, { reason });
    await this.call(outContractCode, (handle) => handle.signal(cancelSignal, payload), 'no running lifecycle');
  }

  /**
   * Adds or reschedules installments and returns the new status. The shape is checked here; the checks that
   * need the lifecycle's state (dates clash, record already scheduled) come back from the workflow's validator,
   * both as PlanValidationError naming the field.
   */
  async modifyPlan(outContractCode: string, modification: PlanModificationInput): Promise<LifecycleStatus> {
    const payload = validated(PlanModificationSchema, modification);
    return this.update(outContractCode, modifyPlanUpdate, payload, INVALID_MODIFICATION);
  }

  /** The lifecycle's `status` query (needs a worker polling the task queue). */
  async getStatus(outContractCode: string): Promise<LifecycleStatus> {
    return this.call(outContractCode, (handle) => handle.query(statusQuery), 'no lifecycle');
  }

  /** Lifecycles found by search attributes, newest first as the server orders them. */
  async list(options: ListOptions = {}): Promise<LifecycleSummary[]> {
    const { limit = 100, ...filter } = options;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
      throw new PlanValidationError([{ path: 'limit', rule: `must be an integer from 1 to ${MAX_LIST_LIMIT}` }]);
    }
    const query = buildListQuery(filter);
    const found: LifecycleSummary[] = [];
    for await (const info of this.temporal.workflow.list({ query, pageSize: Math.min(limit, 100) })) {
      found.push(summaryOf(info));
      if (found.length >= limit) break;
    }
    return found;
  }

  /** Runs an update; the workflow validator's refusal becomes PlanValidationError (a field) or a rejection. */
  private async update<A>(
    outContractCode: string,
    definition: UpdateDefinition<LifecycleStatus, [A]>,
    payload: A,
    refusalType: string,
  ): Promise<LifecycleStatus> {
    try {
      return await this.call(
        outContractCode,
        (handle) => handle.executeUpdate(definition, { args: [payload] }),
        'no running lifecycle',
      );
    } catch (error) {
      const cause = error instanceof WorkflowUpdateFailedError ? error.cause : undefined;
      if (!(cause instanceof ApplicationFailure) || cause.type !== refusalType) throw error;
      const issues = cause.details?.[0];
      if (isIssueList(issues) && issues.length > 0) throw new PlanValidationError(issues);
      throw new ModificationRejectedError(outContractCode, cause.message);
    }
  }

  private handleFor(outContractCode: string): WorkflowHandle {
    return this.temporal.workflow.getHandle(workflowIdFor(outContractCode));
  }

  private async call<T>(
    outContractCode: string,
    operation: (handle: WorkflowHandle) => Promise<T>,
    notFound: string,
  ): Promise<T> {
    try {
      return await operation(this.handleFor(outContractCode));
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) {
        throw new LifecycleNotFoundError(outContractCode, workflowIdFor(outContractCode), notFound);
      }
      throw error;
    }
  }

  /** The contract already has a lifecycle: the same plan is a harmless repeat, another plan a conflict. */
  private async existingLifecycle(plan: RepaymentPlan, workflowId: string): Promise<StartResult> {
    const { runId } = await this.temporal.workflow.getHandle(workflowId).describe();
    // The latest run's first event carries the plan (continue-as-new passes the original plan on unchanged).
    const history = await this.temporal.workflowService.getWorkflowExecutionHistory({
      namespace: this.temporal.options.namespace,
      execution: { workflowId, runId },
      maximumPageSize: 1,
    });
    const payloads = history.history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads;
    // Through the client's own converter and codecs: the input is ciphertext when payload encryption is on.
    const stored = await decodeFromPayloadsAtIndex<LifecycleInput>(
      this.temporal.options.loadedDataConverter,
      0,
      payloads,
    );
    const parsed = RepaymentPlanSchema.safeParse(stored?.plan);
    const differences = jsonDifferences(parsed.success ? parsed.data : stored?.plan, plan);
    if (differences.length > 0) throw new LifecycleConflictError(plan.outContractCode, workflowId, differences);
    return { workflowId, runId, alreadyStarted: true };
  }
}

export interface ConnectedRepaymentClient {
  client: RepaymentClient;
  close(): Promise<void>;
}

export interface ConnectOptions {
  /**
   * Connect on the first call instead of now, so that input validation comes before any network error
   * (the CLI: a bad plan exits 2 even when Temporal is down).
   */
  lazy?: boolean;
  /** Tracing other than the process's own (which is on when OTEL_EXPORTER_OTLP_ENDPOINT is set). */
  tracing?: Tracing;
}

/** Loads temporal.yaml (unless given a config), connects to Temporal and returns the client and its close(). */
export async function connectRepaymentClient(
  config: AppConfig = loadConfig(),
  options: ConnectOptions = {},
): Promise<ConnectedRepaymentClient> {
  const { address, tls, apiKey, metadata } = config.temporal.connection;
  const connectionOptions = { address, tls, apiKey, metadata };
  const connection = options.lazy ? Connection.lazy(connectionOptions) : await Connection.connect(connectionOptions);
  // Starts, signals, queries and updates carry the caller's trace context into the workflow.
  const tracing = options.tracing ?? tracingFor(config.tracing.endpoint, 'credit-repayment-client');
  const temporal = new Client({
    connection,
    namespace: config.temporal.namespace,
    dataConverter: config.temporal.dataConverter,
    ...(tracing ? { interceptors: tracing.clientInterceptors } : {}),
  });
  const client = new RepaymentClient(temporal, {
    taskQueue: config.temporal.taskQueue,
    compensationTaskQueue: config.temporal.compensationTaskQueue,
    policyDefaults: config.lifecycle,
  });
  return {
    client,
    async close() {
      await connection.close();
      await tracing?.flush();
    },
  };
}

/** Findable from the first moment; the workflow keeps RepaymentPhase and NextRepaymentDate current afterwards. */
function initialSearchAttributes(plan: RepaymentPlan): SearchAttributePair[] {
  const first = plan.installments.map((item) => item.repaymentDate).reduce((a, b) => (a < b ? a : b));
  return [
    { key: OutContractCode, value: plan.outContractCode },
    { key: WechatContractId, value: plan.contractId },
    { key: RepaymentPhase, value: plan.signature.mode === 'none' ? 'MONITORING' : 'AWAITING_SIGNATURE' },
    { key: NextRepaymentDate, value: new Date(shanghaiMidnight(first)) },
  ];
}

function summaryOf(info: WorkflowExecutionInfo): LifecycleSummary {
  const attributes = info.typedSearchAttributes;
  const phase = attributes.get(RepaymentPhase);
  const alert = attributes.get(RepaymentAlert);
  const outContractCode = attributes.get(OutContractCode);
  const contractId = attributes.get(WechatContractId);
  const next = attributes.get(NextRepaymentDate);
  return {
    workflowId: info.workflowId,
    runId: info.runId,
    status: info.status.name,
    ...(phase !== undefined ? { phase } : {}),
    ...(alert !== undefined ? { alert } : {}),
    ...(outContractCode !== undefined ? { outContractCode } : {}),
    ...(contractId !== undefined ? { contractId } : {}),
    ...(next !== undefined ? { nextRepaymentDate: shanghaiDateOf(next.getTime()) } : {}),
    startTime: info.startTime.toISOString(),
  };
}

/** Parses with a domain schema; a failure becomes PlanValidationError naming each field and its rule. */
function validated<S extends z.ZodType>(schema: S, input: unknown, prefix: PropertyKey[] = []): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new PlanValidationError(issuesOf(parsed.error, prefix));
  return parsed.data;
}

function isIssueList(value: unknown): value is PlanIssue[] {
  return (
    Array.isArray(value) &&
    value.every((item) => typeof item?.path === 'string' && typeof (item as PlanIssue).rule === 'string')
  );
}
