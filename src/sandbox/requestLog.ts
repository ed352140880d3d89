import { closeSync, openSync, writeSync } from 'node:fs';
import type { EndpointName, FaultKind } from './faults';

/** What the sandbox received on /v3 (never the Authorization header), newest last, bounded in size. */
// A type alias (not an interface) so that entries are assignable to Record<string, unknown>.
export type RequestLogEntry = {
  seq: number;
  /** Real time, RFC 3339 UTC. */
  at: string;
  listener: 'primary' | 'backup';
  method: string;
  /** Path and query as received. */
  path: string;
  endpoint: EndpointName | 'unknown';
  status: number;
  fault?: FaultKind;
  /** Labels of what the answer invents beyond the seeds and the digest (inventions.ts), when it does. */
  invented?: string[];
  /** The parsed JSON request body (POST), when it was JSON. */
  body?: unknown;
};

/**
 * The last `maxEntries` in memory (the control API); with a file, every entry is also appended to it as a JSON line
 * (mode 0600: request bodies hold openids), so a long run keeps its whole log (`npm run sandbox -- --request-log`).
 */
export class RequestLog {
  private entries: RequestLogEntry[] = [];
  private seq = 0;
  private fd: number | undefined;

  constructor(
    private readonly maxEntries = 10_000,
    file?: string,
  ) {
    if (file !== undefined) this.fd = openSync(file, 'a', 0o600);
  }

  append(entry: Omit<RequestLogEntry, 'seq' | 'at'>): RequestLogEntry {
    const full: RequestLogEntry = { seq: ++this.seq, at: new Date().toISOString(), ...entry };
    this.entries.push(full);
    if (this.entries.length > this.maxEntries) this.entries.splice(0, this.entries.length - this.maxEntries);
    // Synchronous: an entry is on disk before its answer leaves, even if the process is killed right after.
    if (this.fd !== undefined) writeSync(this.fd, `${JSON.stringify(full)}\n`);
    return full;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  list(endpoint?: string): RequestLogEntry[] {
    return endpoint ? this.entries.filter((e) => e.endpoint === endpoint) : [...this.entries];
  }

  clear(): void {
    this.entries = [];
  }
}
