import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { EVIDENCE_ONLY_PATCH } from '../../src/workflows/lifecycle/legacy';
import { LENDER_EVENTS_PATCH } from '../../src/workflows/lifecycle/lenderEvents';
import { LEGACY_HISTORIES_DIR, loadRecordedHistories } from './recordHistory';

/**
 * Replays every committed history (test/histories/**.json, recorded from real runs with RECORD_HISTORIES=1)
 * against the current workflow code, so that a non-deterministic change fails the build. Both branches of each
 * patch are covered: test/histories/legacy/ was recorded before the patches, test/histories/ after them.
 */

const PATCHES = [EVIDENCE_ONLY_PATCH, 'bill-tracker-retries-infrastructure', LENDER_EVENTS_PATCH];

it('replays every recorded history without non-determinism', async () => {
  const histories = loadRecordedHistories();
  expect(histories.length).toBeGreaterThan(0);
  const workflowBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../../src/workflows') });
  const failures: string[] = [];
  let replayed = 0;
  for await (const result of Worker.runReplayHistories({ workflowBundle }, histories)) {
    replayed += 1;
    if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
  }
  expect(failures).toEqual([]);
  expect(replayed).toBe(histories.length);
}, 120_000);

/** The patch ids of a history's markers (their payloads hold the id as JSON). */
function patchesOf(history: ReturnType<typeof loadRecordedHistories>[number]['history']): string[] {
  return (history.events ?? []).flatMap((event) =>
    Object.values(event.markerRecordedEventAttributes?.details ?? {}).flatMap((payloads) =>
      (payloads.payloads ?? []).map((payload) => Buffer.from(payload.data ?? []).toString('utf8')),
    ),
  );
}

it.each(PATCHES)('has recorded histories of both branches of patch %s', (patch) => {
  const histories = loadRecordedHistories();
  const marked = histories.filter((h) => patchesOf(h.history).some((id) => id.includes(patch)));
  const unmarked = histories.filter(
    (h) => h.file.startsWith(LEGACY_HISTORIES_DIR) && !patchesOf(h.history).some((id) => id.includes(patch)),
  );
  expect(marked.length).toBeGreaterThan(0);
  expect(unmarked.length).toBeGreaterThan(0);
});
