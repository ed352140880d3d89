import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { emptyState, type SandboxStateData } from './model';

/**
 * Holds the business state; with a file, loads it at start and saves it after every change (temp file + rename,
 * so a crash mid-write leaves the previous state intact).
 */
export class SandboxStore {
  data: SandboxStateData;
  private readonly file: string | undefined;

  constructor(file?: string) {
    this.file = file;
    this.data = file && existsSync(file) ? loadState(file) : emptyState();
  }

  /** Call after every mutation of `data`. */
  changed(): void {
    if (!this.file) return;
    mkdirSync(dirname(this.file), { recursive: true });
    const temp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(temp, JSON.stringify(this.data, null, 2), { mode: 0o600 });
    renameSync(temp, this.file);
  }

  reset(): void {
    this.data = emptyState();
    this.changed();
  }
}

function loadState(file: string): SandboxStateData {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`sandbox state ${file}: not valid JSON (${(err as Error).message}); move it away to start afresh`, {
      cause: err,
    });
  }
  const state = parsed as Partial<SandboxStateData> | null;
  if (!state || state.version !== 1 || typeof state.contracts !== 'object' || typeof state.records !== 'object') {
    throw new Error(`sandbox state ${file}: unknown format; move it away to start afresh`);
  }
  return { ...emptyState(), ...state } as SandboxStateData;
}
