import { AppError } from '../shared/app-error.ts';
import type { ChangesAfter } from '../tasks/store/changes.ts';

/**
 * The cursor of live events, and why resuming from it misses nothing.
 *
 * An event's `id:` is its task's `updated_at` in microseconds since the epoch (the row's version).
 * `updated_at = now()` is the time its transaction STARTED, and rows become visible when their
 * transaction COMMITS, so versions do not arrive in cursor order: a transaction that started at
 * 10:00:00.100 and committed at 10:00:00.900 becomes visible after one that started at .500 and
 * committed at .600. A resume from "after .500" alone would never send the .100 row.
 *
 * So a resume re-reads a safety margin: it replays every row of the team whose version is later
 * than (cursor − REPLAY_MARGIN_SECONDS). A version the client has not received can only be older
 * than its last event's by the time its transaction took plus the time its change took to reach the
 * stream (the NOTIFY, or at worst the next sweep: event-hub.ts), seconds at most, far less than the
 * margin. The price is that the margin's versions the client already has are sent again: delivery is
 * at least once, and an event is idempotent (the task's whole state at that version). The SDK drops
 * a version it has already yielded (task id + updatedAt), and one connection never writes the same
 * version twice (its replay and the live changes that arrive meanwhile are de-duplicated).
 */
export const REPLAY_MARGIN_SECONDS = 60;

const MICROS = 1_000_000n;
/** Why 17 digits: microseconds since 1970 have 16 until the year 2286; more is not a cursor of ours. */
const CURSOR = /^\d{1,17}$/;
const NIL_UUID = '00000000-0000-0000-0000-000000000000';

/** The cursor written as an event's `id:`. */
export function encodeEventId(version: bigint): string {
  return version.toString();
}

/** A Last-Event-ID (header or `lastEventId` query) → its version; a 400 that says what to send otherwise. */
export function parseLastEventId(text: string): bigint {
  if (!CURSOR.test(text)) {
    throw new AppError(
      'validation_failed',
      'Last-Event-ID is not an event id of this stream: send back the id: of the last event received, or omit it',
      { details: [{ path: 'Last-Event-ID', message: 'expected the digits of an event id' }] },
    );
  }
  return BigInt(text);
}

/** Where a resume from `cursor` starts reading: the margin before it (see above). */
export function replayStart(cursor: bigint): ChangesAfter {
  return { version: cursor - BigInt(REPLAY_MARGIN_SECONDS) * MICROS, id: NIL_UUID };
}

/** The start of a read of every version later than `micros` − `seconds`. */
export function changesSince(micros: bigint, seconds: number): ChangesAfter {
  return { version: micros - BigInt(seconds) * MICROS, id: NIL_UUID };
}
