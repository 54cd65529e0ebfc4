import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { missingServerFlags, SERVER_NODE_FLAGS } from './node-flags.ts';

const root = path.resolve(import.meta.dirname, '../../..');

describe('server node flags', () => {
  it('are the same in npm start and the Dockerfile', () => {
    const start = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).scripts.start as string;
    const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
    for (const flag of SERVER_NODE_FLAGS) {
      expect(start).toContain(flag);
      expect(dockerfile).toContain(flag);
    }
  });

  it('asyncqueue serve adds only the flags not already given (on the command line or in NODE_OPTIONS)', () => {
    expect(missingServerFlags([])).toEqual([...SERVER_NODE_FLAGS]);
    expect(missingServerFlags([...SERVER_NODE_FLAGS])).toEqual([]);
    expect(missingServerFlags(['--max-old-space-size=1024'])).toEqual(['--max-semi-space-size=16']);
    expect(missingServerFlags([], '--max-semi-space-size=4  --enable-source-maps')).toEqual([
      '--max-old-space-size=384',
    ]);
  });
});
