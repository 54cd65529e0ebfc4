import type { PollConfig } from '../task-types.ts';

/** A provider preset: how to poll it, and which of its callback payloads end a task. */
export type ProviderPreset = {
  id: string;
  name: string;
  description: string;
  pollConfig: PollConfig;
  /** Origin of the fixed URLs in `pollConfig`, replaceable by ASYNCQUEUE_PROVIDER_BASE_URLS. */
  baseUrl: string | null;
  /**
   * Origins the provider documents for its API, besides the task's `targetUrl` and the fixed
   * template origins, that may receive the task's credentials when polling (fal's URLs come from
   * its response, so only its queue origin is trusted).
   */
  credentialOrigins?: readonly string[];
  /** A non-final callback payload is kept as progress and does not use up the callback id. */
  isFinalCallback: (payload: unknown) => boolean;
};

export function readField(payload: unknown, field: string): unknown {
  return payload !== null && typeof payload === 'object' ? (payload as Record<string, unknown>)[field] : undefined;
}

export const everyPayloadIsFinal = (): boolean => true;
