import type { TaskResult } from './task-types.ts';

// Untrusted text on its way into a `tasks` column. PostgreSQL text cannot hold U+0000, and jsonb
// refuses both the escape \u0000 and a lone surrogate: a provider's body, status or error message
// containing one would fail the write (and with it the attempt, again and again). The rule, in one
// place: bodies keep every byte (text columns, base64 when not text: storedResult); progress keeps
// every character (stored as JSON text, whose escapes a text column accepts: storedProgress); any
// other string (errors, headers, attempt records) has U+0000 and lone surrogates replaced by U+FFFD.

const REPLACEMENT = '\uFFFD';

/** A string a text or jsonb column accepts: U+0000 and lone surrogates become U+FFFD. */
export function storableText(text: string): string {
  return text.toWellFormed().replaceAll('\u0000', REPLACEMENT);
}

/** JSON text for a jsonb column: every string value passed through storableText. */
export function storableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' ? storableText(v) : v));
}

/** Progress (a parsed callback payload or poll status body) as JSON text for its text column. */
export function storedProgress(progress: unknown): string {
  // JSON.stringify escapes U+0000 and lone surrogates, so the text is always storable, losslessly.
  return JSON.stringify(progress ?? null);
}

/** A result split for its columns: metadata as jsonb, the body and its encoding as text. */
export function storedResult(
  result: TaskResult | null,
): [meta: string | null, body: string | null, encoding: string | null] {
  if (!result) return [null, null, null];
  const { body, bodyEncoding, ...meta } = result;
  // A "utf8" body that still holds U+0000 (a caller's bug) is kept byte for byte as base64 instead.
  const text = bodyEncoding === 'utf8' && body.includes('\u0000');
  const stored = text ? Buffer.from(body, 'utf8').toString('base64') : body;
  return [storableJson(meta), stored, text ? 'base64' : bodyEncoding];
}
