import type { IncomingMessage } from 'node:http';
import { AppError } from '../shared/app-error.ts';

/**
 * Reads a request body up to `limit` bytes. Past the limit it stops reading and throws 413 at once,
 * so an oversized upload costs no more memory than the limit.
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, size);
}

function tooLarge(limit: number): AppError {
  return new AppError('payload_too_large', `Request body too large: the limit is ${limit} bytes`);
}

export function isJsonContentType(value: string | undefined): boolean {
  const type = value?.split(';')[0]?.trim().toLowerCase();
  return type === 'application/json' || (type?.startsWith('application/') === true && type.endsWith('+json'));
}

/** Parses a JSON body, or throws 400 naming the problem. */
export function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new AppError('validation_failed', 'Request body is not valid JSON', {
      details: [{ path: '', message: 'not valid JSON' }],
    });
  }
}
