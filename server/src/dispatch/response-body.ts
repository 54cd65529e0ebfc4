import { isUtf8 } from 'node:buffer';
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';

// Reading a response without trusting its size: the body is streamed and cut at a cap, and the
// headers are flattened to one string per lower-case name.

export type CappedBytes = { bytes: Buffer; truncated: boolean };

/** How a stored body is written: the text itself, or the base64 of bytes that are not UTF-8 text. */
export type BodyEncoding = 'utf8' | 'base64';
export type EncodedBody = { body: string; bodyEncoding: BodyEncoding };

/**
 * Why 64 KiB: every response may hold this much without asking the byte budget, so small answers
 * (the vast majority: JSON acknowledgements, job ids) never wait, and a big one waits only once.
 */
export const FREE_PREFIX_BYTES = 64 * 1024;

/**
 * Reads `body` keeping at most `maxBytes` bytes. Past the cap it stops reading and destroys the
 * stream (undici then drops the connection), so no more than the cap is ever held. Before reading
 * past FREE_PREFIX_BYTES it awaits `beyondPrefix` once (the byte budget's admission): meanwhile the
 * stream is not read, so the sender is held back by TCP flow control.
 */
export async function readCappedBytes(
  body: Readable,
  maxBytes: number,
  beyondPrefix: () => Promise<void> = async () => {},
): Promise<CappedBytes> {
  // A destroyed undici body emits an 'error' after the loop has let go of it: keep it handled.
  body.on('error', ignore);
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  let admitted = false;
  for await (const chunk of body) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    // A cap within the free prefix (webhook receivers' answers) never needs admission.
    if (!admitted && maxBytes > FREE_PREFIX_BYTES && size + buffer.length > FREE_PREFIX_BYTES) {
      admitted = true;
      await beyondPrefix();
    }
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
  return { bytes: Buffer.concat(chunks, size), truncated };
}

/**
 * Bytes → the stored form: valid UTF-8 without NUL is kept as text ("utf8"); anything else (audio,
 * images, gzip) as base64 ("base64"), cut on bytes. A body cut at the cap may end in half a
 * character: that partial character is dropped before deciding, so text stays text.
 */
export function encodeBody(bytes: Buffer, truncated: boolean): EncodedBody {
  const text = truncated ? withoutPartialCharacter(bytes) : bytes;
  if (isUtf8(text) && !text.includes(0)) return { body: text.toString('utf8'), bodyEncoding: 'utf8' };
  return { body: bytes.toString('base64'), bodyEncoding: 'base64' };
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
