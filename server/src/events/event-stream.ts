import type { ServerResponse } from 'node:http';
import type { ChangedTask } from '../tasks/store/changes.ts';
import type { TaskStatus } from '../tasks/task-types.ts';
import { toTaskView } from '../tasks/task-view.ts';
import { encodeEventId } from './event-cursor.ts';

/**
 * Why 4 MiB: a stream's unsent bytes (Node's buffer beyond the socket's) stay under this. One batch
 * of changes (up to 500 list-shaped tasks, a few KiB each) fits, so a reading client absorbs a burst;
 * a consumer this far behind is not reading, and buffering more for it would let one stalled client
 * grow the server's memory without bound. It is dropped instead, and resumes with Last-Event-ID.
 */
export const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** Why 30 s: a reading client drains a full socket in milliseconds; 30 s without draining is a stalled one. */
export const DRAIN_TIMEOUT_MS = 30_000;
/**
 * Why 10,000: live changes wait in memory while a resume replays; a replay that falls this far
 * behind the live changes is cut, and the client resumes from its last event (nothing is lost).
 */
const MAX_QUEUED_WHILE_REPLAYING = 10_000;
/**
 * Why 5 minutes: only a replayed version this recent can also arrive live (live changes are
 * seconds old), so only these are remembered for de-duplication; older ones would only cost memory.
 * A clock skew beyond it between host and database costs a duplicate event, never a lost one.
 */
const RECENT_VERSION_MICROS = 5n * 60n * 1_000_000n;

export type EventFilter = { teamId: string; taskId?: string | undefined; status?: TaskStatus | undefined };

/** One open GET /v1/events response: writes events in order, bounded in memory, drops a stalled reader. */
export type EventStream = {
  filter: EventFilter;
  /** When it opened (host clock, ms): a sweep sends it only changes from shortly before (event-hub.ts). */
  openedAt: number;
  /** A live change (queued while the resume's replay runs). */
  deliver(change: ChangedTask): void;
  /** Writes a replayed change; resolves when the socket can take more (false: the stream is gone). */
  replay(change: ChangedTask): Promise<boolean>;
  /** The replay is over: the queued live changes go out, minus the versions the replay sent. */
  goLive(): void;
  heartbeat(): void;
  /** Ends the response (shutdown): the client reconnects, to another instance if this one stops. */
  end(): void;
  /** Cuts the connection (a consumer too far behind); the client resumes with Last-Event-ID. */
  drop(): void;
  /** Bytes written but not yet taken by the socket. */
  unsentBytes(): number;
  isOpen(): boolean;
};

/** Whether a change is one `filter` asks for. */
export function matches(filter: EventFilter, change: ChangedTask): boolean {
  const { task } = change;
  if (task.teamId !== filter.teamId) return false;
  if (filter.taskId && task.id !== filter.taskId) return false;
  return !filter.status || task.status === filter.status;
}

/** Each change's frame, built once however many streams it goes to (1,000 streams: one JSON.stringify). */
const frames = new WeakMap<ChangedTask, string>();

/** The SSE frame of a change: `event: task.updated`, `id: <cursor>`, `data: {"task": …}` (list shape). */
function frame(change: ChangedTask): string {
  let text = frames.get(change);
  if (text === undefined) {
    const data = JSON.stringify({ task: toTaskView(change.task) });
    text = `event: task.updated\nid: ${encodeEventId(change.version)}\ndata: ${data}\n\n`;
    frames.set(change, text);
  }
  return text;
}

export function createEventStream(res: ServerResponse, filter: EventFilter, onGone: () => void): EventStream {
  const socket = boundedWriter(res, onGone);
  let live = false;
  let queued: ChangedTask[] = [];
  /** Versions the replay wrote (task id → version), so a live copy of one is not written twice. */
  const replayed = new Map<string, bigint>();
  return {
    filter,
    openedAt: Date.now(),
    deliver(change) {
      if (!socket.isOpen() || !matches(filter, change)) return;
      if (live) {
        socket.write(frame(change));
        return;
      }
      queued.push(change);
      if (queued.length > MAX_QUEUED_WHILE_REPLAYING) socket.drop();
    },
    async replay(change) {
      if (change.version > BigInt(Date.now()) * 1000n - RECENT_VERSION_MICROS) {
        replayed.set(change.task.id, change.version);
      }
      return socket.write(frame(change)) || socket.whenDrained();
    },
    goLive() {
      live = true;
      const backlog = queued;
      queued = [];
      for (const change of backlog) {
        if (replayed.get(change.task.id) !== change.version) socket.write(frame(change));
      }
      replayed.clear();
    },
    heartbeat() {
      // A comment line: proxies and load balancers close a response idle for a minute or so.
      socket.write(': keep-alive\n\n');
    },
    end: () => socket.end(),
    drop: () => socket.drop(),
    unsentBytes: () => res.writableLength,
    isOpen: () => socket.isOpen(),
  };
}

/**
 * The response as a bounded sink: `write` drops a consumer that is not reading (over
 * MAX_BUFFERED_BYTES unsent, or no drain within DRAIN_TIMEOUT_MS); `onGone` runs once, however it ends.
 */
function boundedWriter(res: ServerResponse, onGone: () => void) {
  let open = true;
  let drainTimer: NodeJS.Timeout | null = null;
  const finish = (how: 'destroy' | 'end' | 'closed') => {
    if (!open) return;
    open = false;
    if (drainTimer) clearTimeout(drainTimer);
    if (how === 'destroy') res.destroy();
    if (how === 'end') res.end();
    onGone();
  };
  const drop = () => finish('destroy');
  res.on('close', () => finish('closed'));
  res.on('drain', () => {
    if (drainTimer) clearTimeout(drainTimer);
    drainTimer = null;
  });
  return {
    drop,
    end: () => finish('end'),
    isOpen: () => open,
    write(text: string): boolean {
      if (!open) return false;
      const room = res.write(text);
      if (res.writableLength > MAX_BUFFERED_BYTES) {
        drop();
        return false;
      }
      if (!room) drainTimer ??= setTimeout(drop, DRAIN_TIMEOUT_MS);
      return room;
    },
    /** Resolves when the socket takes more (true) or the stream is gone (false). */
    whenDrained: () =>
      new Promise<boolean>((resolve) => {
        if (!open) return resolve(false);
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          resolve(open);
        };
        res.on('drain', done);
        res.on('close', done);
      }),
  };
}
