import type { ErrorDetail } from '../shared/app-error.ts';
import { TOKEN_ID } from './vault.ts';

/** A header value shaped like a vault reference: `tok_` and letters/digits only. */
const VAULT_SHAPED = /^tok_[0-9A-Za-z]+$/;

/**
 * Header values shaped like a vault reference but not of a token id's form (a truncated or mistyped
 * id): they can name no token, and sending them on as literal text would hide the client's mistake
 * until the provider refuses the call. Well-formed ids are checked against the vault itself.
 */
export function malformedVaultReferences(headers: Record<string, string>): ErrorDetail[] {
  return Object.entries(headers)
    .filter(([, value]) => VAULT_SHAPED.test(value) && !TOKEN_ID.test(value))
    .map(([name, value]) => ({ path: `headers.${name}`, message: `token ${value} does not exist` }));
}
