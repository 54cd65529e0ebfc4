import { z } from 'zod';

/** Why 128: a key names a provider account or model (`fal`, `replicate:flux-dev`); 128 fits any such name. */
export const MAX_FLOW_KEY_LENGTH = 128;

/** Characters a flow key may use: safe in a URL path segment and in a Prometheus label as is. */
const FLOW_KEY_PATTERN = /^[A-Za-z0-9._:-]+$/;

/** A flow key: 1–128 of `[A-Za-z0-9._:-]`. */
export function flowKeySchema(field: string) {
  return z
    .string()
    .min(1, `${field} must not be empty`)
    .max(MAX_FLOW_KEY_LENGTH, `${field} must be at most ${MAX_FLOW_KEY_LENGTH} characters`)
    .regex(FLOW_KEY_PATTERN, `${field} may only use letters, digits and . _ : - (e.g. "fal" or "replicate:flux")`);
}
