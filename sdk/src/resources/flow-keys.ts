import type { Core } from '../core.ts';
import type { FlowKey, FlowKeyLimits } from '../generated/api-types.ts';
import type { RequestOptions } from '../types.ts';

/**
 * `aq.flowKeys`: per-key limits on outbound calls. Tasks carry a `flowKey` (by default the preset
 * id of a `provider` task); a key's `concurrency` and `ratePerMinute` make its tasks wait in line
 * (`pending`) instead of flooding the provider, and a 429 pauses the key and lowers its
 * concurrency for a while. Limits are per team and hold across every server instance.
 */
export class FlowKeys {
  readonly #core: Core;

  /** @internal Use `new AsyncQueue().flowKeys`. */
  constructor(core: Core) {
    this.#core = core;
  }

  /**
   * Creates or changes a key's limits: a field left out keeps its value, `null` clears it.
   * Idempotent, so retried.
   * @example await aq.flowKeys.upsert('fal', { concurrency: 10 })
   */
  async upsert(key: string, limits: FlowKeyLimits, options: RequestOptions = {}): Promise<FlowKey> {
    const { flowKey } = await this.#core.call({ ...options, retryable: true }, (signal) =>
      this.#core.api.upsertFlowKey({ ...limits, key }, signal),
    );
    return flowKey;
  }

  /** The team's keys with their limits and live figures (`inFlight`, `queued`, `throttled`…). */
  async list(options: RequestOptions = {}): Promise<FlowKey[]> {
    const { flowKeys } = await this.#core.call({ ...options, retryable: true }, (signal) =>
      this.#core.api.listFlowKeys(signal),
    );
    return flowKeys;
  }

  /** One key with its live figures; throws `NotFoundError` for a key never configured. */
  async get(key: string, options: RequestOptions = {}): Promise<FlowKey> {
    const { flowKey } = await this.#core.call({ ...options, retryable: true }, (signal) =>
      this.#core.api.getFlowKey({ key }, signal),
    );
    return flowKey;
  }

  /** Removes a key's limits: the tasks it held back run at once, without limits. Not retried. */
  async delete(key: string, options: RequestOptions = {}): Promise<FlowKey> {
    const { flowKey } = await this.#core.call({ ...options, retryable: false }, (signal) =>
      this.#core.api.deleteFlowKey({ key }, signal),
    );
    return flowKey;
  }

  /** Stops dispatching the key's tasks until `resume`; calls in flight finish. Idempotent, so retried. */
  async pause(key: string, options: RequestOptions = {}): Promise<FlowKey> {
    const { flowKey } = await this.#core.call({ ...options, retryable: true }, (signal) =>
      this.#core.api.pauseFlowKey({ key }, signal),
    );
    return flowKey;
  }

  /** Dispatches the key's waiting tasks again, within its limits. Idempotent, so retried. */
  async resume(key: string, options: RequestOptions = {}): Promise<FlowKey> {
    const { flowKey } = await this.#core.call({ ...options, retryable: true }, (signal) =>
      this.#core.api.resumeFlowKey({ key }, signal),
    );
    return flowKey;
  }
}
