import type { TaskResult } from './task-types.ts';

const PLACEHOLDER = /\{startResult\.(body|headers)\.([^}]+)\}/g;

/** Reads `a.b.0.c` from a parsed JSON value; undefined when any step is missing. */
export function readPath(value: unknown, path: string): unknown {
  if (path === '') return value;
  let current: unknown = value;
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

export function parseJsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export class TemplateError extends Error {}

/** `.` and `..`, also percent-encoded: URL parsers resolve such a path segment (`%2E%2E` included). */
const DOT_SEGMENT = /^(?:\.|%2e){1,2}$/i;

/**
 * Fills `{startResult.body.<path>}` and `{startResult.headers.<name>}` from the dispatch response.
 * A template that is one placeholder takes the value as is (fal's status_url is a whole URL);
 * inside a larger template the value is percent-encoded as ONE path segment or query component
 * (`/`, `?`, `#` encoded), and a value that would make a `.` or `..` segment is refused: a provider's
 * response can never point the poll at another path of the provider's API.
 */
export function fillTemplate(template: string, startResult: TaskResult, field: string): string {
  const body = startResult.bodyEncoding === 'base64' ? undefined : parseJsonOrUndefined(startResult.body);
  const headers = Object.fromEntries(Object.entries(startResult.headers).map(([k, v]) => [k.toLowerCase(), v]));
  const whole = /^\{startResult\.(body|headers)\.[^}]+\}$/.test(template);
  const filled = template.replace(PLACEHOLDER, (match, source: string, path: string) => {
    const value = source === 'body' ? readPath(body, path) : headers[path.toLowerCase()];
    if (value === undefined || value === null || value === '' || typeof value === 'object') {
      throw new TemplateError(`${field}: ${match} resolved to nothing in the dispatch response`);
    }
    return whole ? String(value) : encodeURIComponent(String(value));
  });
  if (!whole && pathSegments(filled).some((segment) => DOT_SEGMENT.test(segment))) {
    throw new TemplateError(`${field}: a value from the dispatch response made a "." or ".." path segment`);
  }
  return filled;
}

/** The path segments of a URL as written (before any parser resolves dot segments). */
function pathSegments(url: string): string[] {
  const path = url.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '').replace(/[?#].*$/s, '');
  return path.split('/');
}
