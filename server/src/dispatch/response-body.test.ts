import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { flattenHeaders, readCappedText, withoutPartialCharacter } from './response-body.ts';

describe('readCappedText', () => {
  it('reads a body under the cap whole', async () => {
    const body = Readable.from([Buffer.from('ab'), Buffer.from('cd')]);
    expect(await readCappedText(body, 4)).toEqual({ text: 'abcd', truncated: false });
  });

  it('cuts at the cap, stops reading and destroys the stream', async () => {
    let pulled = 0;
    const body = new Readable({
      read() {
        pulled += 1;
        this.push(Buffer.from('0123456789'));
      },
    });
    expect(await readCappedText(body, 25)).toEqual({ text: '0123456789012345678901234', truncated: true });
    expect(body.destroyed).toBe(true);
    expect(pulled).toBeLessThan(10);
  });

  it('does not leave half a character at the cut', async () => {
    const body = Readable.from([Buffer.from('aé€😀')]);
    expect(await readCappedText(body, 2)).toEqual({ text: 'a', truncated: true });
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
