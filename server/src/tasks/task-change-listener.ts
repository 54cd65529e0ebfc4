import pg from 'pg';
import type { Task } from '../db/entities/task.ts';
import { LOCAL_ORIGIN, parseTaskChanged, TASK_CHANGED_CHANNEL } from './task-events.ts';

export type WaitResult = 'changed' | 'timeout' | 'aborted' | 'closed';
/** How a wait ended; a change published by this process carries the task's committed row. */
export type WaitOutcome = { result: WaitResult; task?: Task };
/** Sees every task change (live event streams): `taskId` null after a reconnect, when some may have been missed. */
export type ChangeWatcher = { onChange(taskId: string | null): void; onClose(): void };

export type TaskChangeListener = {
  /** Resolves when a NOTIFY names this task (or on timeout, abort, shutdown). Registers at once. */
  waitForChange(
    taskId: string,
    timeoutMs: number,
    signal?: AbortSignal,
  ): { promise: Promise<WaitOutcome>; cancel(): void };
  /**
   * A transition committed by this process: its waiters get the row at once, without waiting for
   * the NOTIFY and re-reading (other processes still learn of it through the NOTIFY).
   */
  publish(task: Task): void;
  waiterCount(): number;
  /**
   * Every task-changed NOTIFY's task id, at once whatever process sent it; `null` after a reconnect;
   * `onClose` at shutdown. Returns how to stop watching.
   */
  watchAll(watcher: ChangeWatcher): () => void;
  /**
   * Also LISTENs on `channel` (e.g. the dispatch-due channel) on the same connection: `onNotify` runs
   * for each notification, and after a reconnect (notifications may have been missed meanwhile).
   */
  subscribe(channel: string, onNotify: (payload: string) => void): Promise<void>;
  close(): Promise<void>;
};

/**
 * Why 50 ms: this process's own transitions reach its waiters through `publish`, and their NOTIFY
 * is sent after the commit (change-notifier.ts), so it finds those waiters answered already. Waiters
 * still there are woken after this grace to re-read anyway: no path that changed a task without
 * publishing can leave a long-poll hanging, and a publish still under way goes first.
 */
const OWN_PUBLISH_GRACE_MS = 50;

/** Why 1 s → 30 s: reconnect quickly after a blip, without hammering a database that is down. */
const RECONNECT_MIN_MS = 1_000;
const RECONNECT_MAX_MS = 30_000;

type Waiter = (result: WaitResult, task?: Task) => void;
type Waiters = Map<string, Set<Waiter>>;
type Subscribers = Map<string, (payload: string) => void>;

/**
 * One LISTEN connection per process fans out to in-memory waiters keyed by task id, so a thousand
 * long-polls hold no pool connection at all. Waiters re-read the task after a wake-up: a missed
 * notification (e.g. during a reconnect) costs latency, never correctness; after a reconnect every
 * waiter is woken to re-read.
 */
export async function startTaskChangeListener(url: string, log: (msg: string) => void): Promise<TaskChangeListener> {
  const waiters: Waiters = new Map();
  const subscribers: Subscribers = new Map();
  const watchers = new Set<ChangeWatcher>();
  let closed = false;

  const wakeAll = (result: WaitResult) => {
    for (const set of waiters.values()) for (const w of set) w(result);
  };
  const connection = await openListenConnection(url, log, {
    channels: () => subscribers.keys(),
    onNotification: (msg) => {
      if (msg.channel !== TASK_CHANGED_CHANNEL) {
        subscribers.get(msg.channel)?.(msg.payload ?? '');
        return;
      }
      const { taskIds, origin } = parseTaskChanged(msg.payload ?? '');
      for (const taskId of taskIds) {
        for (const w of watchers) w.onChange(taskId);
        wakeWaiters(waiters, taskId, origin);
      }
    },
    onReconnected: () => {
      wakeAll('changed');
      for (const w of watchers) w.onChange(null);
      for (const onNotify of subscribers.values()) onNotify('');
    },
  });

  return {
    waitForChange: (taskId, timeoutMs, signal) => addWaiter(waiters, taskId, timeoutMs, signal, closed),
    publish(task) {
      for (const w of waiters.get(task.id) ?? []) w('changed', task);
    },
    waiterCount: () => [...waiters.values()].reduce((n, s) => n + s.size, 0),
    watchAll(watcher) {
      watchers.add(watcher);
      return () => watchers.delete(watcher);
    },
    async subscribe(channel, onNotify) {
      if (!/^[a-z0-9_]+$/.test(channel)) throw new Error(`not a plain channel name: ${channel}`);
      subscribers.set(channel, onNotify);
      await connection.query(`listen "${channel}"`);
    },
    async close() {
      closed = true;
      wakeAll('closed');
      for (const w of watchers) w.onClose();
      await connection.close();
    },
  };
}

/** A task-changed NOTIFY wakes that task's waiters (after a grace when this process sent it). */
function wakeWaiters(waiters: Waiters, taskId: string, origin: string): void {
  // No waiter now: none to wake later either (a waiter registered after this reads the row anyway).
  if (!waiters.has(taskId)) return;
  const wake = () => {
    for (const w of waiters.get(taskId) ?? []) w('changed');
  };
  if (origin === LOCAL_ORIGIN) setTimeout(wake, OWN_PUBLISH_GRACE_MS).unref();
  else wake();
}

/** Registers a waiter for `taskId` at once; it settles on a change, the timeout, an abort or shutdown. */
function addWaiter(
  waiters: Waiters,
  taskId: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  closed: boolean,
): { promise: Promise<WaitOutcome>; cancel(): void } {
  let settle: Waiter = () => {};
  const promise = new Promise<WaitOutcome>((resolve) => {
    const set = waiters.get(taskId) ?? new Set<Waiter>();
    waiters.set(taskId, set);
    const timer = setTimeout(() => settle('timeout'), timeoutMs);
    const onAbort = () => settle('aborted');
    settle = (result, task) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      set.delete(settle);
      if (set.size === 0 && waiters.get(taskId) === set) waiters.delete(taskId);
      resolve(task ? { result, task } : { result });
    };
    set.add(settle);
    if (closed) settle('closed');
    else if (signal?.aborted) settle('aborted');
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
  return { promise, cancel: () => settle('aborted') };
}

type ListenConnection = {
  /** Runs a statement on the current connection; nothing while reconnecting (the reconnect LISTENs again). */
  query(sql: string): Promise<unknown>;
  close(): Promise<void>;
};

type ListenHandlers = {
  /** The extra channels to LISTEN on (again) after connecting. */
  channels: () => Iterable<string>;
  onNotification: (msg: pg.Notification) => void;
  /** After a reconnect: notifications may have been missed meanwhile. */
  onReconnected: () => void;
};

/** The LISTEN connection: reconnects with backoff after an error or end, until closed. */
async function openListenConnection(
  url: string,
  log: (msg: string) => void,
  handlers: ListenHandlers,
): Promise<ListenConnection> {
  let client: pg.Client | null = null;
  let closed = false;
  let delay = RECONNECT_MIN_MS;

  const connect = async (): Promise<void> => {
    const next = new pg.Client({ connectionString: url, application_name: 'asyncqueue-listen' });
    next.on('notification', handlers.onNotification);
    next.on('error', () => reconnect());
    next.on('end', () => reconnect());
    await next.connect();
    await next.query(`listen ${TASK_CHANGED_CHANNEL}`);
    for (const channel of handlers.channels()) await next.query(`listen "${channel}"`);
    client = next;
    delay = RECONNECT_MIN_MS;
  };
  const reconnect = () => {
    if (closed || client === null) return;
    const old = client;
    client = null;
    old.removeAllListeners('end');
    old.end().catch(() => {});
    log('task change listener lost its connection; reconnecting');
    const retry = () => {
      if (closed) return;
      connect().then(handlers.onReconnected, () => {
        delay = Math.min(delay * 2, RECONNECT_MAX_MS);
        setTimeout(retry, delay).unref();
      });
    };
    setTimeout(retry, delay).unref();
  };
  await connect();

  return {
    query: async (sql) => client?.query(sql),
    async close() {
      closed = true;
      const current = client;
      client = null;
      current?.removeAllListeners('end');
      await current?.end().catch(() => {});
    },
  };
}
