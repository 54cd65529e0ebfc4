import net from 'node:net';
import path from 'node:path';
import { AsyncQueue, type Task, ValidationError, type WebhookEvent } from '../../sdk/src/index.ts';
import { type App, startApp } from '../src/app.ts';
import { createApiKey, createTeam } from '../src/auth/teams.ts';
import { loadConfig } from '../src/config/config.ts';
import { createLogger } from '../src/logging/logger.ts';
import { type DemoProvider, startDemoProvider } from './demo/fake-ai-provider.ts';
import { createProgressPrinter, resultSummary } from './demo/progress-printer.ts';

/**
 * `npm run demo`: no setup. Starts AsyncQueue in-process (the embedded PostgreSQL in
 * ASYNCQUEUE_DEMO_DATA_DIR, default ./.asyncqueue/demo, so it never touches `npm start`'s data;
 * DATABASE_URL is used when set), a fake AI provider on its own loopback address, and drives two
 * tasks through the SDK: one the provider completes by callback, one AsyncQueue polls. Each
 * status change is printed as it happens, then the results and the verified completion webhooks.
 *
 * The network guard stays closed: ASYNCQUEUE_ALLOWED_CIDRS is exactly the provider's /32.
 */

const PROVIDER_HOST = process.env.ASYNCQUEUE_DEMO_PROVIDER_HOST ?? '127.0.0.77';
const DATA_DIR = process.env.ASYNCQUEUE_DEMO_DATA_DIR ?? './.asyncqueue/demo';
/** Why 60 s: both tasks finish in about 3 s; this only bounds a demo that went wrong. */
const TASK_TIMEOUT_MS = 60_000;
/** Why 15 s: webhooks go out right after completion; this bounds a stuck delivery. */
const WEBHOOK_TIMEOUT_MS = 15_000;

const out = (line = '') => process.stdout.write(`${line}\n`);

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function startServer(): Promise<App> {
  const port = await freePort();
  const config = loadConfig({
    DATABASE_URL: process.env.DATABASE_URL,
    ASYNCQUEUE_DATA_DIR: DATA_DIR,
    ASYNCQUEUE_ENCRYPTION_KEY: process.env.ASYNCQUEUE_ENCRYPTION_KEY,
    HOST: '127.0.0.1',
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    ASYNCQUEUE_ALLOWED_CIDRS: `${PROVIDER_HOST}/32`,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'error',
  });
  const logger = createLogger(config.logLevel, process.stderr);
  return startApp(config, { logger, announceApiKey: () => {} });
}

async function runDemo(app: App, provider: DemoProvider): Promise<boolean> {
  const em = app.orm.em.fork();
  const team = await createTeam(em, `demo-${Date.now()}`, app.secretBox);
  const { apiKey } = await createApiKey(em, team.id, 'demo');
  const aq = new AsyncQueue({ apiKey, baseUrl: app.url });

  const startedAt = Date.now();
  const printer = createProgressPrinter(out, startedAt);
  const [image, transcript] = await Promise.all([
    aq.tasks.create({
      targetUrl: `${provider.base}/v1/images`,
      headers: { 'Content-Type': 'application/json', 'X-Callback-Url': '{asyncqueue_callback_url}' },
      body: JSON.stringify({ prompt: 'a lighthouse at dawn, watercolor' }),
      onCompleteUrl: `${provider.base}/webhooks`,
    }),
    aq.tasks.create({
      targetUrl: `${provider.base}/v1/transcriptions`,
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ audio: 'https://example.com/interview.mp3' }),
      pollConfig: {
        urlTemplate: `${provider.base}/v1/transcriptions/{startResult.body.id}`,
        statusPath: 'status',
        doneValues: ['done'],
        failValues: ['error'],
        resultPath: 'output',
        interval: 1,
        maxDuration: 60,
      },
      onCompleteUrl: `${provider.base}/webhooks`,
    }),
  ]);
  out(`Created 2 tasks through @asyncqueue/sdk:`);
  out(`  image       ${image.task.id}  the provider calls back when done`);
  out(`  transcript  ${transcript.task.id}  AsyncQueue polls the provider every second`);
  out();
  printer.update('image', image.task);
  printer.update('transcript', transcript.task);

  // One long-poll loop per task; pollSeconds 1 also samples the provider's progress while polling.
  const follow = async (label: string, id: string): Promise<Task> => {
    let last: Task | undefined;
    for await (const task of aq.tasks.watch(id, { timeoutMs: TASK_TIMEOUT_MS, pollSeconds: 1 })) {
      printer.update(label, task);
      last = task;
    }
    if (!last) throw new Error(`no state seen for ${label}`);
    return last;
  };
  const done = await Promise.all([follow('image', image.task.id), follow('transcript', transcript.task.id)]);

  out();
  out('Results');
  for (const [label, task] of [['image', done[0]] as const, ['transcript', done[1]] as const]) {
    const took = task.completedAt ? (Date.parse(task.completedAt) - Date.parse(task.createdAt)) / 1000 : NaN;
    out(`  ${label.padEnd(11)} ${task.status} in ${took.toFixed(1)} s → ${resultSummary(task)}`);
  }

  const events = await verifiedWebhooks(provider, team.webhookSecret);
  out();
  out(`Webhooks    ${events.length} delivered, signatures verified: ${events.map((e) => e.event).join(', ')}`);

  // The guard is open for the provider only: a task aimed at any other loopback address is refused.
  const guarded = await aq.tasks.create({ targetUrl: `${app.url}/healthz`, method: 'GET' }).then(
    () => 'accepted (unexpected!)',
    (error: unknown) => (error instanceof ValidationError ? 'refused' : `failed: ${String(error)}`),
  );
  out(`Guard       a task to ${app.url}/healthz was ${guarded}; only ${PROVIDER_HOST}/32 is allowed`);

  return done.every((t) => t.status === 'completed') && events.length === 2 && guarded === 'refused';
}

/** Waits for both completion webhooks and verifies each with the SDK (raw body, team secret). */
async function verifiedWebhooks(provider: DemoProvider, secret: string): Promise<WebhookEvent[]> {
  const received = await provider.waitForWebhooks(2, WEBHOOK_TIMEOUT_MS);
  return received.map((w) => AsyncQueue.webhooks.verify(w.rawBody, w.headers, secret));
}

async function main(): Promise<number> {
  out('AsyncQueue demo');
  const provider = await startDemoProvider(PROVIDER_HOST);
  const app = await startServer();
  const where = process.env.DATABASE_URL ? 'DATABASE_URL' : `embedded PostgreSQL in ${path.resolve(DATA_DIR)}`;
  out(`  server    ${app.url} (${where})`);
  out(`  provider  ${provider.base} (a fake AI provider; the network guard allows ${PROVIDER_HOST}/32 only)`);
  out();
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await app.stop();
    await provider.stop();
  };
  process.once('SIGINT', () => {
    stop().finally(() => process.exit(130));
  });
  try {
    const ok = await runDemo(app, provider);
    out();
    out(ok ? 'Demo finished: both tasks completed.' : 'Demo finished with problems (see above).');
    return ok ? 0 : 1;
  } finally {
    await stop();
  }
}

main().then(
  // Exit explicitly: the demo is done, and nothing it started should keep the process around.
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`Demo failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
