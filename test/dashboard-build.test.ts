import { describe, expect, it } from 'vitest';
import { staleFiles } from '../dashboard/build.ts';

describe('dashboard build', () => {
  it('the committed server/dashboard/dist is what dashboard/src builds to (run npm run dashboard:build)', async () => {
    expect(await staleFiles()).toEqual([]);
  }, 60_000);
});
