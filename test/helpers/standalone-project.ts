import { execFile } from 'node:child_process';

/**
 * The compiler options of a throwaway project outside the repository (a generated client, the
 * installed SDK): strict ES2022 with Node's module resolution and no ambient @types, so only what
 * the project itself declares type-checks. Each test adds the options its project needs.
 */
export const STANDALONE_COMPILER_OPTIONS = {
  strict: true,
  noEmit: true,
  target: 'es2022',
  module: 'nodenext',
  moduleResolution: 'nodenext',
  lib: ['es2022', 'dom', 'dom.iterable'],
  types: [],
};

export type CommandResult = { code: number; stdout: string; stderr: string };

// Why 32 MiB: far above what npm, tsc or a test script print; past it execFile kills the command.
const MAX_OUTPUT_BYTES = 32 * 1024 * 1024;

/** Runs a command to its end and never rejects: a failed start or a kill by signal counts as code 1. */
export function runCommand(
  cmd: string,
  args: string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: opts.cwd, env: opts.env, maxBuffer: MAX_OUTPUT_BYTES }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}
