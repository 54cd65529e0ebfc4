import type { ChildProcess } from 'node:child_process';

/**
 * Request/response over the IPC channel of a forked load generator: the orchestrator asks, the
 * child runs one scenario and answers with its measurements.
 */
type Request = { id: number; cmd: string; args: unknown };
type Response = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };
type Note = { note: string; data: unknown };

export type RpcClient = {
  call<T>(cmd: string, args?: unknown, timeoutMs?: number): Promise<T>;
  /** Resolves on the next note of this name the child sends (a mid-scenario rendezvous). */
  nextNote<T>(note: string, timeoutMs?: number): Promise<T>;
  /** Sends a note to the child (e.g. "release" after a mid-scenario measurement). */
  note(note: string, data?: unknown): void;
};

export function rpcClient(child: ChildProcess): RpcClient {
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const noteWaiters = new Map<string, ((data: unknown) => void)[]>();
  child.on('message', (raw) => {
    const msg = raw as Response | Note;
    if ('note' in msg) {
      const waiters = noteWaiters.get(msg.note) ?? [];
      noteWaiters.delete(msg.note);
      for (const w of waiters) w(msg.data);
      return;
    }
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.result);
    else p.reject(new Error(msg.error));
  });
  child.once('exit', (code, signal) => {
    for (const p of pending.values()) p.reject(new Error(`load generator exited (${code ?? signal})`));
    pending.clear();
  });
  const timed = <T>(what: string, timeoutMs: number, start: (resolve: (v: T) => void) => void) =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${what} timed out after ${timeoutMs} ms`)), timeoutMs);
      start((v) => {
        clearTimeout(timer);
        resolve(v);
      });
    });
  return {
    call<T>(cmd: string, args: unknown = {}, timeoutMs = 600_000) {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`load generator command ${cmd} timed out after ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, {
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v as T);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        child.send({ id, cmd, args } satisfies Request);
      });
    },
    nextNote<T>(note: string, timeoutMs = 600_000) {
      return timed<T>(`note ${note}`, timeoutMs, (resolve) => {
        const list = noteWaiters.get(note) ?? [];
        list.push(resolve as (data: unknown) => void);
        noteWaiters.set(note, list);
      });
    },
    note(note, data = null) {
      child.send({ note, data } satisfies Note);
    },
  };
}

type Handler = (args: any) => Promise<unknown>;

/** The child side: runs handlers one at a time as the orchestrator asks. */
export function serveRpc(handlers: Record<string, Handler>): {
  note(note: string, data?: unknown): void;
  nextNote<T>(note: string): Promise<T>;
} {
  const noteWaiters = new Map<string, ((data: unknown) => void)[]>();
  process.on('message', (raw) => {
    const msg = raw as Request | Note;
    if ('note' in msg) {
      const waiters = noteWaiters.get(msg.note) ?? [];
      noteWaiters.delete(msg.note);
      for (const w of waiters) w(msg.data);
      return;
    }
    const handler = handlers[msg.cmd];
    const reply = (r: Response) => process.send?.(r);
    if (!handler) return reply({ id: msg.id, ok: false, error: `unknown command ${msg.cmd}` });
    handler(msg.args).then(
      (result) => reply({ id: msg.id, ok: true, result }),
      (error: unknown) =>
        reply({
          id: msg.id,
          ok: false,
          error: error instanceof Error ? (error.stack ?? error.message) : String(error),
        }),
    );
  });
  // Orphaned (the orchestrator died): never outlive it.
  process.on('disconnect', () => process.exit(0));
  return {
    note: (note, data = null) => process.send?.({ note, data } satisfies Note),
    nextNote: <T>(note: string) =>
      new Promise<T>((resolve) => {
        const list = noteWaiters.get(note) ?? [];
        list.push(resolve as (data: unknown) => void);
        noteWaiters.set(note, list);
      }),
  };
}
