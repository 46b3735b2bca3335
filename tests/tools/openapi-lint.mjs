// openapi-lint.mjs — lints an OpenAPI document with Redocly's linter
// (@redocly/openapi-core, the engine behind `redocly lint`, pinned by
// package-lock.json) under the rules of redocly.yaml beside this file.
//
//   node tests/tools/openapi-lint.mjs gateway/docs/openapi.json
//
// Prints every problem with its rule and JSON pointer; exits 1 when there is
// any, warnings included, 0 when there is none, 2 when it cannot run.
import { lint, loadConfig } from '@redocly/openapi-core';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const file = process.argv[2];
if (!file) {
  console.error('usage: node openapi-lint.mjs <openapi.json>');
  process.exit(2);
}
const here = dirname(fileURLToPath(import.meta.url));
try {
  const config = await loadConfig({ configPath: join(here, 'redocly.yaml') });
  const problems = await lint({ ref: file, config });
  for (const p of problems) {
    const where = (p.location || []).map((l) => l.pointer).join(', ');
    console.log(`${p.severity} ${p.ruleId}: ${p.message} (${where})`);
  }
  console.log(`openapi-lint: ${file}: ${problems.length} problem(s)`);
  process.exit(problems.length === 0 ? 0 : 1);
} catch (e) {
  console.error(`openapi-lint: ${e.message}`);
  process.exit(2);
}
