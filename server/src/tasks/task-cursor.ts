import { AppError } from '../shared/app-error.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Opaque list cursor: the id of the last task of the page. Ids are UUIDv7 (time-ordered), so
 * "id < cursor" is stable while new tasks are inserted: they sort before the first page.
 */
export function encodeCursor(lastId: string): string {
  return Buffer.from(`t:${lastId}`).toString('base64url');
}

export function decodeCursor(cursor: string): string {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const id = text.startsWith('t:') ? text.slice(2) : '';
  if (!UUID.test(id)) {
    throw new AppError('validation_failed', 'cursor is not valid: pass back pagination.nextCursor unchanged', {
      details: [{ path: 'cursor', message: 'not a cursor returned by this API' }],
    });
  }
  return id;
}
