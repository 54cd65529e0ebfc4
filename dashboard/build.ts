/**
 * Builds the dashboard (dashboard/src → server/dashboard/dist) with esbuild: one script bundle
 * (Preact and the pages, minified), the stylesheet and the page. The output is committed, so
 * `npm ci && npm start` serves it without a build step; `--check` builds into a temporary folder
 * and fails when the committed files differ (CI runs it through `npm run dashboard:check`).
 */
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = path.dirname(fileURLToPath(import.meta.url));
const SOURCE = path.join(ROOT, 'src');
export const DIST = path.resolve(ROOT, '../server/dashboard/dist');

export async function buildDashboard(outDir: string): Promise<void> {
  await mkdir(outDir, { recursive: true });
  await build({
    entryPoints: [path.join(SOURCE, 'main.tsx')],
    outfile: path.join(outDir, 'app.js'),
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    legalComments: 'none',
    logLevel: 'warning',
  });
  await build({
    entryPoints: [path.join(SOURCE, 'app.css')],
    outfile: path.join(outDir, 'app.css'),
    minify: true,
    logLevel: 'warning',
  });
  await copyFile(path.join(SOURCE, 'index.html'), path.join(outDir, 'index.html'));
}

/** The names of the files that differ between the committed build and a fresh one. */
export async function staleFiles(): Promise<string[]> {
  const fresh = await mkdtemp(path.join(os.tmpdir(), 'aq-dashboard-'));
  try {
    await buildDashboard(fresh);
    const stale: string[] = [];
    for (const name of await readdir(fresh)) {
      const committed = await readFile(path.join(DIST, name)).catch(() => null);
      if (!committed?.equals(await readFile(path.join(fresh, name)))) stale.push(name);
    }
    return stale;
  } finally {
    await rm(fresh, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  if (process.argv.includes('--check')) {
    const stale = await staleFiles();
    if (stale.length > 0) {
      process.stderr.write(`server/dashboard/dist is out of date (${stale.join(', ')}): run npm run dashboard:build\n`);
      process.exit(1);
    }
    process.stdout.write('server/dashboard/dist is current\n');
  } else {
    await buildDashboard(DIST);
    process.stdout.write(`dashboard built into ${path.relative(process.cwd(), DIST)}\n`);
  }
}
