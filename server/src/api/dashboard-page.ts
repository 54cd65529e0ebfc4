import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built dashboard (dashboard/build.ts writes it; it is committed, so `npm ci && npm start` serves it). */
export const DASHBOARD_DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dashboard/dist');

/** Only these files are served: the page, its script and its style. */
const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};

/**
 * Why: the page and its script may only talk to this server (no CDN, no telemetry, no inline
 * script). Images and media of a result may be data: URLs (base64 results), or https URLs that the
 * user chose to preview with a click (nothing outside the origin is requested on its own).
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: https:",
  "media-src 'self' data: https:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

const cache = new Map<string, Buffer>();

/** Serves the dashboard at `/` and its two assets; false for any other path. */
export async function serveDashboard(pathname: string, res: ServerResponse): Promise<boolean> {
  const entry = FILES[pathname];
  if (!entry) return false;
  let content = cache.get(entry.file);
  if (!content) {
    content = await readFile(path.join(DASHBOARD_DIST, entry.file));
    cache.set(entry.file, content);
  }
  res.writeHead(200, {
    'Content-Type': entry.type,
    'Content-Security-Policy': CSP,
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    // Why no-cache: the assets keep their names across versions; a revalidation is one cheap request.
    'Cache-Control': 'no-cache',
  });
  res.end(content);
  return true;
}
