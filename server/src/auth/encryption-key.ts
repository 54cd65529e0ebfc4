import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

const KEY_FILE = 'encryption.key';

/**
 * The key for values encrypted at rest: ASYNCQUEUE_ENCRYPTION_KEY when set; otherwise a key file
 * created once in the data dir. A key file only works for one machine, hence the warning.
 */
export async function resolveEncryptionKey(opts: {
  configured: Buffer | undefined;
  dataDir: string;
  warn: (message: string) => void;
}): Promise<Buffer> {
  if (opts.configured) return opts.configured;
  const file = path.join(opts.dataDir, KEY_FILE);
  try {
    const key = Buffer.from((await readFile(file, 'utf8')).trim(), 'base64');
    if (key.length === 32) return key;
    throw new Error(`${file} does not hold the base64 of 32 bytes; fix or delete it`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const key = randomBytes(32);
  await mkdir(opts.dataDir, { recursive: true });
  await writeFile(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' }).catch(async (error) => {
    // Another process created it first: use theirs.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  });
  opts.warn(
    `ASYNCQUEUE_ENCRYPTION_KEY is not set: using the key file ${file}. Multi-instance deployments must set ASYNCQUEUE_ENCRYPTION_KEY (openssl rand -base64 32) on every instance.`,
  );
  return Buffer.from((await readFile(file, 'utf8')).trim(), 'base64');
}
