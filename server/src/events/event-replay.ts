import type { MikroORM } from '@mikro-orm/postgresql';
import { listChangesAfter } from '../tasks/store/changes.ts';
import { replayStart } from './event-cursor.ts';
import type { EventStream } from './event-stream.ts';

/**
 * Why 200 rows: one page of a resume's replay (list-shaped rows, a few hundred KiB); the next page
 * is read only once the client has taken this one, so a long replay never piles up in memory.
 */
const REPLAY_PAGE_ROWS = 200;

/**
 * Writes the stream's changes since `cursor` (minus the safety margin, see event-cursor.ts), oldest
 * first, page by page as the client reads them. Stops when the stream closes.
 */
export async function replayChanges(orm: MikroORM, stream: EventStream, cursor: bigint): Promise<void> {
  const { teamId, taskId, status } = stream.filter;
  let after = replayStart(cursor);
  for (;;) {
    const page = await listChangesAfter(orm.em.fork(), {
      teamIds: [teamId],
      after,
      taskId,
      status,
      limit: REPLAY_PAGE_ROWS,
    });
    for (const change of page) if (!(await stream.replay(change))) return;
    const last = page.at(-1);
    if (!last || page.length < REPLAY_PAGE_ROWS) return;
    after = { version: last.version, id: last.task.id };
  }
}
