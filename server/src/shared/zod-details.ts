import type { z } from 'zod';
import type { ErrorDetail } from './app-error.ts';

/** Turns zod issues into `{path, message}` details, one per bad field (unknown keys one each). */
export function zodIssuesToDetails(issues: readonly z.core.$ZodIssue[]): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  for (const issue of issues) {
    const base = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        details.push({ path: base ? `${base}.${key}` : key, message: `unknown field "${key}"` });
      }
      continue;
    }
    details.push({ path: base, message: readableMessage(issue) });
  }
  return details;
}

function readableMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type' && / received undefined$/.test(issue.message)) return 'is required';
  return issue.message;
}
