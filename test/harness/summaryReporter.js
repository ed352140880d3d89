const { mkdirSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

// Prints the plain closing line `N passed, N failed[, N skipped]` that CI reads (Jest's own summary is not one of
// the formats it knows), and keeps it in artifacts/test-summary.txt so that .ci/run can repeat it as its last line.
class SummaryReporter {
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
  }

  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const line = `${results.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`;
    process.stdout.write(`\n${line}\n`);
    const dir = join(this.rootDir, 'artifacts');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'test-summary.txt'), `${line}\n`);
  }
}
module.exports = SummaryReporter;
