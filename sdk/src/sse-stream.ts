/** One Server-Sent Event as received (`event`, `id`, `data`; `retry` when the server set one). */
export type SseEvent = { event: string; id: string | undefined; data: string };

/**
 * Why 8 MiB: an event of GET /v1/events is one list-shaped task (payloads capped, a few KiB); an
 * event this large is not one of ours, and reading on would let a broken peer grow our memory.
 */
const MAX_EVENT_CHARS = 8 * 1024 * 1024;

/**
 * Parses a text/event-stream body (the WHATWG format: `field: value` lines, a blank line ends an
 * event, `:` starts a comment) into events. `onRetry` gets the server's reconnection delay, and
 * `onBytes` runs on every chunk (heartbeat comments included), so the caller can spot a dead stream.
 */
export async function* parseSse(
  body: ReadableStream<Uint8Array>,
  hooks: { onRetry(ms: number): void; onBytes(): void },
): AsyncGenerator<SseEvent, void, undefined> {
  const decoder = new TextDecoder();
  let buffer = '';
  let event = '';
  let id: string | undefined;
  let data: string[] = [];
  let dataChars = 0;
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    hooks.onBytes();
    buffer += decoder.decode(chunk, { stream: true });
    for (let end = lineEnd(buffer); end !== -1; end = lineEnd(buffer)) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(buffer[end] === '\r' && buffer[end + 1] === '\n' ? end + 2 : end + 1);
      if (line === '') {
        if (data.length > 0) yield { event: event || 'message', id, data: data.join('\n') };
        event = '';
        data = [];
        dataChars = 0;
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + (line[colon + 1] === ' ' ? 2 : 1));
      if (field === 'event') event = value;
      else if (field === 'id' && !value.includes('\0')) id = value;
      else if (field === 'retry' && /^\d+$/.test(value)) hooks.onRetry(Number(value));
      else if (field === 'data') {
        dataChars += value.length;
        data.push(value);
      }
    }
    if (dataChars + buffer.length > MAX_EVENT_CHARS) throw new Error('event stream: an event exceeds 8 MiB');
  }
}

/** The index of the first line terminator (\r\n, \n or \r) in `text`, or -1. A lone \r at the end waits for more. */
function lineEnd(text: string): number {
  const lf = text.indexOf('\n');
  const cr = text.indexOf('\r');
  if (cr === -1 || (lf !== -1 && lf < cr)) return lf;
  return cr === text.length - 1 ? -1 : cr;
}
