import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MikroORM } from '@mikro-orm/postgresql';
import { waitFor } from './wait-for.ts';

/**
 * One loopback server that mimics the async APIs of the six preset providers (as their API
 * documentation describes them), each on its own paths, so ASYNCQUEUE_PROVIDER_BASE_URLS can point
 * every preset at it:
 *
 *   fal          POST /fal/{model}                         → {request_id, status_url, response_url, cancel_url}
 *                GET  /fal/{model}/requests/{id}/status    → IN_QUEUE → IN_PROGRESS → COMPLETED
 *                GET  /fal/{model}/requests/{id}           → 200 result, or 422 {detail} (failure)
 *   replicate    POST /v1/predictions                      → 201 prediction {id, status: starting, urls}
 *                GET  /v1/predictions/{id}                 → processing → succeeded (output) / failed (error)
 *   runwayml     POST /v1/image_to_video                   → {id}
 *                GET  /v1/tasks/{id}                       → PENDING → THROTTLED → RUNNING → SUCCEEDED / FAILED
 *   luma         POST /dream-machine/v1/generations        → 201 generation {id, state: queued}
 *                GET  /dream-machine/v1/generations/{id}   → dreaming → completed (assets.video) / failed
 *   elevenlabs   POST /v1/dubbing (xi-api-key)             → {dubbing_id, expected_duration_sec}
 *                GET  /v1/dubbing/{id}                     → dubbing → dubbed / failed (error)
 *   stability    POST /v2beta/image-to-video               → {id} (64 hex)
 *                GET  /v2beta/image-to-video/result/{id}   → 202 while running, 200 JSON when done, 404 failure
 *
 * The scenario of a created job comes from the create request's `X-Fake-Scenario` header:
 * `success` (default), `failure` or `never` (never finishes). Each status GET advances the job one
 * step along its scenario; the last step repeats. Like the real APIs, calls without the provider's
 * credentials header answer 401 (and Runway without X-Runway-Version answers 400). A Replicate create
 * with `X-Fake-Callback-First: <status>` POSTs its webhook in that status before it answers.
 */
export type FakeProviderId = 'fal' | 'replicate' | 'runwayml' | 'luma' | 'elevenlabs-dubbing' | 'stability-video';
export type Scenario = 'success' | 'failure' | 'never';

export type FakeRequest = {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
  kind: 'create' | 'status' | 'result' | 'other';
  jobId: string | null;
};

export type FakeJob = {
  provider: FakeProviderId;
  id: string;
  scenario: Scenario;
  /** The AsyncQueue task that created it (X-AsyncQueue-Task-Id of the create request). */
  taskId: string | null;
  createBody: unknown;
  /** From the create body: Luma `callback_url`, Replicate `webhook`. */
  callbackUrl: string | null;
  /** fal: the request's base URL (status_url without `/status`). */
  falBase: string | null;
  /** Status GETs answered so far. */
  polls: number;
  /** Every status response served: {statusCode, body (parsed)}. */
  served: { statusCode: number; body: unknown }[];
  resultFetches: number;
  /** Replicate with `X-Fake-Callback-First: <status>`: what AsyncQueue answered the early webhook. */
  earlyCallbackStatus: number | null;
};

const SEQUENCES: Record<FakeProviderId, Record<Scenario, string[]>> = {
  fal: {
    success: ['IN_QUEUE', 'IN_PROGRESS', 'COMPLETED'],
    failure: ['IN_QUEUE', 'IN_PROGRESS', 'COMPLETED'],
    never: ['IN_QUEUE', 'IN_PROGRESS'],
  },
  replicate: {
    success: ['processing', 'succeeded'],
    failure: ['processing', 'failed'],
    never: ['processing'],
  },
  runwayml: {
    success: ['PENDING', 'THROTTLED', 'RUNNING', 'SUCCEEDED'],
    failure: ['RUNNING', 'FAILED'],
    never: ['PENDING', 'RUNNING'],
  },
  luma: {
    success: ['dreaming', 'completed'],
    failure: ['dreaming', 'failed'],
    never: ['dreaming'],
  },
  'elevenlabs-dubbing': {
    success: ['dubbing', 'dubbed'],
    failure: ['dubbing', 'failed'],
    never: ['dubbing'],
  },
  'stability-video': {
    success: ['202', '200'],
    failure: ['202', '404'],
    never: ['202'],
  },
};

/** Values the fake serves, exported so tests can assert the stored result exactly. */
export const FAKE_OUTPUTS = {
  falResult: { images: [{ url: 'https://fal.media/files/cat.png', width: 1024, height: 1024 }], seed: 7 },
  falError: { detail: [{ loc: ['body', 'prompt'], msg: 'field required', type: 'value_error.missing' }] },
  replicateOutput: ['https://replicate.delivery/pbxt/abc/out-0.png'],
  replicateError: 'CUDA out of memory. Tried to allocate 2.00 GiB',
  runwayOutput: ['https://dnznrvs05pmza.cloudfront.net/video.mp4?_jwt=abc'],
  runwayFailure: 'The input image did not pass content moderation.',
  lumaVideo: 'https://storage.cdn-luma.com/dream_machine/abc/video.mp4',
  lumaFailure: 'Prompt rejected by the safety filter',
  elevenError: 'Unsupported audio codec in the source file',
  stabilityVideo: Buffer.from('fake mp4 bytes').toString('base64'),
};

const ISO = '2026-01-15T10:30:00.000Z';

export async function startFakeAiProviders() {
  const requests: FakeRequest[] = [];
  const jobs = new Map<string, FakeJob>();
  let origin = '';

  const newJob = (
    provider: FakeProviderId,
    id: string,
    req: http.IncomingMessage,
    createBody: unknown,
    callbackUrl: string | null,
  ): FakeJob => {
    const raw = String(req.headers['x-fake-scenario'] ?? 'success');
    const scenario: Scenario = raw === 'failure' || raw === 'never' ? raw : 'success';
    const job: FakeJob = {
      provider,
      id,
      scenario,
      taskId: (req.headers['x-asyncqueue-task-id'] as string | undefined) ?? null,
      createBody,
      callbackUrl,
      falBase: null,
      polls: 0,
      served: [],
      resultFetches: 0,
      earlyCallbackStatus: null,
    };
    jobs.set(id, job);
    return job;
  };

  /** The state at step `n` of the job's scenario (the last step repeats). */
  const stateAt = (job: FakeJob, n: number): string => {
    const seq = SEQUENCES[job.provider][job.scenario];
    return seq[Math.min(n, seq.length - 1)] as string;
  };

  const replicatePrediction = (job: FakeJob, status: string) => ({
    id: job.id,
    model: 'stability-ai/sdxl',
    version: '39ed52f2a78e934b3ba6e2a89f5b1c712de7dfea535525255b1aa35c5565e08b',
    input: (job.createBody as { input?: unknown } | null)?.input ?? {},
    logs: status === 'starting' ? '' : 'Using seed: 7\n',
    output: status === 'succeeded' ? FAKE_OUTPUTS.replicateOutput : null,
    error: status === 'failed' ? FAKE_OUTPUTS.replicateError : null,
    status,
    created_at: ISO,
    started_at: status === 'starting' ? null : ISO,
    completed_at: ['succeeded', 'failed', 'canceled'].includes(status) ? ISO : null,
    data_removed: false,
    urls: {
      get: `${origin}/v1/predictions/${job.id}`,
      cancel: `${origin}/v1/predictions/${job.id}/cancel`,
      stream: `${origin}/v1/stream/${job.id}`,
      web: `https://replicate.com/p/${job.id}`,
    },
    metrics: status === 'succeeded' ? { predict_time: 4.2, total_time: 5.1 } : {},
  });

  const lumaGeneration = (job: FakeJob, state: string) => ({
    id: job.id,
    generation_type: 'video',
    state,
    failure_reason: state === 'failed' ? FAKE_OUTPUTS.lumaFailure : null,
    created_at: ISO,
    assets: state === 'completed' ? { video: FAKE_OUTPUTS.lumaVideo, image: null } : null,
    model: 'ray-2',
    request: job.createBody,
  });

  /** The status response of a job in `state`: [HTTP status, JSON body]. */
  const statusResponse = (job: FakeJob, state: string): [number, unknown] => {
    switch (job.provider) {
      case 'fal': {
        const base = { status: state, request_id: job.id, response_url: job.falBase };
        if (state === 'IN_QUEUE') return [200, { ...base, queue_position: 2 }];
        if (state === 'IN_PROGRESS') return [200, { ...base, logs: [{ message: 'step 4/20' }] }];
        return [200, { ...base, logs: [{ message: 'step 20/20' }], metrics: { inference_time: 3.1 } }];
      }
      case 'replicate':
        return [200, replicatePrediction(job, state)];
      case 'runwayml':
        return [
          200,
          {
            id: job.id,
            createdAt: ISO,
            status: state,
            ...(state === 'RUNNING' ? { progress: 0.42 } : {}),
            ...(state === 'SUCCEEDED' ? { output: FAKE_OUTPUTS.runwayOutput } : {}),
            ...(state === 'FAILED' ? { failure: FAKE_OUTPUTS.runwayFailure, failureCode: 'SAFETY.INPUT.IMAGE' } : {}),
          },
        ];
      case 'luma':
        return [200, lumaGeneration(job, state)];
      case 'elevenlabs-dubbing':
        return [
          200,
          {
            dubbing_id: job.id,
            name: 'My dub',
            status: state,
            source_language: 'en',
            target_languages: ['es'],
            created_at: ISO,
            editable: false,
            media_metadata: { content_type: 'video/mp4', duration: 12.5 },
            error: state === 'failed' ? FAKE_OUTPUTS.elevenError : null,
          },
        ];
      case 'stability-video':
        if (state === '202') return [202, { id: job.id, status: 'in-progress' }];
        if (state === '200') return [200, { video: FAKE_OUTPUTS.stabilityVideo, finish_reason: 'SUCCESS', seed: 42 }];
        return [404, { id: job.id, name: 'not_found', errors: [`Generation ${job.id} not found`] }];
    }
  };

  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString();
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    const method = req.method ?? '';
    const record: FakeRequest = {
      method,
      path: path + url.search,
      headers: req.headers,
      body,
      at: Date.now(),
      kind: 'other',
      jobId: null,
    };
    requests.push(record);
    const json = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    let parsed: any = null;
    try {
      parsed = body ? JSON.parse(body) : null;
    } catch {
      parsed = null;
    }
    const auth = req.headers.authorization;
    const unauthorized = () => json(401, { detail: 'Unauthenticated' });
    const serveStatus = (provider: FakeProviderId, id: string) => {
      const job = jobs.get(id);
      record.kind = 'status';
      record.jobId = id;
      if (!job || job.provider !== provider) return json(404, { detail: 'Not found' });
      const [statusCode, payload] = statusResponse(job, stateAt(job, job.polls));
      job.polls += 1;
      job.served.push({ statusCode, body: payload });
      return json(statusCode, payload);
    };

    // fal.ai queue
    const falRequest = /^\/fal\/(.+)\/requests\/([^/]+)(\/status)?$/.exec(path);
    if (falRequest && method === 'GET') {
      const id = falRequest[2] as string;
      if (!auth) return unauthorized();
      if (falRequest[3]) return serveStatus('fal', id);
      const job = jobs.get(id);
      record.kind = 'result';
      record.jobId = id;
      if (!job) return json(404, { detail: 'Request not found' });
      job.resultFetches += 1;
      return job.scenario === 'failure' ? json(422, FAKE_OUTPUTS.falError) : json(200, FAKE_OUTPUTS.falResult);
    }
    if (path.startsWith('/fal/') && method === 'POST') {
      if (!auth) return unauthorized();
      const model = path.slice('/fal/'.length);
      const id = randomUUID();
      const falWebhook = url.searchParams.get('fal_webhook');
      const job = newJob('fal', id, req, parsed, falWebhook);
      record.kind = 'create';
      record.jobId = id;
      const base = `${origin}/fal/${model}/requests/${id}`;
      job.falBase = base;
      return json(200, {
        request_id: id,
        gateway_request_id: id,
        status_url: `${base}/status`,
        response_url: base,
        cancel_url: `${base}/cancel`,
        queue_position: 0,
      });
    }

    // Replicate
    if (path === '/v1/predictions' && method === 'POST') {
      if (!auth?.startsWith('Bearer ')) return unauthorized();
      const job = newJob('replicate', randomBytes(13).toString('hex'), req, parsed, parsed?.webhook ?? null);
      record.kind = 'create';
      record.jobId = job.id;
      // A fast provider: its webhook reaches AsyncQueue before this HTTP response does.
      const early = req.headers['x-fake-callback-first'];
      if (typeof early === 'string' && job.callbackUrl) {
        const cb = await fetch(job.callbackUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(replicatePrediction(job, early)),
        });
        job.earlyCallbackStatus = cb.status;
        await cb.text();
      }
      return json(201, replicatePrediction(job, 'starting'));
    }
    const prediction = /^\/v1\/predictions\/([^/]+)$/.exec(path);
    if (prediction && method === 'GET') {
      if (!auth?.startsWith('Bearer ')) return unauthorized();
      return serveStatus('replicate', prediction[1] as string);
    }

    // RunwayML
    if ((path === '/v1/image_to_video' || path === '/v1/text_to_video') && method === 'POST') {
      if (!auth) return unauthorized();
      if (req.headers['x-runway-version'] !== '2024-11-06') return json(400, { error: 'Missing X-Runway-Version' });
      const job = newJob('runwayml', randomUUID(), req, parsed, null);
      record.kind = 'create';
      record.jobId = job.id;
      return json(200, { id: job.id });
    }
    const runwayTask = /^\/v1\/tasks\/([^/]+)$/.exec(path);
    if (runwayTask && method === 'GET') {
      if (!auth) return unauthorized();
      if (req.headers['x-runway-version'] !== '2024-11-06') return json(400, { error: 'Missing X-Runway-Version' });
      return serveStatus('runwayml', runwayTask[1] as string);
    }

    // Luma Dream Machine
    if (
      (path === '/dream-machine/v1/generations' || path === '/dream-machine/v1/generations/video') &&
      method === 'POST'
    ) {
      if (!auth?.startsWith('Bearer ')) return unauthorized();
      const job = newJob('luma', randomUUID(), req, parsed, parsed?.callback_url ?? null);
      record.kind = 'create';
      record.jobId = job.id;
      return json(201, lumaGeneration(job, 'queued'));
    }
    const generation = /^\/dream-machine\/v1\/generations\/([^/]+)$/.exec(path);
    if (generation && method === 'GET') {
      if (!auth?.startsWith('Bearer ')) return unauthorized();
      return serveStatus('luma', generation[1] as string);
    }

    // ElevenLabs dubbing
    if (path === '/v1/dubbing' && method === 'POST') {
      if (!req.headers['xi-api-key']) return json(401, { detail: { status: 'invalid_api_key' } });
      const job = newJob('elevenlabs-dubbing', randomBytes(10).toString('hex'), req, parsed, null);
      record.kind = 'create';
      record.jobId = job.id;
      return json(200, { dubbing_id: job.id, expected_duration_sec: 42.5 });
    }
    const dubbing = /^\/v1\/dubbing\/([^/]+)$/.exec(path);
    if (dubbing && method === 'GET') {
      if (!req.headers['xi-api-key']) return json(401, { detail: { status: 'invalid_api_key' } });
      return serveStatus('elevenlabs-dubbing', dubbing[1] as string);
    }

    // Stability image-to-video
    if (path === '/v2beta/image-to-video' && method === 'POST') {
      if (!auth?.startsWith('Bearer ')) return unauthorized();
      const job = newJob('stability-video', randomBytes(32).toString('hex'), req, parsed, null);
      record.kind = 'create';
      record.jobId = job.id;
      return json(200, { id: job.id });
    }
    const stability = /^\/v2beta\/image-to-video\/result\/([^/]+)$/.exec(path);
    if (stability && method === 'GET') {
      if (!auth?.startsWith('Bearer ')) return unauthorized();
      return serveStatus('stability-video', stability[1] as string);
    }

    // Anything else: a plain target that answers 200 (used for non-polling tasks).
    if (path.startsWith('/plain/')) return json(200, { ok: true });
    return json(404, { detail: `no fake route for ${method} ${path}` });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const presetsWithOrigin: FakeProviderId[] = [
    'replicate',
    'runwayml',
    'luma',
    'elevenlabs-dubbing',
    'stability-video',
  ];
  const baseUrls = Object.fromEntries(presetsWithOrigin.map((id) => [id, origin]));

  return {
    origin,
    url: (path: string) => `${origin}${path}`,
    /** ASYNCQUEUE_PROVIDER_BASE_URLS pointing every preset with a fixed origin at this fake. */
    baseUrlsEnv: JSON.stringify(baseUrls),
    requests,
    jobs,
    /** The job a task created (found by the X-AsyncQueue-Task-Id of the create request). */
    jobForTask(taskId: string): FakeJob | undefined {
      return [...jobs.values()].find((j) => j.taskId === taskId);
    },
    requestsFor(jobId: string, kind?: FakeRequest['kind']): FakeRequest[] {
      return requests.filter((r) => r.jobId === jobId && (kind === undefined || r.kind === kind));
    },
    /** The body the provider would send to its callback in `state` (Luma generation, Replicate prediction). */
    callbackPayload(job: FakeJob, state: string): unknown {
      if (job.provider === 'luma') return lumaGeneration(job, state);
      if (job.provider === 'replicate') return replicatePrediction(job, state);
      return statusResponse(job, state)[1];
    },
    /** POSTs the job's object in `state` to the callback URL from its create body, as the provider does. */
    async sendCallback(job: FakeJob, state: string): Promise<{ status: number; body: any; raw: string }> {
      if (!job.callbackUrl) throw new Error(`job ${job.id} has no callback URL`);
      const raw = JSON.stringify(this.callbackPayload(job, state));
      const res = await fetch(job.callbackUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: raw,
      });
      const text = await res.text();
      let parsedBody: unknown = text;
      try {
        parsedBody = JSON.parse(text);
      } catch {
        // keep the text
      }
      return { status: res.status, body: parsedBody, raw };
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type FakeAiProviders = Awaited<ReturnType<typeof startFakeAiProviders>>;

type JobState = { id: string; state: string; startAfter: Date };

/**
 * Runs the app's delayed pg-boss jobs now instead of waiting for them (presets poll every 3–10 s
 * and give up after 600–1800 s): BACKDATE `start_after`, then wait for the worker (which polls
 * its queue every 1 s) to finish the job.
 */
export function jobControl(orm: MikroORM) {
  const sql = <T>(text: string, params: unknown[] = []) => orm.em.fork().execute<T[]>(text, params);
  const jobs = (queue: string, taskId: string) =>
    sql<JobState>(
      `select id, state::text as state, start_after as "startAfter" from pgboss.job
       where name = ? and data->>'taskId' = ? order by created_on, id`,
      [queue, taskId],
    );
  const queued = async (queue: string, taskId: string) =>
    (await jobs(queue, taskId)).filter((j) => j.state === 'created' || j.state === 'retry');

  /** Makes the job due now and waits until a worker has finished it. */
  const runNow = async (queue: string, job: JobState) => {
    await sql('update pgboss.job set start_after = now() where id = ?', [job.id]);
    await waitFor(
      `${queue} job ${job.id} to finish`,
      async () => {
        const rows = await sql<{ state: string }>('select state::text as state from pgboss.job where id = ?', [job.id]);
        return rows[0]?.state === 'completed' || rows[0]?.state === 'failed';
      },
      15_000,
      50,
    );
  };

  return {
    jobs,
    queued,
    /** Waits for the task's next scheduled poll, runs it now, and waits until it has been handled. */
    async pollNow(taskId: string): Promise<void> {
      const next = await waitFor('a queued poll job', async () => (await queued('poll', taskId))[0], 15_000, 50);
      await runNow('poll', next);
    },
    /** Moves the task's deadline into the past and runs its expire job now (maxDuration / maxWaitTime). */
    async expireNow(taskId: string): Promise<void> {
      await sql(`update tasks set deadline_at = now() - interval '1 second' where id = ?`, [taskId]);
      const job = await waitFor('a queued expire job', async () => (await queued('expire', taskId))[0], 15_000, 50);
      await runNow('expire', job);
    },
    /**
     * Waits until the task row has `status`, read straight from the table. For a non-terminal
     * status use this, not the GET ?wait= long-poll: a long-poll that starts after the change waits
     * for the NEXT change (up to its full wait), which would let a delayed poll come due meanwhile.
     */
    async untilStatus(taskId: string, status: string, timeoutMs = 15_000): Promise<void> {
      await waitFor(
        `task ${taskId} to be ${status}`,
        async () =>
          (await sql<{ status: string }>('select status from tasks where id = ?', [taskId]))[0]?.status === status,
        timeoutMs,
        25,
      );
    },
    /** Seconds from now until the task's next queued poll is due (null when none is queued). */
    async secondsUntilNextPoll(taskId: string): Promise<number | null> {
      const rows = await sql<{ s: number }>(
        `select extract(epoch from start_after - now())::float as s from pgboss.job
         where name = 'poll' and data->>'taskId' = ? and state::text in ('created', 'retry')
         order by start_after limit 1`,
        [taskId],
      );
      return rows[0]?.s ?? null;
    },
    /** How many jobs of `queue` exist for the task, whatever their state. */
    async count(queue: string, taskId: string): Promise<number> {
      return (await jobs(queue, taskId)).length;
    },
    sql,
  };
}

export type JobControl = ReturnType<typeof jobControl>;
