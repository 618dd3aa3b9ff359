// Adds up the vitest JSON reports that each package writes to TESSERA_TEST_REPORT_DIR and prints
// one closing line: "tests: N passed, N failed". Exits 1 when a report is missing tests or any failed.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? '.ci/results';
let passed = 0, failed = 0, skipped = 0, files = 0;
for (const f of readdirSync(dir).filter((n) => n.endsWith('.json'))) {
  const r = JSON.parse(readFileSync(join(dir, f), 'utf8'));
  files++;
  passed += r.numPassedTests ?? 0;
  // A file that fails to load has no failed tests but a failed suite: count it once.
  failed += (r.numFailedTests ?? 0) || (r.numFailedTestSuites ?? 0);
  skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
}
if (files === 0) { console.log('tests: 0 passed, 1 failed (no test reports found)'); process.exit(1); }
console.log(`tests: ${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ''));
process.exit(failed > 0 || passed === 0 ? 1 : 0);
