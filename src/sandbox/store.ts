import {
  closeSync,
  existsSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { emptyState, type SandboxStateData } from './model';

/**
 * Holds the business state; with a file, persists it crash-safely in O(1) amortised per change: a snapshot
 * (`state.json`, written to a temp file, fsynced, renamed) plus a journal (`state.journal`, one JSON line per
 * changed object, appended). When the journal outgrows the state it is folded into a new snapshot, so the cost of
 * rewriting the state is spread over as many changes as it holds.
 *
 * What a crash can leave, and what loading does with it:
 * - a torn last line in the journal (the process died mid-append): dropped and cut off, the state is the one before;
 * - a journal older than the snapshot (died between writing the snapshot and starting the new journal): its changes
 *   are all in the snapshot already, so it is ignored;
 * - anything else unreadable: an error naming the file, never a silent loss.
 */

export type Collection = 'contracts' | 'records' | 'bills';

type JournalEntry =
  { c: Collection; k: string; v: unknown } | { c: Collection; k: string; d: true } | { clockOffsetMs: number };

interface JournalHeader {
  journal: 1;
  generation: number;
}

export interface StoreOptions {
  /** Fold the journal into a snapshot once it holds this many changes and more than twice the objects; default 10 000. */
  compactAfter?: number;
}

export class SandboxStore {
  data: SandboxStateData;
  private readonly file: string | undefined;
  private readonly journalFile: string | undefined;
  private readonly compactAfter: number;
  private generation = 0;
  private journalEntries = 0;
  /** The journal length at which to check next whether it has outgrown the state. */
  private nextCheck: number;
  private fd: number | undefined;

  constructor(file?: string, options: StoreOptions = {}) {
    this.file = file;
    this.journalFile = file?.replace(/(\.json)?$/, '.journal');
    this.compactAfter = options.compactAfter ?? 10_000;
    this.nextCheck = this.compactAfter;
    this.data = emptyState();
    if (!file) return;
    mkdirSync(dirname(file), { recursive: true });
    if (existsSync(file)) ({ data: this.data, generation: this.generation } = loadSnapshot(file));
    this.openJournal();
  }

  /** Call after changing (or deleting) `data[collection][key]`: records its current value. */
  changed(collection: Collection, key: string): void {
    const value = this.data[collection][key];
    this.append(value === undefined ? { c: collection, k: key, d: true } : { c: collection, k: key, v: value });
  }

  /** Call after changing `data.clockOffsetMs`. */
  clockChanged(): void {
    this.append({ clockOffsetMs: this.data.clockOffsetMs });
  }

  reset(): void {
    this.data = emptyState();
    if (this.file) this.compact();
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private append(entry: JournalEntry): void {
    if (this.fd === undefined) return;
    writeSync(this.fd, `${JSON.stringify(entry)}\n`);
    this.journalEntries++;
    if (this.journalEntries < this.nextCheck) return;
    // Counting the objects is O(state), so it is done only when the journal may have outgrown them.
    const { contracts, records, bills } = this.data;
    const objects = Object.keys(contracts).length + Object.keys(records).length + Object.keys(bills).length;
    if (this.journalEntries > 2 * objects) this.compact();
    else this.nextCheck = 2 * objects + 1;
  }

  /** A new snapshot (durable before it replaces the old one), then a new, empty journal of its generation. */
  private compact(): void {
    const file = this.file!;
    this.close();
    this.generation++;
    writeDurably(file, JSON.stringify({ ...this.data, generation: this.generation }));
    const header: JournalHeader = { journal: 1, generation: this.generation };
    writeDurably(this.journalFile!, `${JSON.stringify(header)}\n`);
    this.fd = openSync(this.journalFile!, 'a', 0o600);
    this.journalEntries = 0;
    this.nextCheck = this.compactAfter;
  }

  /** Replays the journal of this snapshot's generation (cutting off a torn last line), then appends to it. */
  private openJournal(): void {
    const file = this.journalFile!;
    if (!existsSync(file)) return this.compact();
    const text = readFileSync(file, 'utf8');
    const lines = text.split('\n');
    const header = parseLine(lines[0] ?? '') as Partial<JournalHeader> | undefined;
    // A missing or older header: the snapshot already holds every change of that journal (see the class comment).
    if (header?.journal !== 1 || header.generation !== this.generation) return this.compact();
    let goodBytes = Buffer.byteLength(`${lines[0]}\n`);
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const last = i === lines.length - 1;
      if (last && line === '') break;
      const entry = parseLine(line) as JournalEntry | undefined;
      if (entry === undefined || (last && !text.endsWith('\n'))) {
        if (!last)
          throw new Error(`sandbox journal ${file}: line ${i + 1} is unreadable; move it away to start afresh`);
        break; // torn by a crash mid-append
      }
      this.apply(entry);
      this.journalEntries++;
      goodBytes += Buffer.byteLength(`${line}\n`);
    }
    this.fd = openSync(file, 'r+', 0o600);
    ftruncateSync(this.fd, goodBytes);
    closeSync(this.fd);
    this.fd = openSync(file, 'a', 0o600);
  }

  private apply(entry: JournalEntry): void {
    if ('clockOffsetMs' in entry) {
      this.data.clockOffsetMs = entry.clockOffsetMs;
      return;
    }
    const collection = this.data[entry.c] as Record<string, unknown>;
    if ('d' in entry) delete collection[entry.k];
    else collection[entry.k] = entry.v;
  }
}

function parseLine(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

function writeDurably(file: string, text: string): void {
  const temp = `${file}.${process.pid}.tmp`;
  const fd = openSync(temp, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, file);
}

function loadSnapshot(file: string): { data: SandboxStateData; generation: number } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`sandbox state ${file}: not valid JSON (${(err as Error).message}); move it away to start afresh`, {
      cause: err,
    });
  }
  const state = parsed as (Partial<SandboxStateData> & { generation?: number }) | null;
  if (!state || state.version !== 1 || typeof state.contracts !== 'object' || typeof state.records !== 'object') {
    throw new Error(`sandbox state ${file}: unknown format; move it away to start afresh`);
  }
  const { generation = 0, ...data } = state;
  return { data: { ...emptyState(), ...data } as SandboxStateData, generation };
}
