import type { EntityManager } from '@mikro-orm/postgresql';
import { generateApiKey } from './api-key-format.ts';
import type { SecretBox } from './secret-box.ts';
import { countTeams, createApiKey, createTeam } from './teams.ts';

/**
 * On first start (no team at all): a default team with ASYNCQUEUE_BOOTSTRAP_API_KEY, or with a
 * generated key printed once. Runs under an advisory lock so two instances starting together
 * create one team.
 */
export async function bootstrapFirstTeam(
  em: EntityManager,
  opts: {
    bootstrapApiKey: string | undefined;
    announce: (apiKey: string, generated: boolean) => void;
    /** Seals the team's webhook secret. */
    secretBox: SecretBox;
  },
): Promise<void> {
  await em.transactional(async (tem) => {
    await tem.execute(`select pg_advisory_xact_lock(hashtext('asyncqueue:bootstrap'))`);
    if ((await countTeams(tem)) > 0) return;
    const team = await createTeam(tem, 'default', opts.secretBox);
    const apiKey = opts.bootstrapApiKey ?? generateApiKey();
    await createApiKey(tem, team.id, 'bootstrap', apiKey);
    opts.announce(apiKey, !opts.bootstrapApiKey);
  });
}
