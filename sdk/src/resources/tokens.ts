import type { Core } from '../core.ts';
import type { CreateTokenParams, VaultToken } from '../generated/api-types.ts';
import type { RequestOptions } from '../types.ts';

/**
 * `aq.tokens`: the team's secret vault. Store a provider key once, then use the token's id
 * (`tok_…`) as a task header value; the server swaps in the secret at dispatch time.
 */
export class Tokens {
  readonly #core: Core;

  /** @internal Use `new AsyncQueue().tokens`. */
  constructor(core: Core) {
    this.#core = core;
  }

  /** Stores a secret (encrypted at rest, never returned). Not retried. */
  async create(params: CreateTokenParams, options: RequestOptions = {}): Promise<VaultToken> {
    const { token } = await this.#core.call({ ...options, retryable: false }, (signal) =>
      this.#core.api.createToken(params, signal),
    );
    return token;
  }

  /** The team's tokens: ids and names, never values. */
  async list(options: RequestOptions = {}): Promise<VaultToken[]> {
    const { tokens } = await this.#core.call({ ...options, retryable: true }, (signal) =>
      this.#core.api.listTokens(signal),
    );
    return tokens;
  }

  /** Deletes a token; tasks created later that reference it are rejected. Not retried. */
  async delete(id: string, options: RequestOptions = {}): Promise<VaultToken> {
    const { token } = await this.#core.call({ ...options, retryable: false }, (signal) =>
      this.#core.api.deleteToken({ id }, signal),
    );
    return token;
  }
}
