/**
 * Runs every teardown step in order even when one fails, so that nothing (workers, sandbox, server, temp dirs)
 * outlives a test file; then rethrows the first failure.
 */
export async function runEveryStep(...steps: Array<() => unknown>): Promise<void> {
  const failures: unknown[] = [];
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      failures.push(error);
    }
  }
  if (failures.length > 0) throw failures[0];
}
