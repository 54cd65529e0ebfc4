import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateApiKey } from '../server/src/auth/api-key-format.ts';
import { ConfigError, loadConfig } from '../server/src/config/config.ts';
import { MAIN_TS, runCli, runToExit } from './helpers/server-process.ts';

const MiB = 1024 * 1024;

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

/** True when `text` names `variable` as a whole word (not as part of a longer variable name). */
function names(text: string, variable: string): boolean {
  return new RegExp(`(^|[^A-Z0-9_])${variable}([^A-Z0-9_]|$)`).test(text);
}

describe('loadConfig', () => {
  it('applies the documented defaults to an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      databaseUrl: undefined,
      port: 3000,
      host: '0.0.0.0',
      publicUrl: 'http://localhost:3000',
      role: 'all',
      dataDir: path.resolve('./.asyncqueue'),
      allowedCidrs: undefined,
      encryptionKey: undefined,
      bootstrapApiKey: undefined,
      providerBaseUrls: {},
      trustProxy: 0,
      logLevel: 'info',
      rateLimitPerMinute: 600,
      callbackRateLimitPerMinute: 30,
      maxBodyBytes: MiB,
      maxCallbackBytes: 5 * MiB,
      maxResponseBytes: 5 * MiB,
      maxWaitTime: 86_400,
      retentionDays: 30,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('derives the default PUBLIC_URL from PORT', () => {
    expect(loadConfig({ PORT: '8123' }).publicUrl).toBe('http://localhost:8123');
  });

  it('reads every override', () => {
    const encryptionKey = randomBytes(32);
    const bootstrapApiKey = generateApiKey();
    const config = loadConfig({
      DATABASE_URL: 'postgresql://aq:pw@db.internal:5433/aq',
      PORT: '8080',
      HOST: '127.0.0.1',
      PUBLIC_URL: 'https://aq.example.com/',
      ASYNCQUEUE_ROLE: 'worker',
      ASYNCQUEUE_DATA_DIR: '/var/lib/asyncqueue',
      ASYNCQUEUE_ALLOWED_CIDRS: '10.0.0.0/8,127.0.0.0/8',
      ASYNCQUEUE_ENCRYPTION_KEY: encryptionKey.toString('base64'),
      ASYNCQUEUE_BOOTSTRAP_API_KEY: bootstrapApiKey,
      ASYNCQUEUE_PROVIDER_BASE_URLS: '{"replicate":"http://127.0.0.1:9000"}',
      TRUST_PROXY: '2',
      LOG_LEVEL: 'debug',
      ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '100',
      ASYNCQUEUE_CALLBACK_RATE_LIMIT_PER_MINUTE: '7',
      ASYNCQUEUE_MAX_BODY_BYTES: '2048',
      ASYNCQUEUE_MAX_CALLBACK_BYTES: '4096',
      ASYNCQUEUE_MAX_RESPONSE_BYTES: '8192',
      ASYNCQUEUE_MAX_WAIT_TIME: '600',
      ASYNCQUEUE_RETENTION_DAYS: '3',
    });
    expect(config).toMatchObject({
      databaseUrl: 'postgresql://aq:pw@db.internal:5433/aq',
      port: 8080,
      host: '127.0.0.1',
      publicUrl: 'https://aq.example.com',
      role: 'worker',
      dataDir: '/var/lib/asyncqueue',
      allowedCidrs: '10.0.0.0/8,127.0.0.0/8',
      bootstrapApiKey,
      providerBaseUrls: { replicate: 'http://127.0.0.1:9000' },
      trustProxy: 2,
      logLevel: 'debug',
      rateLimitPerMinute: 100,
      callbackRateLimitPerMinute: 7,
      maxBodyBytes: 2048,
      maxCallbackBytes: 4096,
      maxResponseBytes: 8192,
      maxWaitTime: 600,
      retentionDays: 3,
    });
    expect(config.encryptionKey?.equals(encryptionKey)).toBe(true);
  });

  it('accepts each role', () => {
    for (const role of ['all', 'api', 'worker'] as const) {
      expect(loadConfig({ ASYNCQUEUE_ROLE: role }).role).toBe(role);
    }
  });

  it('lists every problem at once, each naming its variable', () => {
    const bad = {
      PORT: 'abc',
      ASYNCQUEUE_ROLE: 'boss',
      DATABASE_URL: 'mysql://x',
      ASYNCQUEUE_ENCRYPTION_KEY: 'short',
      ASYNCQUEUE_BOOTSTRAP_API_KEY: 'bad',
      ASYNCQUEUE_PROVIDER_BASE_URLS: '{bad json',
      ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '0',
    };
    const error = configError(bad);
    const variables = Object.keys(bad);
    expect(error.problems, error.message).toHaveLength(variables.length);
    for (const variable of variables) {
      const naming = error.problems.filter((problem) => names(problem, variable));
      expect(naming, `exactly one problem names ${variable}: ${error.message}`).toHaveLength(1);
      expect(error.message).toContain(naming[0]);
    }
    for (const problem of error.problems) {
      expect(
        variables.filter((variable) => names(problem, variable)),
        problem,
      ).toHaveLength(1);
    }
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['ASYNCQUEUE_ROLE', 'boss'],
    ['DATABASE_URL', 'mysql://x'],
    ['ASYNCQUEUE_ENCRYPTION_KEY', 'short'],
    ['ASYNCQUEUE_BOOTSTRAP_API_KEY', 'bad'],
    ['ASYNCQUEUE_BOOTSTRAP_API_KEY', `async_${'A'.repeat(47)}`],
    ['ASYNCQUEUE_BOOTSTRAP_API_KEY', `async_${'a'.repeat(48)}`],
    ['ASYNCQUEUE_BOOTSTRAP_API_KEY', `async_${'a1B2'.repeat(12)}`],
    ['ASYNCQUEUE_PROVIDER_BASE_URLS', '{bad json'],
    ['ASYNCQUEUE_PROVIDER_BASE_URLS', '{"replicate":"ftp://x"}'],
    ['ASYNCQUEUE_RATE_LIMIT_PER_MINUTE', '0'],
    ['ASYNCQUEUE_MAX_BODY_BYTES', '-1'],
    ['ASYNCQUEUE_RETENTION_DAYS', '1.5'],
    ['PUBLIC_URL', 'ftp://aq.example.com'],
  ])('rejects %s=%s alone with one problem naming it', (variable, value) => {
    const error = configError({ [variable]: value });
    expect(error.problems, error.message).toHaveLength(1);
    expect(names(error.problems[0] as string, variable), error.message).toBe(true);
  });
});

describe('the server process with a bad configuration', () => {
  // Why 10 s: validation happens before any I/O; a start that reaches the database is a bug anyway.
  const EXIT_WITHIN_MS = 10_000;

  it('node server/src/main.ts exits 1 quickly and names every bad variable on stderr', async () => {
    const dataDir = path.join(os.tmpdir(), `aq-config-${randomBytes(6).toString('hex')}`);
    const result = await runToExit(
      MAIN_TS,
      [],
      { PORT: 'abc', ASYNCQUEUE_ROLE: 'boss', ASYNCQUEUE_DATA_DIR: dataDir },
      EXIT_WITHIN_MS,
    );
    const shown = `exit ${result.code} after ${result.ms} ms\nstdout: ${result.stdout}\nstderr: ${result.stderr}`;
    expect(result.code, shown).toBe(1);
    expect(result.ms, shown).toBeLessThan(EXIT_WITHIN_MS);
    expect(names(result.stderr, 'PORT'), shown).toBe(true);
    expect(names(result.stderr, 'ASYNCQUEUE_ROLE'), shown).toBe(true);
    expect(result.stdout, shown).not.toMatch(/listening/i);
    // It stopped before touching the embedded database.
    expect(existsSync(dataDir), shown).toBe(false);
  });

  it('asyncqueue serve behaves the same', async () => {
    const dataDir = path.join(os.tmpdir(), `aq-config-${randomBytes(6).toString('hex')}`);
    const result = await runCli(
      ['serve'],
      { PORT: 'abc', ASYNCQUEUE_ROLE: 'boss', ASYNCQUEUE_DATA_DIR: dataDir },
      EXIT_WITHIN_MS,
    );
    const shown = `exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`;
    expect(result.code, shown).toBe(1);
    expect(names(result.stderr, 'PORT'), shown).toBe(true);
    expect(names(result.stderr, 'ASYNCQUEUE_ROLE'), shown).toBe(true);
    expect(existsSync(dataDir), shown).toBe(false);
  });
});
