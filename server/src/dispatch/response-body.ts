import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';

// Reading a response without trusting its size: the body is streamed and cut at a cap, and the
// headers are flattened to one string per lower-case name.

export type CappedText = { text: string; truncated: boolean };

/**
 * Reads `body` as UTF-8 text, keeping at most `maxBytes` bytes. Past the cap it stops reading and
 * destroys the stream (undici then drops the connection), so no more than the cap is ever held.
 */
export async function readCappedText(body: Readable, maxBytes: number): Promise<CappedText> {
  // A destroyed undici body emits an 'error' after the loop has let go of it: keep it handled.
  body.on('error', ignore);
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  for await (const chunk of body) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    const room = maxBytes - size;
    if (buffer.length > room) {
      if (room > 0) chunks.push(buffer.subarray(0, room));
      size += Math.max(room, 0);
      truncated = true;
      break;
    }
    chunks.push(buffer);
    size += buffer.length;
  }
  if (truncated) body.destroy();
  const bytes = Buffer.concat(chunks, size);
  return { text: (truncated ? withoutPartialCharacter(bytes) : bytes).toString('utf8'), truncated };
}

// Why: a redirect's body is read to the end (keeping the connection for the next hop) only when
// small; a bigger one costs more to drain than a new connection, so it is dropped with its socket.
const REDIRECT_BODY_DRAIN_BYTES = 64 * 1024;

/** Discards a body we do not keep (a redirect's); `signal` (the attempt's deadline) bounds the wait. */
export async function discardBody(
  body: { dump(opts: { limit: number; signal?: AbortSignal }): Promise<void> },
  signal: AbortSignal,
): Promise<void> {
  await body.dump({ limit: REDIRECT_BODY_DRAIN_BYTES, signal });
}

/** Lower-case names; repeated headers joined with ', ' (Set-Cookie included). */
export function flattenHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}

/** Drops a multi-byte UTF-8 character that the cut left incomplete at the end. */
export function withoutPartialCharacter(bytes: Buffer): Buffer {
  let lead = bytes.length - 1;
  let continuation = 0;
  while (lead >= 0 && continuation < 3 && ((bytes[lead] ?? 0) & 0xc0) === 0x80) {
    lead -= 1;
    continuation += 1;
  }
  if (lead < 0) return bytes;
  const first = bytes[lead] ?? 0;
  const needed = first >= 0xf0 ? 4 : first >= 0xe0 ? 3 : first >= 0xc0 ? 2 : 1;
  return needed > continuation + 1 ? bytes.subarray(0, lead) : bytes;
}

function ignore(): void {}
