#!/usr/bin/env node
// The `asyncqueue` command. Node ≥ 24 strips the types of the TypeScript sources it imports.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(
    `asyncqueue needs Node.js 24 (this is ${process.version}). Run it through npm (npx asyncqueue …), which uses the project's pinned Node.\n`,
  );
  process.exit(1);
}
await import('../src/cli.ts');
