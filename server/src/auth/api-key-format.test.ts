import { describe, expect, it } from 'vitest';
import { API_KEY_PATTERN, generateApiKey, generateWebhookSecret, hashApiKey, keyPrefix } from './api-key-format.ts';

describe('api key format', () => {
  it('generates async_ + 48 base62 characters, all different', () => {
    const keys = Array.from({ length: 200 }, generateApiKey);
    for (const key of keys) expect(key).toMatch(API_KEY_PATTERN);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('hashes with SHA-256 hex and shows a 12-character prefix', () => {
    const key = generateApiKey();
    expect(hashApiKey(key)).toMatch(/^[0-9a-f]{64}$/);
    expect(keyPrefix(key)).toBe(key.slice(0, 12));
  });

  it('makes whsec_ secrets of 32 bytes', () => {
    const secret = generateWebhookSecret();
    expect(secret.startsWith('whsec_')).toBe(true);
    expect(Buffer.from(secret.slice(6), 'base64')).toHaveLength(32);
  });
});
