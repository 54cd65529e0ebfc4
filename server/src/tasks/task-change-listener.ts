import pg from 'pg';
import type { Task } from '../db/entities/task.ts';
import { LOCAL_ORIGIN, TASK_CHANGED_CHANNEL } from './task-events.ts';

export type WaitResult = 'changed' | 'timeout' | 'aborted' | 'closed';
/** How a wait ended; a change published by this process carries the task's committed row. */
export type WaitOutcome = { result: WaitResult; task?: Task };

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

/**
 * One LISTEN connection per process fans out to in-memory waiters keyed by task id, so a thousand
 * long-polls hold no pool connection at all. Waiters re-read the task after a wake-up: a missed
 * notification (e.g. during a reconnect) costs latency, never correctness; after a reconnect every
 * waiter is woken to re-read.
 */
export async function startTaskChangeListener(url: string, log: (msg: string) => void): Promise<TaskChangeListener> {
  const waiters = new Map<string, Set<Waiter>>();
  const subscribers = new Map<string, (payload: string) => void>();
  let client: pg.Client | null = null;
  let closed = false;
  let delay = RECONNECT_MIN_MS;

  const wakeAll = (result: WaitResult) => {
    for (const set of waiters.values()) for (const w of set) w(result);
  };
  const connect = async (): Promise<void> => {
    const next = new pg.Client({ connectionString: url, application_name: 'asyncqueue-listen' });
    next.on('notification', (msg) => {
      if (msg.channel !== TASK_CHANGED_CHANNEL) return subscribers.get(msg.channel)?.(msg.payload ?? '');
      const [taskId = '', origin] = (msg.payload ?? '').split(':');
      const wake = () => {
        for (const w of waiters.get(taskId) ?? []) w('changed');
      };
      if (origin === LOCAL_ORIGIN) setTimeout(wake, OWN_PUBLISH_GRACE_MS).unref();
      else wake();
    });
    next.on('error', () => reconnect());
    next.on('end', () => reconnect());
    await next.connect();
    await next.query(`listen ${TASK_CHANGED_CHANNEL}`);
    for (const channel of subscribers.keys()) await next.query(`listen "${channel}"`);
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
      connect().then(
        () => {
          wakeAll('changed');
          for (const onNotify of subscribers.values()) onNotify('');
        },
        () => {
          delay = Math.min(delay * 2, RECONNECT_MAX_MS);
          setTimeout(retry, delay).unref();
        },
      );
    };
    setTimeout(retry, delay).unref();
  };
  await connect();

  return {
    waitForChange(taskId, timeoutMs, signal) {
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
    },
    publish(task) {
      for (const w of waiters.get(task.id) ?? []) w('changed', task);
    },
    waiterCount: () => [...waiters.values()].reduce((n, s) => n + s.size, 0),
    async subscribe(channel, onNotify) {
      if (!/^[a-z0-9_]+$/.test(channel)) throw new Error(`not a plain channel name: ${channel}`);
      subscribers.set(channel, onNotify);
      await client?.query(`listen "${channel}"`);
    },
    async close() {
      closed = true;
      wakeAll('closed');
      const current = client;
      client = null;
      current?.removeAllListeners('end');
      await current?.end().catch(() => {});
    },
  };
}
