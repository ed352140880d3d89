import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { loadRecordedHistories } from './recordHistory';

/**
 * Replays every committed history (test/histories/*.json, recorded from real runs with RECORD_HISTORIES=1)
 * against the current workflow code, so that a non-deterministic change fails the build.
 */

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
}, 60_000);
