import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

/**
 * Replay histories in test/histories/*.json. The SDK's historyToJSON/historyFromJSON fail in this install
 * ("type must be a Type": @temporalio/common and @temporalio/proto each carry their own protobufjs), so the
 * histories are written and read with the proto package's own toObject/fromObject (enum names, base64 bytes).
 */

const History = temporal.api.history.v1.History;
export const HISTORIES_DIR = join(__dirname, '..', 'histories');
/**
 * Histories recorded before patch `evidence-only-failures`: they replay the old branch of every behaviour it guards
 * (kept as recorded; new recordings go to HISTORIES_DIR and never overwrite them).
 */
export const LEGACY_HISTORIES_DIR = join(HISTORIES_DIR, 'legacy');

/**
 * With RECORD_HISTORIES=1, writes the run's history to test/histories/<workflowId>.json for the replay test
 * (the file name is the workflow id: the lifecycle checks its id against the contract code, in replay too).
 */
export async function maybeRecordHistory(handle: WorkflowHandle): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  const history = History.create(await handle.fetchHistory());
  mkdirSync(HISTORIES_DIR, { recursive: true });
  const json = History.toObject(history, { longs: String, enums: String, bytes: String });
  writeFileSync(join(HISTORIES_DIR, `${handle.workflowId}.json`), `${JSON.stringify(json, null, 1)}\n`);
}

export function loadRecordedHistories(): Array<{
  workflowId: string;
  file: string;
  history: temporal.api.history.v1.IHistory;
}> {
  return [LEGACY_HISTORIES_DIR, HISTORIES_DIR].flatMap((dir) =>
    readdirSync(dir)
      .filter((name) => name.endsWith('.json'))
      .map((name) => ({
        workflowId: name.replace(/\.json$/, ''),
        file: join(dir, name),
        history: History.fromObject(JSON.parse(readFileSync(join(dir, name), 'utf8'))),
      })),
  );
}
