import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// The size rules of docs/architecture.md ("Conventions") that no linter checks: a file holds one
// job, so it stays under 300 lines (functions stay under 60: biome's noExcessiveLinesPerFunction).

/** Why 300: past that a file holds more than one job; split it by job, not by line count. */
const MAX_FILE_LINES = 300;
const ROOT = path.resolve(import.meta.dirname, '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts'))
    .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)))
    .filter((f) => !f.includes(`${path.sep}generated${path.sep}`));
}

describe('source shape', () => {
  it(`keeps every file of server/src and sdk/src under ${MAX_FILE_LINES} lines`, () => {
    const files = [...sourceFiles('server/src'), ...sourceFiles('sdk/src')];
    expect(files.length).toBeGreaterThan(100);
    const long = files
      .map((f) => ({ f, lines: readFileSync(path.join(ROOT, f), 'utf8').split('\n').length }))
      .filter(({ lines }) => lines > MAX_FILE_LINES);
    expect(long).toEqual([]);
  });
});
