import { type BenchServer, forkLoad, type LoadProcess, startServer } from '../lib/children.ts';
import { type Ctx, withFreshDatabase } from '../lib/context.ts';
import { type Counter, type FreshDatabase, openCounter } from '../lib/postgres.ts';

export type Session = { db: FreshDatabase; server: BenchServer; client: LoadProcess; counter: Counter };

/**
 * One AsyncQueue measurement: a fresh database, `node server/src/main.ts` in its own process, the
 * load generator (client + loopback provider + webhook receiver) in another, and a counting
 * connection for the orchestrator.
 */
export function withSession<T>(
  ctx: Ctx,
  name: string,
  role: 'all' | 'api',
  work: (s: Session) => Promise<T>,
): Promise<T> {
  return withFreshDatabase(ctx, name, async (db) => {
    const server = await startServer({
      databaseUrl: db.url,
      poolSize: ctx.poolSize,
      role,
      logDir: ctx.logDir,
      name,
      nodeArgs: ctx.serverNodeArgs,
    });
    const client = forkLoad('client.ts');
    const counter = await openCounter(db.url);
    try {
      await client.rpc.call('init', {
        serverUrl: server.url,
        apiKey: server.apiKey,
        connections: ctx.sizes.httpConcurrency + 8,
      });
      return await work({ db, server, client, counter });
    } finally {
      await counter.close();
      await client.rpc.call('close', {}, 10_000).catch(() => {});
      await client.stop();
      await server.stop();
    }
  });
}
