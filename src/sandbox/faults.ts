/**
 * Fault injection: "the next `count` answers of `endpoint` are …". Two families:
 * - answered INSTEAD of the operation (not executed): 500, 503, 429 (signed, as WeChat Pay would), 401 SIGN_ERROR
 *   (unsigned, as WeChat Pay answers a request whose signature it refused: a clock drift, a merchant serial in
 *   rotation), `html-404` (an
 *   unsigned text/html page, as a proxy sends), `unsigned-404` (JSON RESOURCE_NOT_EXISTS without signature
 *   headers), `bad-signature-404` (a signed RESOURCE_NOT_EXISTS whose signature does not verify);
 * - the operation IS executed, then its answer is sabotaged, so the client cannot know the outcome: `slow` (held
 *   back delayMs), `trickle` (sent one byte every delayMs, default 1 s), `reset` (no answer), `tampered`, `stale`,
 *   `unknown-serial`, `signtest` (fail verification), `oversized` (validly signed, padded past 1 MiB), `forged` (a
 *   plausible lie in the body, forgery.ts, under a signature that does not verify: trusting it leaves a trace).
 * A fault affects the next `count` answers; with `ratio` only that share of them (every 1/ratio-th, evenly, so a run
 * is repeatable), and with `forMs` only until that much time has passed (chaos periods: "20 % are 500 for 2 min").
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
  'forged',
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
  /** Affect only this share (0 < ratio ≤ 1) of the matching answers, evenly spread. */
  ratio?: number;
  /** The fault ends this many ms after it was injected, whatever its count. */
  forMs?: number;
}

export interface Fault {
  id: number;
  endpoint: EndpointName | '*';
  kind: FaultKind;
  /** Answers still to be affected. */
  remaining: number;
  delayMs?: number;
  ratio?: number;
  /** RFC 3339: when it ends by itself (`forMs`). */
  endsAt?: string;
  /** Matching answers seen so far (a `ratio` fault affects some of them). */
  seen: number;
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

  constructor(private readonly nowMs: () => number = Date.now) {}

  add(
    input: Required<Pick<FaultInput, 'endpoint' | 'kind' | 'count'>> & Pick<FaultInput, 'delayMs' | 'ratio' | 'forMs'>,
  ): Fault {
    const fault: Fault = {
      id: this.nextId++,
      endpoint: input.endpoint,
      kind: input.kind,
      remaining: input.count,
      seen: 0,
      ...(input.kind === 'slow' ? { delayMs: input.delayMs ?? DEFAULT_SLOW_DELAY_MS } : {}),
      ...(input.kind === 'trickle' ? { delayMs: input.delayMs ?? DEFAULT_TRICKLE_INTERVAL_MS } : {}),
      ...(input.ratio === undefined ? {} : { ratio: input.ratio }),
      ...(input.forMs === undefined ? {} : { endsAt: new Date(this.nowMs() + input.forMs).toISOString() }),
    };
    this.faults.push(fault);
    return { ...fault };
  }

  /**
   * The first pending fault that affects this answer, counted down (and dropped at zero). A `ratio` fault that lets
   * this answer pass leaves it to the next fault in line.
   */
  take(endpoint: EndpointName): Fault | undefined {
    this.dropEnded();
    for (const fault of this.faults) {
      if (fault.endpoint !== endpoint && fault.endpoint !== '*') continue;
      fault.seen += 1;
      if (
        fault.ratio !== undefined &&
        Math.floor(fault.seen * fault.ratio) === Math.floor((fault.seen - 1) * fault.ratio)
      )
        continue;
      fault.remaining -= 1;
      if (fault.remaining <= 0) this.faults = this.faults.filter((f) => f !== fault);
      return { ...fault };
    }
    return undefined;
  }

  list(): Fault[] {
    this.dropEnded();
    return this.faults.map((f) => ({ ...f }));
  }

  private dropEnded(): void {
    const now = this.nowMs();
    this.faults = this.faults.filter((f) => f.endsAt === undefined || Date.parse(f.endsAt) > now);
  }

  clear(): void {
    this.faults = [];
  }
}
