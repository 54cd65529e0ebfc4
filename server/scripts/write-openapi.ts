import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buildOpenApiDocument } from '../src/api/openapi-document.ts';
import { appRouter } from '../src/api/routers/app-router.ts';
import { VERSION } from '../src/config/config.ts';

/**
 * Writes openapi/openapi.json from the router (`npm run openapi`), or with --check fails when the
 * checked-in file differs from what the router generates (`npm run openapi:check`, run by CI).
 */
const target = path.resolve(import.meta.dirname, '../../openapi/openapi.json');
const doc = buildOpenApiDocument(appRouter, { publicUrl: 'http://localhost:3000', version: VERSION });
const text = `${JSON.stringify(doc, null, 2)}\n`;

if (process.argv.includes('--check')) {
  const current = await readFile(target, 'utf8').catch(() => '');
  if (current !== text) {
    process.stderr.write('openapi/openapi.json is out of date with the router. Run `npm run openapi` and commit it.\n');
    process.exit(1);
  }
  process.stdout.write('openapi/openapi.json is up to date.\n');
} else {
  await writeFile(target, text);
  process.stdout.write(`wrote ${path.relative(process.cwd(), target)}\n`);
}
