/**
 * Fault injection: "the next `count` answers of `endpoint` are …". Two families:
 * - answered INSTEAD of the operation (not executed): 500, 503, 429 (signed, as WeChat Pay would), 401 SIGN_ERROR
 *   (unsigned, as WeChat Pay answers a request whose signature it refused: a clock drift, a merchant serial in
 *   rotation), `html-404` (an
 *   unsigned text/html page, as a proxy sends), `unsigned-404` (JSON RESOURCE_NOT_EXISTS without signature
 *   headers), `bad-signature-404` (a signed RESOURCE_NOT_EXISTS whose signature does not verify);
 * - the operation IS executed, then its answer is sabotaged, so the client cannot know the outcome: `slow` (held
 *   back delayMs), `trickle` (sent one byte every delayMs, default 1 s), `reset` (no answer), `tampered`, `stale`,
 *   `unknown-serial`, `signtest` (fail verification), `oversized` (validly signed, padded past 1 MiB).
 */

import { SandboxError } from './errors';

export const ENDPOINTS = [
  'schedule-create',
  'schedule-query',
  'contract-query',
  'compensation-query',
  'terminate',
  'certificates',
] as const;
export type EndpointName = (typeof ENDPOINTS)[number];

export const FAULT_KINDS = [
  500,
  503,
  429,
  401,
  'html-404',
  'unsigned-404',
  'bad-signature-404',
  'slow',
  'trickle',
  'reset',
  'tampered',
  'stale',
  'unknown-serial',
  'signtest',
  'oversized',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

const NOT_EXECUTED = new Set<FaultKind>([500, 503, 429, 401, 'html-404', 'unsigned-404', 'bad-signature-404']);

export const DEFAULT_SLOW_DELAY_MS = 15_000;
/** `trickle`: one byte a second unless delayMs says otherwise. */
export const DEFAULT_TRICKLE_INTERVAL_MS = 1_000;

export interface FaultInput {
  endpoint: EndpointName | '*';
  kind: FaultKind;
  /** How many answers it affects; default 1. */
  count?: number;
  /** For `slow`: how long the answer is held back (default 15 s); for `trickle`: the time between bytes (1 s). */
  delayMs?: number;
}

export interface Fault {
  id: number;
  endpoint: EndpointName | '*';
  kind: FaultKind;
  /** Answers still to be affected. */
  remaining: number;
  delayMs?: number;
}

/** Faults answered instead of the operation: the request is not acted on. */
export function refusesExecution(kind: FaultKind): boolean {
  return NOT_EXECUTED.has(kind);
}

/** What a fault that refuses execution answers instead (html-404 sends its page in place of this body). */
export function faultAnswer(kind: FaultKind): SandboxError {
  if (kind === 500) return new SandboxError(500, 'SYSTEM_ERROR', '系统异常，请稍后重试 (injected fault)');
  if (kind === 503) return new SandboxError(503, 'SERVICE_UNAVAILABLE', '服务不可用 (injected fault)');
  if (kind === 429) return new SandboxError(429, 'FREQUENCY_LIMITED', '频率超限 (injected fault)');
  if (kind === 401) return new SandboxError(401, 'SIGN_ERROR', '签名错误 (injected fault)');
  return new SandboxError(404, 'RESOURCE_NOT_EXISTS', '资源不存在 (injected fault)');
}

export class FaultQueue {
  private faults: Fault[] = [];
  private nextId = 1;

  add(input: Required<Pick<FaultInput, 'endpoint' | 'kind' | 'count'>> & { delayMs?: number }): Fault {
    const fault: Fault = {
      id: this.nextId++,
      endpoint: input.endpoint,
      kind: input.kind,
      remaining: input.count,
      ...(input.kind === 'slow' ? { delayMs: input.delayMs ?? DEFAULT_SLOW_DELAY_MS } : {}),
      ...(input.kind === 'trickle' ? { delayMs: input.delayMs ?? DEFAULT_TRICKLE_INTERVAL_MS } : {}),
    };
    this.faults.push(fault);
    return fault;
  }

  /** The first pending fault for this endpoint, counted down (and dropped at zero). */
  take(endpoint: EndpointName): Fault | undefined {
    const fault = this.faults.find((f) => f.endpoint === endpoint || f.endpoint === '*');
    if (!fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.faults = this.faults.filter((f) => f !== fault);
    return { ...fault };
  }

  list(): Fault[] {
    return this.faults.map((f) => ({ ...f }));
  }

  clear(): void {
    this.faults = [];
  }
}
