import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SandboxRecord } from '../../src/sandbox/model';
import { SandboxStore } from '../../src/sandbox/store';

/**
 * The sandbox's persistence (what `npm start` keeps in .sandbox/): every change is one appended journal line, the
 * snapshot is rewritten only when the journal has outgrown the state, and whatever a crash leaves (a torn last
 * line, a journal older than the snapshot) loads into the state as it was before the interrupted write.
 */

let dir: string;
let file: string;
const journal = (): string => join(dir, 'state.journal');

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sandbox-store-'));
  file = join(dir, 'state.json');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function record(id: string, amount = '100000'): SandboxRecord {
  return {
    out_record_id: id,
    contract_id: 'WXC1',
    appid: 'wxd678efh567hg6787',
    openid: 'o1',
    repayment_amount: amount,
    min_repayment_amount: '5000',
    repayment_date: '2027-03-01',
    created_time: '2027-02-22T00:30:00+08:00',
  };
}

function put(store: SandboxStore, id: string, amount?: string): void {
  store.data.records[id] = record(id, amount);
  store.changed('records', id);
}

function reopened(options?: ConstructorParameters<typeof SandboxStore>[1]): SandboxStore {
  const store = new SandboxStore(file, options);
  store.close();
  return store;
}

it('keeps puts, changes, deletions and the clock across a restart', () => {
  const store = new SandboxStore(file);
  put(store, 'R1');
  put(store, 'R2');
  put(store, 'R1', '999');
  delete store.data.records.R2;
  store.changed('records', 'R2');
  store.data.clockOffsetMs = 86_400_000;
  store.clockChanged();
  store.close();
  const again = reopened();
  expect(again.data.records).toEqual({ R1: record('R1', '999') });
  expect(again.data.clockOffsetMs).toBe(86_400_000);
});

it('appends one line per change and leaves the snapshot alone until the journal outgrows the state', () => {
  const store = new SandboxStore(file, { compactAfter: 500 });
  const snapshot = statSync(file);
  for (let i = 0; i < 400; i++) put(store, `R${i}`);
  expect(readFileSync(journal(), 'utf8').trim().split('\n')).toHaveLength(1 + 400);
  expect(statSync(file).mtimeMs).toBe(snapshot.mtimeMs);
  expect(statSync(file).size).toBe(snapshot.size);
  // Past compactAfter and twice the objects: folded into the snapshot, and the journal starts again.
  for (let i = 0; i < 500; i++) put(store, `R${i % 200}`, String(1000 + i));
  expect(statSync(file).size).toBeGreaterThan(snapshot.size);
  expect(readFileSync(journal(), 'utf8').trim().split('\n').length).toBeLessThan(500);
  store.close();
  const again = reopened();
  expect(Object.keys(again.data.records)).toHaveLength(400);
  expect(again.data.records.R99!.repayment_amount).toBe('1499'); // its last change, i = 499
});

it('drops a torn last line (a crash mid-append) and keeps appending after the last whole change', () => {
  const store = new SandboxStore(file);
  put(store, 'R1');
  store.close();
  const whole = JSON.stringify({ c: 'records', k: 'R2', v: record('R2') });
  appendFileSync(journal(), whole.slice(0, whole.length / 2)); // the process died here
  const after = new SandboxStore(file);
  expect(Object.keys(after.data.records)).toEqual(['R1']);
  put(after, 'R3');
  after.close();
  expect(Object.keys(reopened().data.records)).toEqual(['R1', 'R3']);
  // A whole entry whose newline never made it is torn too: only a complete line counts.
  appendFileSync(journal(), whole);
  expect(Object.keys(reopened().data.records)).toEqual(['R1', 'R3']);
});

it('ignores a journal older than the snapshot (a crash between the two files of a compaction)', () => {
  const store = new SandboxStore(file);
  put(store, 'R1');
  const before = join(dir, 'journal-before-reset');
  copyFileSync(journal(), before);
  store.reset(); // a new, empty snapshot and journal
  store.close();
  copyFileSync(before, journal()); // as if the crash came after the snapshot's rename
  expect(reopened().data.records).toEqual({});
});

it('refuses a journal damaged before its last line instead of losing changes silently', () => {
  const store = new SandboxStore(file);
  put(store, 'R1');
  put(store, 'R2');
  store.close();
  const lines = readFileSync(journal(), 'utf8').split('\n');
  lines[1] = '{"c":"records",';
  writeFileSync(journal(), lines.join('\n'));
  expect(() => new SandboxStore(file)).toThrow(/state\.journal: line 2 is unreadable/);
});

it('loads a state.json written before the journal existed', () => {
  writeFileSync(
    file,
    JSON.stringify({ version: 1, contracts: {}, records: { R1: record('R1') }, bills: {}, clockOffsetMs: 5 }),
  );
  const store = new SandboxStore(file);
  expect(store.data.records).toEqual({ R1: record('R1') });
  put(store, 'R2');
  store.close();
  expect(Object.keys(reopened().data.records)).toEqual(['R1', 'R2']);
  expect(reopened().data.clockOffsetMs).toBe(5);
});
