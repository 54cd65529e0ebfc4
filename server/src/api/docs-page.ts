import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const SWAGGER_DIR = path.dirname(require.resolve('swagger-ui-dist/package.json'));

/** Only these files are served from swagger-ui-dist: the page needs nothing else, and no CDN. */
const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>AsyncQueue API reference</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <link rel="icon" href="/docs/favicon-32x32.png">
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>`;

// validatorUrl null: Swagger UI would otherwise send the document to validator.swagger.io.
// persistAuthorization false: an API key typed into "Authorize" stays in the page's memory only;
// persisted, it would sit in localStorage, readable by any script on the origin and left behind on
// a shared machine.
const INIT = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', validatorUrl: null,
  deepLinking: true, tryItOutEnabled: true, persistAuthorization: false });`;

/** Why: the page and its assets may only talk to this server (no CDN, no telemetry). */
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

const cache = new Map<string, Buffer>();

/** Serves /docs (the interactive reference) and its assets. Returns false for other paths. */
export async function serveDocs(pathname: string, res: ServerResponse): Promise<boolean> {
  if (pathname === '/docs' || pathname === '/docs/') {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': CSP });
    res.end(PAGE);
    return true;
  }
  if (pathname === '/docs/init.js') {
    res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8' });
    res.end(INIT);
    return true;
  }
  const name = pathname.startsWith('/docs/') ? pathname.slice('/docs/'.length) : '';
  const type = ASSETS[name];
  if (!type) return false;
  let content = cache.get(name);
  if (!content) {
    content = await readFile(path.join(SWAGGER_DIR, name));
    cache.set(name, content);
  }
  // Why 1 day: assets change only with the package version; the page itself is never cached.
  res.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'public, max-age=86400' });
  res.end(content);
  return true;
}
