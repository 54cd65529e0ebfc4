import type { TaskStatus } from '../task-types.ts';

/**
 * Which of a team's tasks a list or a bulk action covers. Every field narrows (AND); `ids` are the
 * team's task ids (another team's never match).
 */
export type TaskFilter = {
  ids?: readonly string[] | undefined;
  status?: TaskStatus | undefined;
  provider?: string | undefined;
  flowKey?: string | undefined;
  createdAfter?: Date | undefined;
  createdBefore?: Date | undefined;
};

/** `team_id = ? and …` for a filter, with its params (`?` placeholders, as em.execute takes them). */
export function filterWhere(teamId: string, filter: TaskFilter): { where: string[]; params: unknown[] } {
  const where = ['team_id = ?'];
  const params: unknown[] = [teamId];
  const add = (clause: string, value: unknown) => {
    where.push(clause);
    params.push(value);
  };
  if (filter.ids) add('id = any(?::uuid[])', uuidArray(filter.ids));
  if (filter.status) add('status = ?', filter.status);
  if (filter.provider) add('provider = ?', filter.provider);
  if (filter.flowKey) add('flow_key = ?', filter.flowKey);
  if (filter.createdAfter) add('created_at > ?', filter.createdAfter);
  if (filter.createdBefore) add('created_at < ?', filter.createdBefore);
  return { where, params };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Ids as one PostgreSQL array literal (`{…}`) for `= any(?::uuid[])`: the ORM's `?` expands a JS
 * array into a list of values, and an `in (?, ?, …)` list of 1,000 ids is a different statement
 * for every length. Only UUIDs are accepted, so nothing else can reach the literal.
 */
export function uuidArray(ids: readonly string[]): string {
  for (const id of ids) if (!UUID.test(id)) throw new Error(`not a UUID: ${JSON.stringify(id).slice(0, 40)}`);
  return `{${ids.join(',')}}`;
}
