import { defineConfig } from 'vitest/config';

// Each test file runs in its own process: Dawn holds native state per process, and a fresh
// process per file keeps one file's pipelines from piling up in another's.
export default defineConfig({
  test: {
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
