import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { vaultTokenOwner } from './sealed-owners.ts';
import { createSecretBox, SealedValueError } from './secret-box.ts';

const box = createSecretBox(randomBytes(32));

describe('createSecretBox', () => {
  it('round-trips a value, unbound (v1) and bound to its owner (v2)', () => {
    expect(box.open(box.seal('plain'))).toBe('plain');
    const bound = box.seal('plain', vaultTokenOwner('team-a', 'tok_a'));
    expect(bound).toMatch(/^v2\./);
    expect(box.open(bound, vaultTokenOwner('team-a', 'tok_a'))).toBe('plain');
  });

  it('a bound value does not open for another owner, nor unbound; an unbound one does not open as bound', () => {
    const bound = box.seal('secret', vaultTokenOwner('team-a', 'tok_a'));
    expect(() => box.open(bound, vaultTokenOwner('team-b', 'tok_b'))).toThrow(SealedValueError);
    expect(() => box.open(bound, vaultTokenOwner('team-a', 'tok_other'))).toThrow(SealedValueError);
    expect(() => box.open(bound)).toThrow(SealedValueError);
    expect(() => box.open(box.seal('secret'), vaultTokenOwner('team-a', 'tok_a'))).toThrow(SealedValueError);
  });

  it('another key opens nothing', () => {
    const other = createSecretBox(randomBytes(32));
    expect(() => other.open(box.seal('x', 'owner'), 'owner')).toThrow(SealedValueError);
  });
});
