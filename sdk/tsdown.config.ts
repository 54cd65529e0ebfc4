import { defineConfig } from 'tsdown';

/**
 * ESM (dist/index.js) and CJS (dist/index.cjs) with bundled declarations (index.d.ts, index.d.cts).
 * @trpc/client (and the few @trpc/server runtime helpers it uses) are bundled in: the package has
 * no runtime dependencies, so installing it never pulls tRPC, or TypeScript as tRPC's peer, into
 * an app. The router's types never reach the output: see scripts/generate-types.ts.
 */
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  platform: 'node',
  target: 'node20',
  fixedExtension: false,
  dts: { tsconfig: 'tsconfig.json' },
  // tRPC is bundled in; the output may import nothing but Node built-ins (the build fails otherwise).
  deps: { alwaysBundle: [/^@trpc\//], onlyBundle: false, onlyImport: [] },
  checks: { bundlerTimings: false },
  sourcemap: false,
  clean: true,
  exports: false,
});
