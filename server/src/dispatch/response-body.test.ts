import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  encodeBody,
  FREE_PREFIX_BYTES,
  flattenHeaders,
  readCappedBytes,
  withoutPartialCharacter,
} from './response-body.ts';

const text = async (read: Promise<{ bytes: Buffer; truncated: boolean }>) => {
  const { bytes, truncated } = await read;
  return { text: encodeBody(bytes, truncated).body, truncated };
};

describe('readCappedBytes', () => {
  it('reads a body under the cap whole', async () => {
    const body = Readable.from([Buffer.from('ab'), Buffer.from('cd')]);
    expect(await text(readCappedBytes(body, 4))).toEqual({ text: 'abcd', truncated: false });
  });

  it('cuts at the cap, stops reading and destroys the stream', async () => {
    let pulled = 0;
    const body = new Readable({
      read() {
        pulled += 1;
        this.push(Buffer.from('0123456789'));
      },
    });
    expect(await text(readCappedBytes(body, 25))).toEqual({ text: '0123456789012345678901234', truncated: true });
    expect(body.destroyed).toBe(true);
    expect(pulled).toBeLessThan(10);
  });

  it('does not leave half a character at the cut', async () => {
    const body = Readable.from([Buffer.from('aé€😀')]);
    expect(await text(readCappedBytes(body, 2))).toEqual({ text: 'a', truncated: true });
  });

  it('asks for admission once, before reading past the free prefix, and not for a small body', async () => {
    let asked = 0;
    const admit = async () => {
      asked += 1;
    };
    await readCappedBytes(Readable.from([Buffer.alloc(100)]), 10 * FREE_PREFIX_BYTES, admit);
    expect(asked).toBe(0);
    const chunks = Array.from({ length: 4 }, () => Buffer.alloc(FREE_PREFIX_BYTES / 2));
    const read = await readCappedBytes(Readable.from(chunks), 10 * FREE_PREFIX_BYTES, admit);
    expect(asked).toBe(1);
    expect(read.bytes.length).toBe(2 * FREE_PREFIX_BYTES);
  });
});

describe('encodeBody', () => {
  it('keeps valid UTF-8 without NUL as text, control characters included', () => {
    const bytes = Buffer.from('héllo\u0001\u001f wörld');
    expect(encodeBody(bytes, false)).toEqual({ body: 'héllo\u0001\u001f wörld', bodyEncoding: 'utf8' });
  });

  it('stores bytes with a NUL (audio, images) as base64, byte for byte', () => {
    const bytes = Buffer.from([0x49, 0x44, 0x33, 0x04, 0x00, 0x00, 0xff, 0xfb]);
    const encoded = encodeBody(bytes, false);
    expect(encoded.bodyEncoding).toBe('base64');
    expect(Buffer.from(encoded.body, 'base64').equals(bytes)).toBe(true);
  });

  it('stores invalid UTF-8 (gzip) as base64', () => {
    const bytes = Buffer.from([0x1f, 0x8b, 0x08, 0xc3, 0x28]);
    expect(encodeBody(bytes, false)).toEqual({ body: bytes.toString('base64'), bodyEncoding: 'base64' });
  });

  it('keeps a text body cut in the middle of a character as text without the partial character', () => {
    const cut = Buffer.from('aé€').subarray(0, 5);
    expect(encodeBody(cut, true)).toEqual({ body: 'aé', bodyEncoding: 'utf8' });
  });

  it('cuts a base64 body on bytes', () => {
    const cut = Buffer.from([0xff, 0x00, 0xe2, 0x82]);
    expect(encodeBody(cut, true)).toEqual({ body: cut.toString('base64'), bodyEncoding: 'base64' });
  });
});

describe('withoutPartialCharacter', () => {
  const bytes = Buffer.from('aé€😀');
  it.each([
    [1, 'a'],
    [2, 'a'],
    [3, 'aé'],
    [4, 'aé'],
    [5, 'aé'],
    [6, 'aé€'],
    [9, 'aé€'],
    [10, 'aé€😀'],
  ])('the first %i bytes → %j', (length, text) => {
    expect(withoutPartialCharacter(bytes.subarray(0, length)).toString('utf8')).toBe(text);
  });
});

describe('flattenHeaders', () => {
  it('lower-cases names and joins repeated values', () => {
    expect(flattenHeaders({ 'Content-Type': 'text/plain', 'set-cookie': ['a=1', 'b=2'], 'x-none': undefined })).toEqual(
      {
        'content-type': 'text/plain',
        'set-cookie': 'a=1, b=2',
      },
    );
  });
});
