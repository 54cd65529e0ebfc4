import type { Task } from '../../db/entities/task.ts';
import { substitutePlaceholder } from '../../tasks/callback-placeholder.ts';

/** The HTTP request of a task as it goes out: placeholder replaced, vault references resolved. */
export async function prepareRequest(
  task: Task,
  opts: {
    publicUrl: string;
    resolveVault: (teamId: string, headers: Record<string, string>) => Promise<Record<string, string>>;
  },
) {
  const base = {
    targetUrl: task.targetUrl,
    headers: task.headers,
    body: task.method === 'GET' ? null : (task.body ?? null),
  };
  const substituted = task.callbackId
    ? substitutePlaceholder(base, `${opts.publicUrl}/v1/callbacks/${task.callbackId}`)
    : base;
  return { ...substituted, headers: await opts.resolveVault(task.teamId, substituted.headers) };
}
