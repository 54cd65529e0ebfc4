import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './server-process.ts';

const execFileAsync = promisify(execFile);

/**
 * A copy of the work tree as `git clone` would give it, into `dest`: the files git tracks plus new
 * ones it does not ignore (so uncommitted edits count), and nothing it ignores (no dist/, no
 * .asyncqueue/, no node_modules). node_modules is then linked to the repository's own, so npm
 * scripts find their tools without an install.
 */
export async function copyCleanCheckout(dest: string): Promise<void> {
  const { stdout } = await execFileAsync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: REPO_ROOT,
    // Why 16 MiB: the file list of this repository is a few kilobytes; this only bounds a surprise.
    maxBuffer: 16 * 1024 * 1024,
  });
  const files = stdout.split('\0').filter((file) => file !== '' && existsSync(path.join(REPO_ROOT, file)));
  for (const file of files) {
    await mkdir(path.dirname(path.join(dest, file)), { recursive: true });
    await cp(path.join(REPO_ROOT, file), path.join(dest, file));
  }
  await symlink(path.join(REPO_ROOT, 'node_modules'), path.join(dest, 'node_modules'), 'dir');
}
