import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['server/src/**/*.test.ts', 'test/**/*.test.ts', 'sdk/src/**/*.test.ts'],
    // Real processes and a real PostgreSQL: forks isolate native handles and env per file.
    pool: 'forks',
    globalSetup: ['test/helpers/global-setup.ts'],
    // Why: end-to-end files start servers, databases and child processes; 60 s bounds a hung file
    // without flaking on a loaded 2-core CI machine.
    testTimeout: 60_000,
    hookTimeout: 90_000,
    // Why: two cores; more parallel files than this just queue on CPU and stretch timeouts.
    maxWorkers: 3,
  },
});
