import type { Task } from '../../db/entities/task.ts';
import { findPreset } from '../../tasks/providers/index.ts';

/** Headers sent on behalf of the task when forwardAuth is on: the task's credentials. */
export const AUTH_HEADERS: readonly string[] = ['authorization', 'x-api-key', 'xi-api-key'];

/** The origin of a template whose scheme and host are fixed text (no placeholder before the path). */
function fixedOrigin(template: string | null | undefined): string | null {
  const match = template ? /^(https?:\/\/[^/?#{}]+)(?:[/?#]|$)/i.exec(template) : null;
  if (!match) return null;
  try {
    return new URL(match[1] as string).origin;
  } catch {
    return null;
  }
}

/**
 * The origins the task's credentials may go to when polling: the task's own `targetUrl`, the
 * fixed origins of its poll and result templates (a preset's API, after ASYNCQUEUE_PROVIDER_BASE_URLS,
 * or the client's own), and the preset's documented origins. Never an origin the provider's
 * response names (fal's status_url could point anywhere).
 */
export function credentialOrigins(task: Task): ReadonlySet<string> {
  const origins = new Set<string>();
  const add = (origin: string | null) => origin && origins.add(origin);
  add(fixedOrigin(task.targetUrl));
  add(fixedOrigin(task.pollConfig?.urlTemplate));
  add(fixedOrigin(task.pollConfig?.resultUrlTemplate));
  for (const origin of (task.provider && findPreset(task.provider)?.credentialOrigins) || []) add(origin);
  return origins;
}

/** `headers` as they may go to `url`: without the task's credentials when its origin is not trusted. */
export function headersForOrigin(
  url: string,
  headers: Record<string, string>,
  trusted: ReadonlySet<string>,
): Record<string, string> {
  let origin: string | null = null;
  try {
    origin = new URL(url).origin;
  } catch {
    origin = null;
  }
  if (origin !== null && trusted.has(origin)) return headers;
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !AUTH_HEADERS.includes(name.toLowerCase())));
}
