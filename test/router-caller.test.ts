import { randomUUID } from 'node:crypto';
import { TRPCError } from '@trpc/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Context } from '../server/src/api/context.ts';
import { restErrorBody } from '../server/src/api/error-mapping.ts';
import type { RequestMeta } from '../server/src/api/request-meta.ts';
import { appRouter } from '../server/src/api/routers/app-router.ts';
import { AppError } from '../server/src/shared/app-error.ts';
import { delayedTask, UUID_V7 } from './helpers/tasks.ts';
import { startTestApp, type TestApp, type TestTeam } from './helpers/test-app.ts';

// The tRPC router called in-process (createCaller), without HTTP: the procedures, their auth
// middleware, input validation and the error bridge work on a context built as the HTTP server
// builds it, with the App's own services and a real PostgreSQL.

let t: TestApp;
let team: TestTeam;

beforeAll(async () => {
  t = await startTestApp();
  team = await t.newTeam();
});
afterAll(async () => {
  await t?.stop();
});

/** A RequestMeta as http-server.ts builds one per request: here, headers from a plain record. */
function requestMeta(headers: Record<string, string>): RequestMeta {
  const lower = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
  return {
    requestId: randomUUID(),
    clientIp: '127.0.0.1',
    header: (name) => lower[name.toLowerCase()],
    responseHeaders: {},
    successStatus: undefined,
    signal: new AbortController().signal,
  };
}

/**
 * A caller whose every call is a request of its own (a fresh meta, so admission runs per call, as
 * it does per HTTP request); `metas` keeps each call's meta to read what the procedure set.
 */
function callerWith(headers: Record<string, string>) {
  const metas: RequestMeta[] = [];
  const caller = appRouter.createCaller((): Context => {
    const meta = requestMeta(headers);
    metas.push(meta);
    return { meta, services: t.app.services };
  });
  return { caller, metas };
}

/** The error a call rejects with (fails the test if it resolves). */
async function rejection(call: Promise<unknown>): Promise<TRPCError> {
  const error = await call.then(
    () => expect.fail('the call resolved'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TRPCError);
  return error as TRPCError;
}

describe('appRouter.createCaller (no HTTP)', () => {
  it('create → get → list → cancel through the caller, with the API key in the Authorization header', async () => {
    const { caller, metas } = callerWith({ authorization: `Bearer ${team.apiKey}` });
    const input = delayedTask(1);

    const created = await caller.tasks.create(input);
    expect(created.task).toMatchObject({
      status: 'delayed',
      targetUrl: input.targetUrl,
      body: input.body,
      delayUntil: new Date(input.delayUntil).toISOString(),
      retryCount: 0,
      attempts: [],
    });
    expect(created.task.id).toMatch(UUID_V7);
    expect(metas[0]?.successStatus).toBe(201);
    expect(metas[0]?.responseHeaders['X-RateLimit-Limit']).toMatch(/^\d+$/);

    const got = await caller.tasks.get({ id: created.task.id });
    expect(got.task).toMatchObject({ id: created.task.id, status: 'delayed', body: input.body });

    const listed = await caller.tasks.list({ status: 'delayed', limit: 10 });
    expect(listed.tasks.map((task) => task.id)).toEqual([created.task.id]);
    expect(listed.pagination).toEqual({ limit: 10, hasMore: false, nextCursor: null });

    const cancelled = await caller.tasks.cancel({ id: created.task.id });
    expect(cancelled.task).toMatchObject({ id: created.task.id, status: 'cancelled' });
    expect((await caller.tasks.get({ id: created.task.id })).task.status).toBe('cancelled');
    expect((await caller.tasks.list({ status: 'delayed', limit: 10 })).tasks).toEqual([]);
  });

  it('a call without an API key is refused with an UNAUTHORIZED TRPCError, and nothing is stored', async () => {
    const { caller } = callerWith({});
    const error = await rejection(caller.tasks.create(delayedTask(2)));
    expect(error.code).toBe('UNAUTHORIZED');
    expect(error.message).toBe('API key required');
    expect(error.cause).toBeInstanceOf(AppError);
    expect(restErrorBody(error)).toEqual({ error: 'API key required', code: 'unauthorized' });

    const wrong = await rejection(callerWith({ authorization: 'Bearer not-a-key' }).caller.tasks.list({}));
    expect(wrong.code).toBe('UNAUTHORIZED');

    const owner = callerWith({ authorization: `Bearer ${team.apiKey}` }).caller;
    expect((await owner.tasks.list({ limit: 100 })).tasks.map((task) => task.targetUrl)).not.toContain(
      delayedTask(2).targetUrl,
    );
  });

  it('bad input is a BAD_REQUEST TRPCError whose error body names each bad field in details', async () => {
    const { caller } = callerWith({ authorization: `Bearer ${team.apiKey}` });
    const bad = { ...delayedTask(3), timeout: 0, priority: 11 };
    const error = await rejection(caller.tasks.create(bad as never));
    expect(error.code).toBe('BAD_REQUEST');
    const body = restErrorBody(error);
    expect(body).toMatchObject({ code: 'validation_failed', error: 'Invalid request: timeout, priority' });
    expect(body.details?.map((detail) => detail.path)).toEqual(['timeout', 'priority']);
    for (const detail of body.details ?? []) expect(detail.message.length).toBeGreaterThan(0);
  });

  it('a validation error raised by a procedure keeps its details on the AppError cause', async () => {
    const { caller } = callerWith({ authorization: `Bearer ${team.apiKey}`, 'idempotency-key': 'header-key' });
    const error = await rejection(caller.tasks.create({ ...delayedTask(4), idempotencyKey: 'field-key' }));
    expect(error.code).toBe('BAD_REQUEST');
    expect(error.cause).toBeInstanceOf(AppError);
    expect((error.cause as AppError).details).toEqual([
      { path: 'idempotencyKey', message: 'differs from the Idempotency-Key header' },
    ]);
    expect(restErrorBody(error)).toEqual({
      error: 'Idempotency-Key header and idempotencyKey field differ; send one',
      code: 'validation_failed',
      details: [{ path: 'idempotencyKey', message: 'differs from the Idempotency-Key header' }],
    });
  });
});
