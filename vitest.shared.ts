import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const packagesDir = fileURLToPath(new URL('./packages/', import.meta.url));
/** Tests import workspace packages from their sources: one module instance, no rebuild between edits. */
const alias = Object.fromEntries(readdirSync(packagesDir).map((name) => [`@tessera/${name}`, `${packagesDir}${name}/src/index.ts`]));

/**
 * Shared vitest settings for every package. Each test file runs in its own process: Dawn holds
 * native state per process, and a fresh process per file keeps one file's GPU pipelines from
 * piling up in another's. With TESSERA_TEST_REPORT_DIR set (CI), a JSON report per package is
 * written there for the closing summary line.
 */
export function tesseraVitestConfig(packageName: string) {
  const dir = process.env.TESSERA_TEST_REPORT_DIR;
  return defineConfig({
    resolve: { alias },
    test: {
      pool: 'forks',
      // --expose-gc lets tests force collection: the webgpu lifetime test relies on it.
      poolOptions: { forks: { execArgv: ['--expose-gc'] } },
      fileParallelism: false,
      testTimeout: 120_000,
      hookTimeout: 120_000,
      reporters: dir ? ['default', ['json', { outputFile: `${dir}/${packageName.replace(/[@/]/g, '_')}.json` }]] : ['default'],
    },
  });
}
