import { describe, expect, it } from 'vitest';
import { type FakeProvider, startFakeProvider } from './helpers/fake-provider.ts';
import { api } from './helpers/http.ts';
import { waitForStatus } from './helpers/task-waits.ts';
import { startTestApp } from './helpers/test-app.ts';

describe('graceful shutdown', () => {
  it('answers open long-polls at once with the current state, then stops', async () => {
    const provider: FakeProvider = await startFakeProvider();
    const t = await startTestApp();
    try {
      const team = await t.newTeam();
      const created = await api(t.url, 'POST', '/v1/tasks', {
        key: team.apiKey,
        body: { targetUrl: provider.url('/ok'), waitForSignal: true },
      });
      await waitForStatus(t.url, team.apiKey, created.body.task.id, 'waiting');
      const polls = Array.from({ length: 5 }, () =>
        api(t.url, 'GET', `/v1/tasks/${created.body.task.id}?wait=25`, { key: team.apiKey }),
      );
      // Give the long-polls time to park (the subject here is what happens to parked polls).
      await new Promise((r) => setTimeout(r, 300));
      const stopAt = Date.now();
      const stopping = t.app.stop();
      const answers = await Promise.all(polls);
      const answeredIn = Date.now() - stopAt;
      await stopping;
      for (const res of answers) {
        expect(res.status).toBe(200);
        expect(res.body.task.status).toBe('waiting');
      }
      expect(answeredIn).toBeLessThan(5_000);
      // No shutdown step was stuck (each one logs `shutdown: <step> …` when it is).
      expect(t.logs.lines.filter((line) => line.includes('shutdown:'))).toEqual([]);
      // Stopped: no new connections are accepted.
      await expect(fetch(`${t.url}/healthz`)).rejects.toThrow();
    } finally {
      await t.stop();
      await provider.stop();
    }
  });
});
