import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';

/**
 * Provider endpoints that answer bytes, not JSON (audio, images), on one loopback server:
 *
 *   elevenlabs   POST /v1/text-to-speech/{voice_id} (xi-api-key)          → 200 audio/mpeg (ID3 + MPEG frames, NULs)
 *   stability    POST /v2beta/stable-image/generate/core (Bearer, image/*) → 200 image/png (a real 2×2 PNG)
 *   bytes        GET|POST /bytes?size=N                                     → N bytes of control characters (no NUL)
 *   nul status   POST /jobs?id=J → {"id": J};  GET /jobs/J                  → running with "a\u0000b" in a field, then
 *                                                                           failed with "bad\u0000input" as its error
 *
 * Calls without the provider's credentials answer 401 like the real APIs. `hits(path)` counts the
 * requests each path received, so a test can assert the target was hit exactly once.
 */
export async function startFakeBinaryProviders() {
  const hits = new Map<string, number>();
  const server = http.createServer(async (req, res) => {
    for await (const _ of req) {
      // drain the request body
    }
    const url = new URL(req.url ?? '/', 'http://x');
    hits.set(url.pathname, (hits.get(url.pathname) ?? 0) + 1);
    const send = (status: number, type: string, body: Buffer) => {
      res.writeHead(status, { 'content-type': type, 'content-length': String(body.length) });
      res.end(body);
    };
    const json = (value: unknown) => send(200, 'application/json', Buffer.from(JSON.stringify(value)));
    const unauthorized = () => send(401, 'application/json', Buffer.from('{"detail":"unauthorized"}'));
    if (url.pathname.startsWith('/v1/text-to-speech/') && req.method === 'POST') {
      if (!req.headers['xi-api-key']) return unauthorized();
      return send(200, 'audio/mpeg', FAKE_MP3);
    }
    if (url.pathname === '/v2beta/stable-image/generate/core' && req.method === 'POST') {
      if (!req.headers.authorization?.startsWith('Bearer ')) return unauthorized();
      return send(200, 'image/png', FAKE_PNG);
    }
    if (url.pathname === '/jobs') return json({ id: url.searchParams.get('id') });
    if (url.pathname.startsWith('/jobs/')) {
      const first = (hits.get(url.pathname) ?? 0) === 1;
      return json(first ? { status: 'running', note: 'a\u0000b' } : { status: 'failed', error: 'bad\u0000input' });
    }
    if (url.pathname === '/bytes')
      return send(200, 'text/plain', controlCharacters(Number(url.searchParams.get('size'))));
    send(404, 'application/json', Buffer.from('{"error":"no such fake route"}'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: (path: string) => `${base}${path}`,
    hits: (path: string) => hits.get(path) ?? 0,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type FakeBinaryProviders = Awaited<ReturnType<typeof startFakeBinaryProviders>>;

/** `size` bytes cycling through U+0001–U+001F: valid UTF-8, no NUL, 6× longer once JSON-escaped. */
export function controlCharacters(size: number): Buffer {
  return Buffer.from(Array.from({ length: size }, (_, i) => 1 + (i % 31)));
}

/** An ID3v2.4 tag (its size bytes are NULs) followed by silent MPEG-1 Layer III frames. */
export const FAKE_MP3: Buffer = (() => {
  const id3 = Buffer.from([0x49, 0x44, 0x33, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]);
  const frame = Buffer.alloc(417);
  frame.set([0xff, 0xfb, 0x90, 0x64]);
  return Buffer.concat([id3, frame, frame, frame]);
})();

/** A real 2×2 RGBA PNG (signature, IHDR, IDAT, IEND, each with its CRC). */
export const FAKE_PNG: Buffer = (() => {
  const chunk = (type: string, data: Buffer) => {
    const typed = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(typed));
    return Buffer.concat([length, typed, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(2, 0);
  header.writeUInt32BE(2, 4);
  header.set([8, 6, 0, 0, 0], 8); // 8-bit depth, RGBA, deflate, no filter, no interlace
  const row = Buffer.from([0, 255, 0, 0, 255, 0, 0, 255, 255]); // filter byte + 2 pixels
  const pixels = Buffer.concat([row, row]);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', zlib.deflateSync(pixels)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
})();
