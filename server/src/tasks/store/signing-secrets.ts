import type { EntityManager } from '@mikro-orm/postgresql';
import type { Task } from '../../db/entities/task.ts';
import { execute } from '../../db/prepared.ts';
import { taskFromRow } from '../task-columns.ts';

/**
 * The webhook secrets that sign for a team right now, as two extra columns of a statement that
 * joins the team as `t`: the current one, plus the previous one while its 24 h rotation overlap lasts.
 * Both are read sealed, as stored; the handlers open them in memory (auth/sealed-owners.ts
 * openTeamSecrets), so the claim and every row carry no plain secret.
 */
export const SIGNING_SECRET_COLUMNS = `t.webhook_secret as aq_signing_secret,
  case when t.previous_secret_expires_at > now() then t.previous_webhook_secret end as aq_previous_signing_secret`;

/**
 * SIGNING_SECRET_COLUMNS for a statement whose task row is `aq_row` (a change carrying its webhook's
 * job, jobs/send-riding.ts): the delivery that follows needs no read of its own.
 */
export const SIGNING_SECRETS_OF_ROW = {
  join: 'join teams t on t.id = aq_row.team_id',
  columns: SIGNING_SECRET_COLUMNS,
} as const;

/** The sealed secrets read by SIGNING_SECRET_COLUMNS, current first. */
export function signingSecretsOf(row: Record<string, unknown>): string[] {
  const current = row.aq_signing_secret as string;
  const previous = row.aq_previous_signing_secret as string | null;
  return previous ? [current, previous] : [current];
}

/** A task with the secrets its team signs for it right now (current first, sealed). */
export type TaskWithSigningSecrets = { task: Task; signingSecrets: string[] };

/** A task with the secrets its team signs with: one statement, for the webhook delivery. */
export async function findTaskWithSigningSecrets(
  em: EntityManager,
  taskId: string,
): Promise<TaskWithSigningSecrets | null> {
  const rows = await execute(
    em,
    `select tk.*, ${SIGNING_SECRET_COLUMNS} from tasks tk join teams t on t.id = tk.team_id where tk.id = ?`,
    [taskId],
  );
  const row = rows[0];
  return row ? { task: taskFromRow(row), signingSecrets: signingSecretsOf(row) } : null;
}
