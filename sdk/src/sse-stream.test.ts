import { describe, expect, it } from 'vitest';
import { parseSse, type SseEvent } from './sse-stream.ts';

/** A body that delivers `chunks` one by one, as a network would split them. */
function body(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
}

async function parse(chunks: string[]) {
  const events: SseEvent[] = [];
  const retries: number[] = [];
  let bytes = 0;
  const hooks = { onRetry: (ms: number) => retries.push(ms), onBytes: () => (bytes += 1) };
  for await (const event of parseSse(body(chunks), hooks)) events.push(event);
  return { events, retries, bytes };
}

describe('parseSse', () => {
  it('reads events split anywhere across chunks, with comments, retry and ids', async () => {
    const { events, retries, bytes } = await parse([
      'retry: 2000\n: connected\n\n',
      'event: task.upd',
      'ated\nid: 17\nda',
      'ta: {"a":1}\n\n: keep-alive\n\n',
    ]);
    expect(retries).toEqual([2000]);
    expect(events).toEqual([{ event: 'task.updated', id: '17', data: '{"a":1}' }]);
    expect(bytes).toBe(4);
  });

  it('joins multi-line data, accepts CRLF and CR line ends, keeps the last id for later events', async () => {
    const { events } = await parse(['id: 5\r\ndata: one\r\ndata: two\r\n\r\n', 'data:x\r\rdata: y\n\n']);
    expect(events).toEqual([
      { event: 'message', id: '5', data: 'one\ntwo' },
      { event: 'message', id: '5', data: 'x' },
      { event: 'message', id: '5', data: 'y' },
    ]);
  });

  it('refuses an event over 8 MiB instead of buffering it', async () => {
    const huge = `data: ${'x'.repeat(9 * 1024 * 1024)}`;
    await expect(parse([huge])).rejects.toThrow('exceeds 8 MiB');
  });
});
