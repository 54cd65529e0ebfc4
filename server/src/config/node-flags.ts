/**
 * V8 flags the server runs with (`npm start`, the Dockerfile, the benchmarks). Why: left alone, V8
 * grows a 128 MB young generation and collects old space late, so RSS reached 417 MB with 10,000
 * waiting tasks and 1,000 long-polls although the live heap was ~50 MB; with these flags it was
 * 240 MB (bench/README.md). 384 MB of old space stays above the worst live set we allow
 * (64 concurrent dispatches × 5 MiB response bodies).
 */
export const SERVER_NODE_FLAGS = ['--max-semi-space-size=16', '--max-old-space-size=384'] as const;

/** The server flags not set yet by `execArgv` or NODE_OPTIONS (a flag the user set keeps its value). */
export function missingServerFlags(execArgv: readonly string[], nodeOptions = ''): string[] {
  const given = [...execArgv, ...nodeOptions.split(/\s+/)].map((arg) => arg.split('=')[0]);
  return SERVER_NODE_FLAGS.filter((flag) => !given.includes(flag.split('=')[0]));
}
