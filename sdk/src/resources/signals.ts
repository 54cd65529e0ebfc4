import type { Core } from '../core.ts';
import type { Task } from '../generated/api-types.ts';
import type { RequestOptions, SignalParams } from '../types.ts';

/** `aq.signals`: complete or fail a task that waits for a signal (`waitForSignal: true`). */
export class Signals {
  readonly #core: Core;

  /** @internal Use `new AsyncQueue().signals`. */
  constructor(core: Core) {
    this.#core = core;
  }

  /**
   * Sends the signal for `token` (the `signalToken` of `tasks.create`) and returns the ended task.
   * Needs no API key: the token is the credential, and it works once. Not retried (a repeated
   * signal would get 404). Throws `NotFoundError` for an unknown or used token, `ConflictError`
   * when the task already ended another way.
   */
  async send(token: string, params: SignalParams, options: RequestOptions = {}): Promise<Task> {
    const { task } = await this.#core.postJson<{ task: Task }>(`/v1/signals/${encodeURIComponent(token)}`, params, {
      ...options,
      retryable: false,
    });
    return task;
  }
}
