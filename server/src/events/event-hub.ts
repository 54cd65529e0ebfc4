import type { MikroORM } from '@mikro-orm/postgresql';
import { type ChangedTask, databaseNowMicros, findChangedTasks, listChangesAfter } from '../tasks/store/changes.ts';
import type { TaskChangeListener } from '../tasks/task-change-listener.ts';
import { changesSince } from './event-cursor.ts';
import { type EventStream, matches } from './event-stream.ts';

/** Caps and the heartbeat of live event streams (configurable, see config-schema.ts). */
export type EventLimits = { maxStreams: number; maxStreamsPerTeam: number; heartbeatMs: number };

export type EventHub = {
  /** Registers an open stream, unless a cap is reached. */
  add(stream: EventStream): 'added' | 'team_full' | 'server_full';
  remove(stream: EventStream): void;
  streamCount(): number;
};

/** Why 10 ms: a burst of notifications shares one read, and 10 ms is far below what a person notices. */
const BATCH_WINDOW_MS = 10;
/** Why 500: one read's `id = any(…)` stays a quick index look-up and its rows a few MiB at most. */
const MAX_IDS_PER_READ = 500;
/** Why 50,000: task ids waiting for the next read (~4 MiB); past this the sweep finds the changes instead. */
const MAX_PENDING_IDS = 50_000;
/**
 * Why 10 s: a NOTIFY is a hint (a process that dies between its commit and its NOTIFY never sends
 * it); the sweep reads every recent change once per interval, so such a change still reaches the
 * streams within seconds. One query per interval per process, whatever the number of streams.
 */
const SWEEP_INTERVAL_MS = 10_000;
/**
 * Why 15 s: a change becomes visible when its transaction commits, with `updated_at` = its start;
 * transitions are one statement or one short transaction with their job inserts (milliseconds), so
 * each sweep re-reads 15 s before the previous one started and no late commit falls between sweeps.
 */
const SWEEP_OVERLAP_SECONDS = 15;
/**
 * Why 2 s: a sweep sends a stream the changes from 2 s before it opened on, not the whole window it
 * reads. A client that subscribes right after a change (its NOTIFY came before the stream was
 * there) still gets it, since a transition commits milliseconds after its start. Older changes are
 * the past, which a stream without a cursor does not ask for (Last-Event-ID replays it). Sent to
 * every new stream, they were a flood: 1,000 streams opened ~5 s after 1,000 tasks were parked got
 * ~3,000 changes each from the first sweep, the server dropped ~860 of them for being too far
 * behind, and the writes held the event loop long enough for other requests to time out.
 */
const SWEEP_GRACE_MICROS = 2_000_000n;
/** Why 500 rows × 20 pages: a sweep stays bounded; a backlog beyond it continues at the next sweep. */
const SWEEP_PAGE_ROWS = 500;
const MAX_SWEEP_PAGES = 20;
/**
 * Why 64 MiB: the unsent bytes of all streams together. Each stream may hold up to 4 MiB
 * (event-stream.ts), but 2,000 slow ones would then hold 8 GiB, far beyond the server's heap (384
 * MiB by default); past this budget the streams furthest behind are dropped first, and resume.
 */
const MAX_UNSENT_BYTES = 64 * 1024 * 1024;
/** Why 100,000: the versions sent lately (task id → version), so a sweep does not send them again; ~10 MiB. */
const MAX_REMEMBERED_VERSIONS = 100_000;

type HubState = {
  teams: Map<string, Set<EventStream>>;
  total: number;
  pending: Set<string>;
  /** Task id → the last version sent, oldest first (re-set on each send). */
  delivered: Map<string, bigint>;
  /** The database time the last sweep started at; null before the first. */
  sweptFrom: bigint | null;
};

/**
 * Fans task changes out to the open event streams of this process. Everything comes from the one
 * LISTEN connection (listener.watchAll): notified task ids are collected and read ONCE per batch for
 * every stream (one query, whatever the number of subscribers; only the teams with streams), and a
 * sweep every SWEEP_INTERVAL_MS reads what a lost NOTIFY would have hidden. No stream holds a
 * database connection; reads run one at a time on the pool.
 */
export function createEventHub(
  orm: MikroORM,
  listener: TaskChangeListener,
  limits: EventLimits,
  warn: (message: string) => void,
): EventHub {
  const state: HubState = { teams: new Map(), total: 0, pending: new Set(), delivered: new Map(), sweptFrom: null };
  const fork = () => orm.em.fork();
  let reading: Promise<void> = Promise.resolve();
  let batchScheduled = false;
  const serialized = (read: () => Promise<void>) => {
    // A failed read is left to the next sweep, which reads every recent change anyway.
    reading = reading.then(read).catch((error: unknown) => warn(`live events: a read failed (${error})`));
  };
  const readBatch = () => {
    batchScheduled = false;
    serialized(() => readPending(state, fork));
  };
  const sweep = () => serialized(() => sweepChanges(state, fork));

  const unwatch = listener.watchAll({
    onChange(taskId) {
      if (state.total === 0) return;
      if (taskId === null || state.pending.size >= MAX_PENDING_IDS) return sweep();
      state.pending.add(taskId);
      if (batchScheduled) return;
      batchScheduled = true;
      setTimeout(readBatch, BATCH_WINDOW_MS);
    },
    onClose() {
      clearInterval(sweepTimer);
      clearInterval(heartbeatTimer);
      unwatch();
      for (const streams of state.teams.values()) for (const stream of streams) stream.end();
    },
  });
  const sweepTimer = setInterval(() => state.total > 0 && sweep(), SWEEP_INTERVAL_MS).unref();
  const heartbeatTimer = setInterval(() => {
    for (const streams of state.teams.values()) for (const stream of streams) stream.heartbeat();
  }, limits.heartbeatMs).unref();

  return registry(state, limits);
}

/** Adding and removing streams under the caps. */
function registry(state: HubState, limits: EventLimits): EventHub {
  return {
    add(stream) {
      const team = state.teams.get(stream.filter.teamId) ?? new Set<EventStream>();
      if (state.total >= limits.maxStreams) return 'server_full';
      if (team.size >= limits.maxStreamsPerTeam) return 'team_full';
      state.teams.set(stream.filter.teamId, team);
      team.add(stream);
      // The first stream after none: sweeps start over from now, not from when the last one left.
      if (state.total === 0) state.sweptFrom = null;
      state.total += 1;
      return 'added';
    },
    remove(stream) {
      const team = state.teams.get(stream.filter.teamId);
      if (!team?.delete(stream)) return;
      state.total -= 1;
      if (team.size === 0) state.teams.delete(stream.filter.teamId);
    },
    streamCount: () => state.total,
  };
}

/** Reads the notified tasks (MAX_IDS_PER_READ at a time, one query for all streams) and sends them. */
async function readPending(state: HubState, fork: () => ReturnType<MikroORM['em']['fork']>): Promise<void> {
  while (state.pending.size > 0 && state.total > 0) {
    const ids = [...state.pending].slice(0, MAX_IDS_PER_READ);
    for (const id of ids) state.pending.delete(id);
    const changes = await findChangedTasks(fork(), ids, [...state.teams.keys()]);
    // Notified just now: a new change for every stream, whenever it opened (no floor).
    dispatchAll(state, changes, () => 0n);
  }
}

/**
 * Sends `changes` to their streams (each only from its floor on), keeping the unsent bytes within
 * MAX_UNSENT_BYTES after every change: checked once per read, 500 changes to 1,000 streams could
 * queue hundreds of MiB before the first check.
 */
function dispatchAll(state: HubState, changes: ChangedTask[], floorOf: (stream: EventStream) => bigint): void {
  const streams = allStreams(state);
  for (const change of changes) {
    dispatch(state, change, floorOf);
    dropFurthestBehind(streams, MAX_UNSENT_BYTES);
  }
}

function allStreams(state: HubState): EventStream[] {
  return [...state.teams.values()].flatMap((streams) => [...streams]);
}

/**
 * Keeps the unsent bytes of `streams` within `budget` by dropping the streams with the most
 * unsent, first. Returns the dropped ones.
 */
export function dropFurthestBehind(streams: EventStream[], budget: number): EventStream[] {
  let unsent = streams.reduce((sum, stream) => sum + stream.unsentBytes(), 0);
  if (unsent <= budget) return [];
  const dropped: EventStream[] = [];
  for (const stream of [...streams].sort((a, b) => b.unsentBytes() - a.unsentBytes())) {
    if (unsent <= budget) break;
    unsent -= stream.unsentBytes();
    stream.drop();
    dropped.push(stream);
  }
  return dropped;
}

/** Sends a version to every matching stream of its team whose floor it reaches, unless it was sent already. */
function dispatch(state: HubState, change: ChangedTask, floorOf: (stream: EventStream) => bigint): void {
  const { id } = change.task;
  if (state.delivered.get(id) === change.version) return;
  state.delivered.delete(id);
  state.delivered.set(id, change.version);
  if (state.delivered.size > MAX_REMEMBERED_VERSIONS) {
    const oldest = state.delivered.keys().next().value;
    if (oldest !== undefined) state.delivered.delete(oldest);
  }
  for (const stream of state.teams.get(change.task.teamId) ?? []) {
    if (matches(stream.filter, change) && change.version >= floorOf(stream)) stream.deliver(change);
  }
}

/** Reads every change of the streams' teams since the previous sweep (minus the overlap) and sends what is new. */
async function sweepChanges(state: HubState, fork: () => ReturnType<MikroORM['em']['fork']>): Promise<void> {
  const asked = Date.now();
  const now = await databaseNowMicros(fork());
  // A stream's opening on the database's clock: the host's, moved by their difference now.
  const skew = now - BigInt(Math.round((asked + Date.now()) / 2)) * 1000n;
  const floorOf = (stream: EventStream) => BigInt(stream.openedAt) * 1000n + skew - SWEEP_GRACE_MICROS;
  const from = state.sweptFrom ?? now - BigInt(SWEEP_INTERVAL_MS) * 1000n;
  let after = changesSince(from, SWEEP_OVERLAP_SECONDS);
  let nextFrom = now;
  for (let page = 0; page < MAX_SWEEP_PAGES; page += 1) {
    const teamIds = [...state.teams.keys()];
    if (teamIds.length === 0) return;
    const changes = await listChangesAfter(fork(), { teamIds, after, limit: SWEEP_PAGE_ROWS });
    dispatchAll(state, changes, floorOf);
    const last = changes.at(-1);
    if (!last || changes.length < SWEEP_PAGE_ROWS) break;
    after = { version: last.version, id: last.task.id };
    if (page === MAX_SWEEP_PAGES - 1) nextFrom = last.version;
  }
  state.sweptFrom = nextFrom;
  forgetOlderThan(state.delivered, changesSince(nextFrom, SWEEP_OVERLAP_SECONDS).version);
}

/** Drops remembered versions no sweep can read again. */
function forgetOlderThan(delivered: Map<string, bigint>, version: bigint): void {
  for (const [id, sent] of delivered) if (sent < version) delivered.delete(id);
}
