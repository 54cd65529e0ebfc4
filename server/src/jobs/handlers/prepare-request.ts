import { callbackIdOwner } from '../../auth/sealed-owners.ts';
import type { SecretBox } from '../../auth/secret-box.ts';
import { TOKEN_ID } from '../../auth/vault.ts';
import type { Task } from '../../db/entities/task.ts';
import { substitutePlaceholder } from '../../tasks/callback-placeholder.ts';

/**
 * The HTTP request of a task as it goes out: the callback id opened in memory and its URL
 * substituted, vault references resolved. `vaultHeaders` names the headers whose value came from
 * the vault, so a cross-origin redirect drops them like credentials.
 */
export async function prepareRequest(
  task: Task,
  opts: {
    publicUrl: string;
    secretBox: SecretBox;
    resolveVault: (teamId: string, headers: Record<string, string>) => Promise<Record<string, string>>;
  },
) {
  const base = {
    targetUrl: task.targetUrl,
    headers: task.headers,
    body: task.method === 'GET' ? null : (task.body ?? null),
  };
  const substituted = task.callbackIdSealed
    ? substitutePlaceholder(base, callbackUrl(opts, task.id, task.callbackIdSealed))
    : base;
  return {
    ...substituted,
    headers: await opts.resolveVault(task.teamId, substituted.headers),
    vaultHeaders: vaultHeaderNames(substituted.headers),
  };
}

function callbackUrl(opts: { publicUrl: string; secretBox: SecretBox }, taskId: string, sealed: string): string {
  return `${opts.publicUrl}/v1/callbacks/${opts.secretBox.open(sealed, callbackIdOwner(taskId))}`;
}

/** The names of the headers whose value is a vault reference (resolved to a secret at dispatch). */
export function vaultHeaderNames(headers: Record<string, string>): string[] {
  return Object.entries(headers)
    .filter(([, value]) => TOKEN_ID.test(value))
    .map(([name]) => name);
}
