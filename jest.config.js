/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    // Type checking is `npm run typecheck`'s job; the tests only need the JavaScript.
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
  },
  globalSetup: '<rootDir>/test/harness/globalSetup.ts',
  reporters: ['default', '<rootDir>/test/harness/summaryReporter.js'],
  testTimeout: 60_000,
  slowTestThreshold: 30,
};
