/**
 * Fault injection: "the next `count` answers of `endpoint` are …". 5xx/429 answer without executing the
 * operation; the other kinds execute it and then sabotage the answer, so the client cannot know the outcome.
 */

export const ENDPOINTS = [
  'schedule-create',
  'schedule-query',
  'contract-query',
  'compensation-query',
  'terminate',
  'certificates',
] as const;
export type EndpointName = (typeof ENDPOINTS)[number];

export const FAULT_KINDS = [500, 503, 429, 'slow', 'reset', 'tampered', 'stale', 'unknown-serial', 'signtest'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export const DEFAULT_SLOW_DELAY_MS = 15_000;

export interface FaultInput {
  endpoint: EndpointName | '*';
  kind: FaultKind;
  /** How many answers it affects; default 1. */
  count?: number;
  /** For `slow`: how long the answer is held back; default 15 s. */
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

/** Faults that prevent execution (the request is refused before it is acted on). */
export function refusesExecution(kind: FaultKind): kind is 500 | 503 | 429 {
  return typeof kind === 'number';
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
