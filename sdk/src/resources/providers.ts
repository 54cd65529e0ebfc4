import type { Core } from '../core.ts';
import type { Provider } from '../generated/api-types.ts';
import type { RequestOptions } from '../types.ts';

/** `aq.providers`: the polling presets the server knows. */
export class Providers {
  readonly #core: Core;

  /** @internal Use `new AsyncQueue().providers`. */
  constructor(core: Core) {
    this.#core = core;
  }

  /** The provider presets (fal, replicate, runwayml…), with the URLs the server will poll. */
  async list(options: RequestOptions = {}): Promise<Provider[]> {
    const { providers } = await this.#core.call({ ...options, retryable: true }, (signal) =>
      this.#core.api.listProviders(signal),
    );
    return providers;
  }
}
