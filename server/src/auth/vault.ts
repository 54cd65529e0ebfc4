import { randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { AppError, type ErrorDetail } from '../shared/app-error.ts';
import { vaultTokenOwner } from './sealed-owners.ts';
import { SealedValueError, type SecretBox } from './secret-box.ts';

/** A header value that is exactly a token id is a vault reference. */
export const TOKEN_ID = /^tok_[0-9A-Za-z]{24}$/;
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export type TokenView = { id: string; name: string; createdAt: string };

function newTokenId(): string {
  let out = '';
  while (out.length < 24) {
    for (const byte of randomBytes(32)) if (byte < 248 && out.length < 24) out += BASE62[byte % 62];
  }
  return `tok_${out}`;
}

type Row = { id: string; name: string; created_at: Date; value_enc: string };
const view = (r: Row): TokenView => ({ id: r.id, name: r.name, createdAt: new Date(r.created_at).toISOString() });

/**
 * The token vault: secrets stored once (AES-256-GCM at rest), referenced from task headers as
 * `tok_…`, resolved only in memory at dispatch. Values are never returned, stored in tasks or logged.
 */
export function createVault(box: SecretBox) {
  return {
    async create(em: EntityManager, teamId: string, name: string, value: string): Promise<TokenView> {
      const id = newTokenId();
      const rows = await em.execute<Row[]>(
        `insert into vault_tokens (id, team_id, name, value_enc, created_at) values (?, ?, ?, ?, now())
         returning id, name, created_at`,
        [id, teamId, name, box.seal(value, vaultTokenOwner(teamId, id))],
      );
      return view(rows[0] as Row);
    },

    async list(em: EntityManager, teamId: string): Promise<TokenView[]> {
      const rows = await em.execute<Row[]>(
        'select id, name, created_at from vault_tokens where team_id = ? and deleted_at is null order by created_at desc, id',
        [teamId],
      );
      return rows.map(view);
    },

    async delete(em: EntityManager, teamId: string, id: string): Promise<TokenView> {
      const rows = await em.execute<Row[]>(
        `update vault_tokens set deleted_at = now() where id = ? and team_id = ? and deleted_at is null
         returning id, name, created_at`,
        [id, teamId],
      );
      if (!rows[0]) throw new AppError('not_found', `Token ${id} not found`);
      return view(rows[0]);
    },

    /** At task creation: every `tok_` reference must name a live token of the team. */
    async missingReferences(
      em: EntityManager,
      teamId: string,
      headers: Record<string, string>,
    ): Promise<ErrorDetail[]> {
      const refs = Object.entries(headers).filter(([, v]) => TOKEN_ID.test(v));
      if (refs.length === 0) return [];
      const live = await liveTokens(
        em,
        teamId,
        refs.map(([, v]) => v),
      );
      return refs
        .filter(([, v]) => !live.has(v))
        .map(([name, v]) => ({ path: `headers.${name}`, message: `token ${v} does not exist or was deleted` }));
    },

    /** At dispatch: references replaced by their decrypted values, in memory only. */
    async resolve(em: EntityManager, teamId: string, headers: Record<string, string>): Promise<Record<string, string>> {
      const refs = Object.values(headers).filter((v) => TOKEN_ID.test(v));
      if (refs.length === 0) return headers;
      const live = await liveTokens(em, teamId, refs);
      return Object.fromEntries(
        Object.entries(headers).map(([name, v]) => {
          if (!TOKEN_ID.test(v)) return [name, v];
          const sealed = live.get(v);
          if (!sealed) throw new Error(`Header ${name} references token ${v}, which no longer exists`);
          return [name, openToken(box, teamId, v, sealed)];
        }),
      );
    },
  };
}

/** A token's value; a ciphertext that is not this token's own (copied from another row) fails clearly. */
function openToken(box: SecretBox, teamId: string, tokenId: string, sealed: string): string {
  try {
    return box.open(sealed, vaultTokenOwner(teamId, tokenId));
  } catch (error) {
    if (!(error instanceof SealedValueError)) throw error;
    throw new Error(`Token ${tokenId} cannot be decrypted (its stored value does not belong to it or the key changed)`);
  }
}

async function liveTokens(em: EntityManager, teamId: string, ids: string[]): Promise<Map<string, string>> {
  const rows = await em.execute<Row[]>(
    `select id, value_enc from vault_tokens where team_id = ? and deleted_at is null and id in (${ids.map(() => '?').join(', ')})`,
    [teamId, ...ids],
  );
  return new Map(rows.map((r) => [r.id, r.value_enc]));
}

export type Vault = ReturnType<typeof createVault>;
