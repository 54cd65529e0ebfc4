import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateWebhookSecret } from '../server/src/auth/api-key-format.ts';
import { sealAtRest } from '../server/src/auth/seal-at-rest.ts';
import { openTeamSecrets } from '../server/src/auth/sealed-owners.ts';
import { newCredential } from '../server/src/tasks/task-row.ts';
import { api } from './helpers/http.ts';
import { type RecordingServer, startRecordingServer } from './helpers/recording-server.ts';
import { waitForStatus } from './helpers/task-waits.ts';
import { HEX_64 } from './helpers/tasks.ts';
import { startTestApp, type TestApp, type TestTeam } from './helpers/test-app.ts';
import { waitFor } from './helpers/wait-for.ts';

// Secrets at rest: callback ids (looked up by hash, kept sealed for the dispatch), team webhook
// secrets (sealed), and the start-up step that seals what older versions stored in plain text.

let t: TestApp;
let team: TestTeam;
let target: RecordingServer;

beforeAll(async () => {
  t = await startTestApp();
  team = await t.newTeam();
  target = await startRecordingServer();
});
afterAll(async () => {
  await target?.stop();
  await t?.stop();
});

const sql = <T>(text: string, params: unknown[] = []) => t.app.orm.em.fork().execute<T[]>(text, params);

/** Every text and jsonb column of a row, as one text (the whole row cast to text). */
const taskRowText = async (id: string) =>
  (await sql<{ row: string }>('select tk::text as row from tasks tk where id = ?', [id]))[0]?.row ?? '';

/** A callback task against the recording target; returns once it waits, with its callback URL. */
async function waitingCallbackTask() {
  const created = await api(t.url, 'POST', '/v1/tasks', {
    key: team.apiKey,
    body: {
      targetUrl: target.url('/start?cb={asyncqueue_callback_url}'),
      headers: { 'X-Callback': '{asyncqueue_callback_url}' },
      body: '{"callback":"{asyncqueue_callback_url}"}',
    },
  });
  expect(created.status, created.text).toBe(201);
  const id = created.body.task.id as string;
  const callbackId = created.body.task.callbackId as string;
  expect(callbackId).toMatch(HEX_64);
  await waitForStatus(t.url, team.apiKey, id, 'waiting');
  return { id, callbackId, callbackUrl: created.body.callbackUrl as string };
}

const postCallback = (url: string, payload: unknown = { status: 'done' }) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) });

describe('callback ids', () => {
  it('the tasks row holds no plain callback id in any column, and the callback URL still works', async () => {
    const { id, callbackId, callbackUrl } = await waitingCallbackTask();
    // The dispatch opened the sealed id and substituted the URL everywhere.
    const sent = await waitFor('the dispatch', () => target.received.find((r) => r.path.startsWith('/start')));
    expect(sent.headers['x-callback']).toBe(callbackUrl);
    expect(sent.raw).toBe(JSON.stringify({ callback: callbackUrl }));
    expect(new URL(sent.path, 'http://x').searchParams.get('cb')).toBe(callbackUrl);

    const row = await taskRowText(id);
    expect(row).not.toContain(callbackId);
    const [stored] = await sql<{ callback_id_hash: string }>('select callback_id_hash from tasks where id = ?', [id]);
    expect(stored?.callback_id_hash).toBe(createHash('sha256').update(callbackId).digest('hex'));

    const res = await postCallback(callbackUrl);
    expect(res.status).toBe(200);
    expect((await waitForStatus(t.url, team.apiKey, id, 'completed')).status).toBe('completed');
    // Used once: the id is spent.
    expect((await postCallback(callbackUrl)).status).toBe(404);
  });
});

describe('team webhook secrets', () => {
  it('the teams row holds no whsec_ text; the plain secret is only what createTeam returned', async () => {
    const rows = await sql<{ row: string; webhook_secret: string }>(
      'select tm::text as row, webhook_secret from teams tm where id = ?',
      [team.teamId],
    );
    expect(rows[0]?.row).not.toContain('whsec_');
    expect(rows[0]?.row).not.toContain(team.webhookSecret.slice('whsec_'.length));
    expect(openTeamSecrets(t.app.secretBox, team.teamId, [rows[0]?.webhook_secret as string])).toEqual([
      team.webhookSecret,
    ]);
  });
});

describe('start-up sealing of values stored by older versions', () => {
  it('seals plain team secrets, plain callback ids and unbound vault values, once', async () => {
    // Rows as an older version left them: a plain secret, a plain callback id, a v1 vault value.
    const legacySecret = generateWebhookSecret();
    const other = await t.newTeam();
    await sql('update teams set webhook_secret = ? where id = ?', [legacySecret, other.teamId]);
    const { id } = await waitingCallbackTask();
    const legacyCallbackId = newCredential();
    await sql('update tasks set callback_id = ?, callback_id_sealed = null, callback_id_hash = null where id = ?', [
      legacyCallbackId,
      id,
    ]);
    const tokenValue = 'legacy-vault-value-0123456789';
    const token = await api(t.url, 'POST', '/v1/tokens', {
      key: team.apiKey,
      body: { name: 'old', value: tokenValue },
    });
    expect(token.status, token.text).toBe(201);
    await sql('update vault_tokens set value_enc = ? where id = ?', [
      t.app.secretBox.seal(tokenValue),
      token.body.token.id,
    ]);

    const first = await sealAtRest(t.app.orm.em.fork(), t.app.secretBox);
    expect(first).toEqual({ teams: 1, vaultTokens: 1, callbackIds: 1 });
    expect(await sealAtRest(t.app.orm.em.fork(), t.app.secretBox)).toEqual({
      teams: 0,
      vaultTokens: 0,
      callbackIds: 0,
    });

    const [teamRow] = await sql<{ webhook_secret: string }>('select webhook_secret from teams where id = ?', [
      other.teamId,
    ]);
    expect(teamRow?.webhook_secret).not.toContain('whsec_');
    expect(openTeamSecrets(t.app.secretBox, other.teamId, [teamRow?.webhook_secret as string])).toEqual([legacySecret]);
    expect(await taskRowText(id)).not.toContain(legacyCallbackId);
    const [tokenRow] = await sql<{ value_enc: string }>('select value_enc from vault_tokens where id = ?', [
      token.body.token.id,
    ]);
    expect(tokenRow?.value_enc).toMatch(/^v2\./);

    // The legacy callback id still completes its task, looked up by its hash.
    expect((await postCallback(`${t.url}/v1/callbacks/${legacyCallbackId}`)).status).toBe(200);
    await waitForStatus(t.url, team.apiKey, id, 'completed');
    // The re-sealed vault value still reaches a target.
    const used = await api(t.url, 'POST', '/v1/tasks', {
      key: team.apiKey,
      body: { targetUrl: target.url('/vault'), headers: { Authorization: token.body.token.id } },
    });
    expect(used.status, used.text).toBe(201);
    const seen = await waitFor('the vault call', () => target.received.find((r) => r.path === '/vault'));
    expect(seen.headers.authorization).toBe(tokenValue);
  });
});
