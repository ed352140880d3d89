import { shanghaiDateOf } from '../domain/calendar';
import { workflowIdFor } from '../domain/plan';
import type { RequestLogEntry } from '../sandbox/requestLog';
import type { Evidence, WorkflowFacts } from './collect';
import { executedOk, type CheckContext } from './checkTypes';
import type { LifecycleSpec } from './plans';

/** Indexes over the evidence, by contract. */
export class View {
  readonly contract = new Map<string, Evidence['contracts'][number]>();
  readonly records = new Map<string, Evidence['records']>();
  readonly creates = new Map<string, RequestLogEntry[]>();
  readonly terminates = new Map<string, RequestLogEntry[]>();
  /** Signing queries by out_contract_code (from the path). */
  readonly queries = new Map<string, RequestLogEntry[]>();
  readonly today: string;

  constructor(private readonly ctx: CheckContext) {
    for (const c of ctx.evidence.contracts) this.contract.set(c.out_contract_code, c);
    for (const r of ctx.evidence.records) push(this.records, r.contract_id, r);
    for (const entry of ctx.evidence.requests) {
      const body = (entry.body ?? {}) as { contract_id?: string; out_contract_code?: string };
      if (entry.endpoint === 'schedule-create' && body.contract_id) push(this.creates, body.contract_id, entry);
      if (entry.endpoint === 'terminate' && body.out_contract_code)
        push(this.terminates, body.out_contract_code, entry);
      const queried = entry.endpoint === 'contract-query' ? SIGNING_QUERY_PATH.exec(entry.path) : null;
      if (queried) push(this.queries, decodeURIComponent(queried[1]!), entry);
    }
    this.today = shanghaiDateOf(ctx.evidence.collectedAt);
  }

  workflow(spec: LifecycleSpec): WorkflowFacts | undefined {
    return this.ctx.evidence.workflows.get(workflowIdFor(spec.plan.outContractCode));
  }

  started(spec: LifecycleSpec): number | undefined {
    return this.ctx.journal.done(spec.plan.outContractCode, 'start')?.at;
  }

  /** Temporal's status of the lifecycle's current run. */
  state(spec: LifecycleSpec): string | undefined {
    return this.workflow(spec)?.runs.at(-1)?.status;
  }

  /** The lifecycle's phase at the end: the final result's, or the status query's while it runs. */
  phase(spec: LifecycleSpec): string | undefined {
    return this.workflow(spec)?.phase;
  }

  /**
   * Whether WeChat Pay ever gave the lifecycle a verified "AUTHORIZED": a signing query answered 200 (no fault that
   * spoils the answer) while the sandbox held the contract signed. A lifecycle that never had one cannot know.
   */
  sawAuthorized(spec: LifecycleSpec): boolean {
    const code = spec.plan.outContractCode;
    const from =
      spec.signing === 'at-once'
        ? this.ctx.journal.done(code, 'contract')?.at
        : this.ctx.journal.done(code, 'authorize')?.at;
    if (from === undefined) return false;
    const until = Math.min(
      this.ctx.journal.done(code, 'user-terminate')?.at ?? Number.POSITIVE_INFINITY,
      this.merchantTerminatedAt(spec) ?? Number.POSITIVE_INFINITY,
    );
    return (this.queries.get(code) ?? []).some((e) => {
      const at = Date.parse(e.at);
      return e.status === 200 && !e.fault && at >= from && at < until;
    });
  }

  /** `CODE (signing …, mode …, saw|never answered AUTHORIZED)`: what an example needs to be understood. */
  describe(spec: LifecycleSpec): string {
    const seen = this.sawAuthorized(spec) ? 'saw AUTHORIZED' : 'never answered AUTHORIZED';
    return `${spec.plan.outContractCode} (signing ${spec.signing}, mode ${spec.plan.signature.mode}, ${seen})`;
  }

  /** When the contract was first terminated by the merchant (the first executed terminate request). */
  merchantTerminatedAt(spec: LifecycleSpec): number | undefined {
    const first = (this.terminates.get(spec.plan.outContractCode) ?? []).find(executedOk);
    return first ? Date.parse(first.at) : undefined;
  }
}

/** `/v3/ecommerce/individual-contracts/out-contract-code/{out_contract_code}?appid=…` (seed 002). */
const SIGNING_QUERY_PATH = /\/out-contract-code\/([^/?]+)/;

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
