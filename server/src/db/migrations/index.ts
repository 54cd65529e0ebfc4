import type { MigrationObject } from '@mikro-orm/core';
import { InitialSchema } from './2026-11-27-initial-schema.ts';
import { PollChain } from './2026-11-27-poll-chain.ts';
import { PollingAndVault } from './2026-11-27-polling-and-vault.ts';
import { BodiesOutsideJsonb } from './2026-12-07-bodies-outside-jsonb.ts';
import { SecretsAtRest } from './2026-12-07-secrets-at-rest.ts';
import { DashboardSessions } from './2026-12-08-dashboard-sessions.ts';
import { FlowControl } from './2026-12-08-flow-control.ts';
import { ReplayOf } from './2026-12-08-replay-of.ts';
import { TaskChangesIndex } from './2026-12-08-task-changes-index.ts';
import { PartialCredentialIndexes } from './2026-12-09-partial-credential-indexes.ts';

/**
 * Every migration, in order. Listed explicitly (no folder scan) so the server runs them the same
 * way from source, from a package and under Node's type stripping.
 */
export const migrationsList: MigrationObject[] = [
  { name: '2026-11-27-initial-schema', class: InitialSchema },
  { name: '2026-11-27-polling-and-vault', class: PollingAndVault },
  { name: '2026-11-27-poll-chain', class: PollChain },
  { name: '2026-12-07-bodies-outside-jsonb', class: BodiesOutsideJsonb },
  { name: '2026-12-07-secrets-at-rest', class: SecretsAtRest },
  { name: '2026-12-08-dashboard-sessions', class: DashboardSessions },
  { name: '2026-12-08-task-changes-index', class: TaskChangesIndex },
  { name: '2026-12-08-replay-of', class: ReplayOf },
  { name: '2026-12-08-flow-control', class: FlowControl },
  { name: '2026-12-09-partial-credential-indexes', class: PartialCredentialIndexes },
];
