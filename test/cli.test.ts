import { createHash, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVER_NODE_FLAGS } from '../server/src/config/node-flags.ts';
import { api } from './helpers/http.ts';
import { CLI_BIN, type CliResult, freePort, runCli, spawnServer } from './helpers/server-process.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';
import { createTestDatabase } from './helpers/test-database.ts';

// The `asyncqueue` CLI as a real child process (server/bin/asyncqueue.js on Node 24) against a
// fresh database of the run's PostgreSQL.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const API_KEY = /^async_[0-9A-Za-z]{48}$/;

let databaseUrl: string;
let app: TestApp | undefined;

function cli(...args: string[]): Promise<CliResult> {
  return runCli(args, { DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' });
}

function show(result: CliResult): string {
  return `exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`;
}

/** A successful --json command: exit 0, one JSON value on stdout. */
async function json<T = any>(...args: string[]): Promise<T> {
  const result = await cli(...args);
  expect(result.code, show(result)).toBe(0);
  expect(result.stdout.trim().split('\n'), `one line of JSON on stdout: ${show(result)}`).toHaveLength(1);
  return JSON.parse(result.stdout) as T;
}

/** A failing command: exit 1, a message on stderr, nothing on stdout. */
async function fails(args: string[], message: RegExp): Promise<CliResult> {
  const result = await cli(...args);
  expect(result.code, show(result)).toBe(1);
  expect(result.stdout, show(result)).toBe('');
  expect(result.stderr, show(result)).toMatch(message);
  return result;
}

function expectWebhookSecret(secret: unknown): void {
  expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
  expect(Buffer.from((secret as string).slice('whsec_'.length), 'base64')).toHaveLength(32);
}

async function query<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  databaseUrl = await createTestDatabase();
});

afterAll(async () => {
  await app?.stop();
});

describe('asyncqueue CLI', () => {
  let teamId: string;
  let teamSecret: string;
  let key: { id: string; teamId: string; name: string; prefix: string; apiKey: string };

  it('migrate exits 0 and reports an up-to-date database', async () => {
    const result = await cli('migrate');
    expect(result.code, show(result)).toBe(0);
    expect(result.stdout).toBe('Database is up to date.\n');
    const tables = await query<{ table_name: string }>(
      "select table_name from information_schema.tables where table_schema = 'public' and table_name in ('teams', 'api_keys', 'tasks') order by table_name",
    );
    expect(tables.map((t) => t.table_name)).toEqual(['api_keys', 'tasks', 'teams']);
    const again = await cli('migrate', '--json');
    expect(again.code, show(again)).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({ migrated: true });
  });

  it('teams create --json prints exactly {id, name, webhookSecret}', async () => {
    const team = await json('teams', 'create', '--name', 'Acme', '--json');
    expect(Object.keys(team).sort()).toEqual(['id', 'name', 'webhookSecret']);
    expect(team.id).toMatch(UUID);
    expect(team.name).toBe('Acme');
    expectWebhookSecret(team.webhookSecret);
    teamId = team.id;
    teamSecret = team.webhookSecret;
    const rows = await query<{ name: string }>('select name from teams where id = $1', [teamId]);
    expect(rows).toEqual([{ name: 'Acme' }]);
  });

  it('keys create --json prints exactly {id, teamId, name, prefix, apiKey}', async () => {
    key = await json('keys', 'create', '--team', teamId, '--name', 'ci', '--json');
    expect(Object.keys(key).sort()).toEqual(['apiKey', 'id', 'name', 'prefix', 'teamId']);
    expect(key.id).toMatch(UUID);
    expect(key.teamId).toBe(teamId);
    expect(key.name).toBe('ci');
    expect(key.apiKey).toMatch(API_KEY);
    expect(key.prefix).toBe(key.apiKey.slice(0, 12));
    expect(key.prefix).toHaveLength(12);
  });

  it('stored only the SHA-256 of the key: the raw key is in no column', async () => {
    const rows = await query<Record<string, unknown>>('select * from api_keys where id = $1', [key.id]);
    expect(rows).toHaveLength(1);
    const row = rows[0] as Record<string, unknown>;
    expect(row.key_hash).toBe(createHash('sha256').update(key.apiKey).digest('hex'));
    expect(row.prefix).toBe(key.prefix);
    const everything = await query<{ dump: string }>(
      "select coalesce(string_agg(t::text, chr(10)), '') as dump from api_keys t",
    );
    expect(everything[0]?.dump).not.toContain(key.apiKey);
    expect(everything[0]?.dump).not.toContain(key.apiKey.slice(12));
  });

  it('keys list --json prints [{id, name, prefix, createdAt, revokedAt}] and no secret', async () => {
    const result = await cli('keys', 'list', '--team', teamId, '--json');
    expect(result.code, show(result)).toBe(0);
    expect(result.stdout).not.toContain(key.apiKey);
    expect(result.stdout).not.toContain(key.apiKey.slice(12));
    expect(result.stdout).not.toContain(createHash('sha256').update(key.apiKey).digest('hex'));
    expect(result.stdout).not.toMatch(/apiKey|hash/i);
    const list = JSON.parse(result.stdout);
    expect(list).toEqual([
      { id: key.id, name: 'ci', prefix: key.prefix, createdAt: expect.stringMatching(ISO), revokedAt: null },
    ]);
    expect(Object.keys(list[0]).sort()).toEqual(['createdAt', 'id', 'name', 'prefix', 'revokedAt']);
    expect(Math.abs(Date.parse(list[0].createdAt) - Date.now())).toBeLessThan(5 * 60_000);
  });

  it('a CLI key authenticates against a server on the same database, and stops right after keys revoke', async () => {
    const extra = await json('keys', 'create', '--team', teamId, '--name', 'to-revoke', '--json');
    app = await startTestApp({}, databaseUrl);
    const before = await api(app.url, 'GET', '/v1/tasks', { key: extra.apiKey });
    expect(before.status, before.text).toBe(200);
    expect(before.body.tasks).toEqual([]);

    const revoked = await json('keys', 'revoke', extra.id, '--json');
    expect(Object.keys(revoked).sort()).toEqual(['id', 'revokedAt']);
    expect(revoked.id).toBe(extra.id);
    expect(revoked.revokedAt).toMatch(ISO);

    const after = await api(app.url, 'GET', '/v1/tasks', { key: extra.apiKey });
    expect(after.status, after.text).toBe(401);
    expect(after.body.error).toBe('Invalid or revoked API key');
    // The other key of the team is untouched.
    const other = await api(app.url, 'GET', '/v1/tasks', { key: key.apiKey });
    expect(other.status, other.text).toBe(200);

    const list = await json<{ id: string; revokedAt: string | null }[]>('keys', 'list', '--team', teamId, '--json');
    expect(list.map((k) => k.id)).toEqual([key.id, extra.id]);
    expect(list.find((k) => k.id === extra.id)?.revokedAt).toBe(revoked.revokedAt);
    expect(list.find((k) => k.id === key.id)?.revokedAt).toBeNull();
  });

  it('keys revoke --json then keys list shows revokedAt', async () => {
    const revoked = await json('keys', 'revoke', key.id, '--json');
    expect(revoked).toEqual({ id: key.id, revokedAt: expect.stringMatching(ISO) });
    const list = await json<{ id: string; revokedAt: string | null }[]>('keys', 'list', '--team', teamId, '--json');
    expect(list.find((k) => k.id === key.id)?.revokedAt).toBe(revoked.revokedAt);
    const rows = await query<{ revoked_at: Date | null }>('select revoked_at from api_keys where id = $1', [key.id]);
    expect(rows[0]?.revoked_at?.toISOString()).toBe(revoked.revokedAt);
  });

  it('teams rotate-secret --json prints {id, webhookSecret} with a new secret', async () => {
    const rotated = await json('teams', 'rotate-secret', teamId, '--json');
    expect(Object.keys(rotated).sort()).toEqual(['id', 'webhookSecret']);
    expect(rotated.id).toBe(teamId);
    expectWebhookSecret(rotated.webhookSecret);
    expect(rotated.webhookSecret).not.toBe(teamSecret);
    // Stored sealed: neither secret is in the row in plain text.
    const rows = await query<{ row: string }>('select t::text as row from teams t where id = $1', [teamId]);
    expect(rows[0]?.row).not.toContain('whsec_');
    expect(rows[0]?.row).not.toContain(rotated.webhookSecret.slice('whsec_'.length));
    expect(rows[0]?.row).not.toContain(teamSecret.slice('whsec_'.length));
  });

  it('serve runs the server with its V8 flags in the same process, and SIGTERM stops it cleanly', async () => {
    const server = spawnServer({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' }, await freePort(), [CLI_BIN, 'serve']);
    try {
      await server.waitReady(30_000);
      const pid = server.child.pid as number;
      // Re-executed in place: the process the supervisor started is the server, with the flags.
      const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
      for (const flag of SERVER_NODE_FLAGS) expect(cmdline, server.describe()).toContain(flag);
      expect(cmdline).toContain('serve');
    } finally {
      server.child.kill('SIGTERM');
    }
    expect(await server.waitExit(30_000)).toEqual({ code: 0, signal: null });
  });

  it('--help prints the usage on stdout and exits 0', async () => {
    const result = await cli('--help');
    expect(result.code, show(result)).toBe(0);
    expect(result.stdout).toMatch(/^Usage: asyncqueue <command>/);
    for (const command of [
      'teams create',
      'keys create',
      'keys list',
      'keys revoke',
      'teams rotate-secret',
      'migrate',
      'serve',
    ]) {
      expect(result.stdout).toContain(command);
    }
    expect(result.stderr).toBe('');
  });

  describe('errors: exit 1, a message on stderr, nothing on stdout', () => {
    it('an unknown command', async () => {
      await fails(['frobnicate', 'now'], /unknown command: frobnicate now/);
    });

    it('keys create without --team', async () => {
      await fails(['keys', 'create', '--name', 'x', '--json'], /--team is required/);
    });

    it('keys revoke of an unknown id', async () => {
      const id = randomUUID();
      await fails(['keys', 'revoke', id, '--json'], new RegExp(`No API key with id ${id}`));
    });

    it('teams rotate-secret of an unknown id', async () => {
      const id = randomUUID();
      await fails(['teams', 'rotate-secret', id, '--json'], new RegExp(`No team with id ${id}`));
    });

    it('keys create for an unknown team, creating nothing', async () => {
      const id = randomUUID();
      await fails(['keys', 'create', '--team', id, '--name', 'x', '--json'], new RegExp(`No team with id ${id}`));
      const rows = await query<{ n: string }>('select count(*)::text as n from api_keys where team_id = $1', [id]);
      expect(rows[0]?.n).toBe('0');
    });
  });
});
