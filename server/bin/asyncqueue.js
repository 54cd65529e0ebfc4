#!/usr/bin/env node
// The `asyncqueue` command. Node ≥ 24 strips the types of the TypeScript sources it imports.
import { fileURLToPath } from 'node:url';

const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(
    `asyncqueue needs Node.js 24 (this is ${process.version}). Run it through npm (npx asyncqueue …), which uses the project's pinned Node.\n`,
  );
  process.exit(1);
}
if (process.argv[2] === 'serve') {
  // The server's V8 flags (see node-flags.ts: without them RSS nearly doubles) can only be set when
  // Node starts: `serve` re-executes itself with them, in place (same process id, so signals from a
  // supervisor reach the server itself). Flags the user already set win.
  const { missingServerFlags } = await import('../src/config/node-flags.ts');
  const missing = missingServerFlags(process.execArgv, process.env.NODE_OPTIONS);
  if (missing.length > 0 && typeof process.execve === 'function') {
    const self = fileURLToPath(import.meta.url);
    process.execve(process.execPath, [
      process.execPath,
      ...process.execArgv,
      ...missing,
      self,
      ...process.argv.slice(2),
    ]);
  }
}
await import('../src/cli.ts');
