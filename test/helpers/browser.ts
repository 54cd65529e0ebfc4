import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createBrotliDecompress } from 'node:zlib';
import { type Browser, chromium } from 'playwright-core';
import { REPO_ROOT } from './server-process.ts';

/**
 * The one place that decides which Chromium the browser tests drive:
 * - Debian's /usr/bin/chromium when it is installed (a developer machine or CI that has it);
 * - otherwise the Chromium that comes through npm itself: the root devDependency
 *   `@sparticuz/chromium` ships a brotli-compressed headless Chromium inside the package (no
 *   download at install or run time). It is unpacked once into node_modules/.cache, so
 *   `npm ci && npm test` is enough on a fresh machine. It links only glibc, NSS/NSPR and expat.
 * Never a browser that a tool downloads on its own.
 *
 * Run as a script (`node test/helpers/browser.ts`) it launches the browser once and prints which
 * one: .ci/run uses that to know whether it must fall back to Debian's package.
 */

export const SYSTEM_CHROMIUM = '/usr/bin/chromium';

/** Flags for a headless run as root in a container, with nothing phoning home. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The packaged Chromium's compressed binary and the version it belongs to. */
async function packagedChromium(): Promise<{ archive: string; version: string }> {
  // The package exports only its entry (build/index.js); its root is one folder up.
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.resolve('@sparticuz/chromium'))), '..');
  const { version } = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as { version: string };
  return { archive: path.join(root, 'bin/chromium.br'), version };
}

/**
 * Unpacks the packaged Chromium (about 200 MB, ~2 s) into node_modules/.cache/asyncqueue-chromium/<version>/.
 * Written to a file of its own and renamed into place, so a concurrent test file or a killed run
 * never leaves a half-written binary at the final path.
 */
async function unpackPackagedChromium(): Promise<string> {
  const { archive, version } = await packagedChromium();
  const dir = path.join(REPO_ROOT, 'node_modules/.cache/asyncqueue-chromium', version);
  const binary = path.join(dir, 'chromium');
  if (existsSync(binary)) return binary;
  await mkdir(dir, { recursive: true });
  const partial = `${binary}.${process.pid}.partial`;
  try {
    await pipeline(createReadStream(archive), createBrotliDecompress(), createWriteStream(partial));
    await chmod(partial, 0o755);
    await rename(partial, binary);
  } finally {
    await rm(partial, { force: true });
  }
  return binary;
}

/** Debian's chromium when present, else the packaged one (unpacked on first use). */
export async function chromiumExecutable(): Promise<string> {
  return existsSync(SYSTEM_CHROMIUM) ? SYSTEM_CHROMIUM : unpackPackagedChromium();
}

/** A headless Chromium driven by playwright-core, with a fresh temporary profile of its own. */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: await chromiumExecutable(), args: CHROMIUM_ARGS });
}

if (import.meta.main) {
  const browser = await launchChromium();
  process.stdout.write(`chromium ${browser.version()} at ${await chromiumExecutable()}\n`);
  await browser.close();
}
