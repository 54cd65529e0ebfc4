import { parseArgs } from 'node:util';
import type { MikroORM } from '@mikro-orm/postgresql';
import { resolveEncryptionKey } from './auth/encryption-key.ts';
import { sealAtRest } from './auth/seal-at-rest.ts';
import { createSecretBox, type SecretBox } from './auth/secret-box.ts';
import { createApiKey, createTeam, listApiKeys, revokeApiKey, rotateTeamSecret } from './auth/teams.ts';
import { ConfigError, loadConfig } from './config/config.ts';
import { openOrm, resolveDatabase, runMigrations } from './db/database.ts';
import { serve } from './main.ts';
import { AppError } from './shared/app-error.ts';

const USAGE = `Usage: asyncqueue <command> [options]

Commands:
  serve                                   start the server (same as npm start)
  migrate                                 apply pending database migrations
  teams create --name NAME                create a team; prints its webhook secret once
  teams rotate-secret TEAM_ID             new webhook secret (old and new both sign for 24 h)
  keys create --team TEAM_ID --name NAME  create an API key; prints it once
  keys list --team TEAM_ID                list a team's keys (prefixes only)
  keys revoke KEY_ID                      revoke a key (takes effect on the next request)

Options:
  --json    print one JSON value on stdout
  --help    show this help

Configuration comes from the environment, as for the server: DATABASE_URL, or the embedded
database in ASYNCQUEUE_DATA_DIR (default ./.asyncqueue).`;

type Args = { positionals: string[]; name?: string; team?: string; json: boolean };
type Output = { json: unknown; text: string };

class UsageError extends Error {}

function parse(argv: string[]): Args & { help: boolean } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      team: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  return { positionals, name: values.name, team: values.team, json: values.json ?? false, help: values.help ?? false };
}

function need(value: string | undefined, what: string): string {
  if (!value) throw new UsageError(`${what} is required`);
  return value;
}

/** Runs one data command on its own short-lived connection. */
async function run(orm: MikroORM, box: SecretBox, args: Args): Promise<Output> {
  const em = orm.em.fork();
  const [group, action, id] = args.positionals;
  const command = `${group ?? ''} ${action ?? ''}`.trim();
  switch (command) {
    case 'teams create': {
      const team = await createTeam(em, need(args.name, '--name'), box);
      return {
        json: team,
        text: `Team ${team.name} created.\n  id:             ${team.id}\n  webhook secret: ${team.webhookSecret}\n(The secret verifies completion webhooks; store it now.)`,
      };
    }
    case 'teams rotate-secret': {
      const rotated = await rotateTeamSecret(em, need(id, 'TEAM_ID'), box);
      return {
        json: rotated,
        text: `New webhook secret: ${rotated.webhookSecret}\n(The old one keeps signing for 24 h.)`,
      };
    }
    case 'keys create': {
      const key = await createApiKey(em, need(args.team, '--team'), need(args.name, '--name'));
      return { json: key, text: `API key ${key.name} (${key.id}):\n  ${key.apiKey}\n(Shown once: store it now.)` };
    }
    case 'keys list': {
      const keys = await listApiKeys(em, need(args.team, '--team'));
      const lines = keys.map(
        (k) =>
          `${k.id}  ${k.prefix}…  ${k.name}  created ${k.createdAt}${k.revokedAt ? `  revoked ${k.revokedAt}` : ''}`,
      );
      return { json: keys, text: lines.length ? lines.join('\n') : 'No keys.' };
    }
    case 'keys revoke': {
      const revoked = await revokeApiKey(em, need(id, 'KEY_ID'));
      return { json: revoked, text: `Key ${revoked.id} revoked at ${revoked.revokedAt}.` };
    }
    default:
      throw new UsageError(`unknown command: ${command || '(none)'}`);
  }
}

/** Opens the database, migrates it, seals what older versions stored plain, then runs `work`. */
async function withDatabase<T>(work: (orm: MikroORM, box: SecretBox) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const database = await resolveDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    log: (msg) => process.stderr.write(`${msg}\n`),
    attach: true,
  });
  try {
    const orm = await openOrm(database.url, 2);
    try {
      await runMigrations(orm, database.url);
      const key = await resolveEncryptionKey({
        configured: config.encryptionKey,
        dataDir: config.dataDir,
        warn: (message) => process.stderr.write(`${message}\n`),
      });
      const box = createSecretBox(key);
      await sealAtRest(orm.em.fork(), box);
      return await work(orm, box);
    } finally {
      await orm.close(true);
    }
  } finally {
    await database.stop();
  }
}

async function main(argv: string[]): Promise<number> {
  const args = parse(argv);
  if (args.help || args.positionals.length === 0) {
    process.stdout.write(`${USAGE}\n`);
    return args.help ? 0 : 1;
  }
  if (args.positionals[0] === 'serve') {
    await serve();
    return -1;
  }
  if (args.positionals[0] === 'migrate') {
    await withDatabase(async () => {});
    process.stdout.write(args.json ? `${JSON.stringify({ migrated: true })}\n` : 'Database is up to date.\n');
    return 0;
  }
  const output = await withDatabase((orm, box) => run(orm, box, args));
  process.stdout.write(`${args.json ? JSON.stringify(output.json) : output.text}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error: unknown) => {
    const message =
      error instanceof UsageError
        ? `${error.message}\n\n${USAGE}`
        : error instanceof ConfigError || error instanceof AppError
          ? error.message
          : `asyncqueue: ${error instanceof Error ? error.message : String(error)}`;
    process.stderr.write(`${message}\n`);
    process.exit(1);
  },
);
