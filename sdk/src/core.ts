import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
// Type-only, erased at build: the published .d.ts never mentions the router (see scripts/generate-types.ts).
import type { AppRouter } from '../../server/src/api/routers/app-router.ts';
import { linkedController } from './abort.ts';
import { APIError, AsyncQueueError, ConnectionError } from './errors.ts';
import type {
  BulkActionResult,
  CreateManyParams,
  CreateManyResponse,
  CreateTaskParams,
  CreateTaskResponse,
  CreateTokenParams,
  FlowKey,
  FlowKeyLimits,
  Provider,
  Task,
  TaskFilter,
  TaskPage,
  TaskQueue,
  TaskStats,
  VaultToken,
} from './generated/api-types.ts';
import { parseRetryAfter, withRetries } from './retry.ts';
import type { ListTasksParams } from './types.ts';

/** Client options after defaults were applied. */
export type ResolvedOptions = {
  apiKey: string | undefined;
  baseUrl: string;
  maxRetries: number;
  timeoutMs: number;
  fetch: typeof fetch;
  headers: Record<string, string>;
};

/**
 * The API calls, in the SDK's own types. The implementation below maps each one onto the tRPC
 * procedure, so a router change that breaks these types fails the SDK's type-check.
 */
export type Api = {
  createTask(input: CreateTaskParams, signal: AbortSignal): Promise<CreateTaskResponse>;
  getTask(input: { id: string; wait?: number | undefined }, signal: AbortSignal): Promise<{ task: Task }>;
  listTasks(input: ListTasksParams, signal: AbortSignal): Promise<TaskPage>;
  cancelTask(input: { id: string }, signal: AbortSignal): Promise<{ task: Task }>;
  redeliverWebhook(input: { id: string }, signal: AbortSignal): Promise<{ task: Task }>;
  createTasks(input: CreateManyParams, signal: AbortSignal): Promise<CreateManyResponse>;
  replayTask(input: { id: string }, signal: AbortSignal): Promise<CreateTaskResponse>;
  cancelTasks(input: TaskFilter, signal: AbortSignal): Promise<BulkActionResult>;
  replayTasks(input: TaskFilter, signal: AbortSignal): Promise<BulkActionResult>;
  taskStats(signal: AbortSignal): Promise<TaskStats>;
  listProviders(signal: AbortSignal): Promise<{ providers: Provider[] }>;
  createToken(input: CreateTokenParams, signal: AbortSignal): Promise<{ token: VaultToken }>;
  listTokens(signal: AbortSignal): Promise<{ tokens: VaultToken[] }>;
  deleteToken(input: { id: string }, signal: AbortSignal): Promise<{ token: VaultToken }>;
  taskQueue(input: { id: string }, signal: AbortSignal): Promise<TaskQueue>;
  upsertFlowKey(input: FlowKeyLimits & { key: string }, signal: AbortSignal): Promise<{ flowKey: FlowKey }>;
  listFlowKeys(signal: AbortSignal): Promise<{ flowKeys: FlowKey[] }>;
  getFlowKey(input: { key: string }, signal: AbortSignal): Promise<{ flowKey: FlowKey }>;
  deleteFlowKey(input: { key: string }, signal: AbortSignal): Promise<{ flowKey: FlowKey }>;
  pauseFlowKey(input: { key: string }, signal: AbortSignal): Promise<{ flowKey: FlowKey }>;
  resumeFlowKey(input: { key: string }, signal: AbortSignal): Promise<{ flowKey: FlowKey }>;
};

/** Per-call settings: what the resources pass to `Core.call`. */
export type CallSettings = {
  retryable: boolean;
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
  maxRetries?: number | undefined;
};

/** Transport shared by the resources: tRPC for the API, plain fetch for raw routes (signals). */
export class Core {
  readonly options: ResolvedOptions;
  readonly api: Api;

  constructor(options: ResolvedOptions) {
    this.options = options;
    this.api = createApi(options, (url, init) => this.fetch(url, init));
  }

  /** One logical call: per-attempt timeout, caller's signal, errors mapped to classes, retries. */
  call<T>(settings: CallSettings, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const policy = {
      maxRetries: settings.maxRetries ?? this.options.maxRetries,
      retryable: settings.retryable,
      signal: settings.signal,
    };
    return withRetries(policy, () => this.attempt(settings, run));
  }

  private async attempt<T>(settings: CallSettings, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const timeoutMs = settings.timeoutMs ?? this.options.timeoutMs;
    const { controller, dispose } = linkedController(settings.signal);
    const timedOut = new DOMException(`timed out after ${timeoutMs} ms`, 'TimeoutError');
    const timer = setTimeout(() => controller.abort(timedOut), timeoutMs);
    try {
      if (controller.signal.aborted) throw controller.signal.reason;
      return await run(controller.signal);
    } catch (error) {
      if (settings.signal?.aborted) throw settings.signal.reason;
      if (controller.signal.aborted && controller.signal.reason === timedOut) {
        throw new ConnectionError(`Request to AsyncQueue timed out after ${timeoutMs} ms`, {
          code: 'timeout',
          cause: error,
        });
      }
      throw toAsyncQueueError(error);
    } finally {
      clearTimeout(timer);
      dispose();
    }
  }

  /** POST a JSON body to a raw route (not tRPC) and return the parsed JSON answer. */
  async postJson<T>(path: string, body: unknown, settings: CallSettings): Promise<T> {
    return this.call(settings, async (signal) => {
      const res = await this.fetch(`${this.options.baseUrl}${path}`, {
        method: 'POST',
        headers: { ...this.options.headers, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal,
      });
      const text = await res.text();
      const parsed = parseJson(text);
      if (!res.ok) throw APIError.generate(res.status, asErrorBody(parsed), responseExtras(res));
      return parsed as T;
    });
  }

  /**
   * fetch with the SDK's error mapping: a network failure is a ConnectionError, and an error
   * answer that is not JSON (a proxy's 502 page) becomes the error for its status.
   */
  private async fetch(url: string | URL | Request, init?: RequestInit): Promise<Response> {
    let res: Response;
    try {
      res = await this.options.fetch(url, init);
    } catch (error) {
      if (init?.signal?.aborted) throw error;
      throw new ConnectionError(`Cannot reach AsyncQueue at ${this.options.baseUrl}: ${describe(error)}`, {
        cause: error,
      });
    }
    if (!res.ok && !(res.headers.get('content-type') ?? '').includes('json')) {
      const text = await res.text().catch(() => '');
      throw APIError.generate(res.status, { error: text.trim().slice(0, 200) || undefined }, responseExtras(res));
    }
    return res;
  }
}

function createApi(options: ResolvedOptions, fetchImpl: typeof fetch): Api {
  const trpc = createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url: `${options.baseUrl}/trpc`,
        fetch: fetchImpl,
        headers: () => ({
          ...options.headers,
          ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
        }),
      }),
    ],
  });
  return {
    createTask: (input, signal) => trpc.tasks.create.mutate(input, { signal }),
    getTask: (input, signal) => trpc.tasks.get.query(input, { signal }),
    listTasks: (input, signal) => trpc.tasks.list.query(input, { signal }),
    cancelTask: (input, signal) => trpc.tasks.cancel.mutate(input, { signal }),
    redeliverWebhook: (input, signal) => trpc.tasks.redeliverWebhook.mutate(input, { signal }),
    createTasks: (input, signal) => trpc.tasks.createMany.mutate(input, { signal }),
    replayTask: (input, signal) => trpc.tasks.replay.mutate(input, { signal }),
    cancelTasks: (input, signal) => trpc.tasks.cancelMany.mutate(input, { signal }),
    replayTasks: (input, signal) => trpc.tasks.replayMany.mutate(input, { signal }),
    taskStats: (signal) => trpc.tasks.stats.query({}, { signal }),
    listProviders: (signal) => trpc.providers.list.query({}, { signal }),
    createToken: (input, signal) => trpc.tokens.create.mutate(input, { signal }),
    listTokens: (signal) => trpc.tokens.list.query({}, { signal }),
    deleteToken: (input, signal) => trpc.tokens.delete.mutate(input, { signal }),
    taskQueue: (input, signal) => trpc.tasks.queue.query(input, { signal }),
    upsertFlowKey: (input, signal) => trpc.flowKeys.upsert.mutate(input, { signal }),
    listFlowKeys: (signal) => trpc.flowKeys.list.query({}, { signal }),
    getFlowKey: (input, signal) => trpc.flowKeys.get.query(input, { signal }),
    deleteFlowKey: (input, signal) => trpc.flowKeys.delete.mutate(input, { signal }),
    pauseFlowKey: (input, signal) => trpc.flowKeys.pause.mutate(input, { signal }),
    resumeFlowKey: (input, signal) => trpc.flowKeys.resume.mutate(input, { signal }),
  };
}

/** Any failure of a call → an AsyncQueueError subclass. */
function toAsyncQueueError(error: unknown): AsyncQueueError {
  if (error instanceof AsyncQueueError) return error;
  if (error instanceof TRPCClientError) {
    if (error.cause instanceof AsyncQueueError) return error.cause;
    const data = error.data as { httpStatus?: unknown; aq?: unknown } | undefined;
    const response = (error.meta as { response?: unknown } | undefined)?.response;
    const res = response instanceof Response ? response : undefined;
    const status = typeof data?.httpStatus === 'number' ? data.httpStatus : res?.status;
    if (status !== undefined) {
      const body = asErrorBody(data?.aq) ?? { error: error.message };
      return APIError.generate(status, body, { ...(res ? responseExtras(res) : {}), cause: error });
    }
    return new AsyncQueueError(`Unexpected answer from AsyncQueue: ${error.message}`, {
      code: 'unexpected_response',
      cause: error,
    });
  }
  return new AsyncQueueError(`Unexpected error: ${describe(error)}`, { code: 'unexpected_error', cause: error });
}

function responseExtras(res: Response) {
  return {
    retryAfter: parseRetryAfter(res.headers.get('retry-after')),
    requestId: res.headers.get('x-request-id') ?? undefined,
  };
}

function asErrorBody(value: unknown): { error?: unknown; code?: unknown; details?: unknown } | undefined {
  return typeof value === 'object' && value !== null ? value : undefined;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
  return `${error.message}${cause}`;
}
