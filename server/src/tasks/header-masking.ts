/** Header names whose values are secrets, matched case-insensitively. */
const SECRET_NAMES = ['authorization', 'proxy-authorization', 'x-api-key', 'xi-api-key', 'cookie', 'set-cookie'];
const SECRET_WORDS = ['token', 'secret', 'key', 'password', 'auth'];

/** Why 4: enough to tell `Bear…`/`Key …`/`tok_…` apart, too little to be a credential. */
const VISIBLE_CHARS = 4;

export function isSecretHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return SECRET_NAMES.includes(lower) || SECRET_WORDS.some((w) => lower.includes(w));
}

export function maskValue(value: string): string {
  return `${value.slice(0, VISIBLE_CHARS)}****`;
}

/** Header values as the API shows them: secrets keep only their first 4 characters. */
export function maskHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, isSecretHeader(k) ? maskValue(v) : v]));
}
