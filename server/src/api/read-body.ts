import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError } from '../shared/app-error.ts';
import { sendJson } from './send-json.ts';

export type BodyLimits = {
  /** Bytes accepted; past them reading stops and the request is answered 413. */
  maxBytes: number;
  /** Time allowed to receive the whole body (a client trickling bytes is cut with 408). */
  timeoutMs: number;
};

/** The body did not arrive within `timeoutMs`: answered 408 by the caller, then the connection closes. */
export class BodyTimeoutError extends Error {
  readonly timeoutMs: number;
  constructor(timeoutMs: number) {
    super(`Request body not received within ${Math.round(timeoutMs / 1000)} s`);
    this.name = 'BodyTimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

/** True when Content-Length already says the body is over the limit: answer 413 without reading. */
export function declaredTooLarge(req: IncomingMessage, maxBytes: number): boolean {
  return Number(req.headers['content-length'] ?? Number.NaN) > maxBytes;
}

/**
 * Reads a request body up to `maxBytes` within `timeoutMs`. Past the limit (declared or counted) it
 * stops keeping bytes and throws 413 at once, so an oversized upload costs no more memory than the
 * limit. The stream is never destroyed here: the caller answers, then `closeAfterResponse` ends the
 * connection so that the client can still read the answer.
 */
export function readBody(req: IncomingMessage, limits: BodyLimits): Promise<Buffer> {
  if (declaredTooLarge(req, limits.maxBytes)) return Promise.reject(bodyTooLarge(limits.maxBytes));
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (error: Error | null) => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      if (error) reject(error);
      else resolve(Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limits.maxBytes) done(bodyTooLarge(limits.maxBytes));
      else chunks.push(chunk);
    };
    const onEnd = () => done(null);
    const onError = (error: Error) => done(error);
    const onClose = () => done(new Error('client closed the connection while sending the body'));
    const timer = setTimeout(() => done(new BodyTimeoutError(limits.timeoutMs)), limits.timeoutMs);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

export function bodyTooLarge(limit: number): AppError {
  return new AppError('payload_too_large', `Request body too large: the limit is ${limit} bytes`);
}

/** True for the errors after which the rest of the body is left unread (413, 408). */
export function leftBodyUnread(error: unknown): boolean {
  return error instanceof BodyTimeoutError || (error instanceof AppError && error.code === 'payload_too_large');
}

/**
 * Why 8 MiB and 5 s: after an early answer (413, 408, 401, 404…) we keep reading (and dropping)
 * what the client is still sending, so that closing the socket with unread bytes does not make the
 * kernel send a reset that destroys the answer before the client has read it. A client that keeps
 * sending past these bounds is cut anyway.
 */
const DRAIN_MAX_BYTES = 8 * 1024 * 1024;
const DRAIN_MAX_MS = 5_000;

/**
 * For an answer sent while the request body is still (partly) unread: says `Connection: close`,
 * lets the response flush, then drains the rest of the body (bounded in bytes and time) before the
 * socket is closed. Call it before writing the response.
 */
export function closeAfterResponse(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('Connection', 'close');
  const socket = req.socket;
  const closeNow = socket.destroySoon.bind(socket);
  // Node ends a `Connection: close` response with socket.destroySoon(), which closes the socket as
  // soon as the response is written. Node itself keeps reading the request body into the void
  // (IncomingMessage._dump); we close once that body has ended, or past the bounds.
  socket.destroySoon = () => {
    if (req.complete) return closeNow();
    let drained = 0;
    const timer = setTimeout(() => socket.destroy(), DRAIN_MAX_MS);
    socket.once('close', () => clearTimeout(timer));
    req.once('end', () => {
      clearTimeout(timer);
      closeNow();
    });
    req.on('data', (chunk: Buffer) => {
      drained += chunk.length;
      if (drained > DRAIN_MAX_BYTES) socket.destroy();
    });
  };
}

/**
 * Answers a request whose body was left unread (413 too large, 408 too slow) and closes its
 * connection cleanly. Returns false, sending nothing, for any other error.
 */
export function replyUnreadBody(
  req: IncomingMessage,
  res: ServerResponse,
  error: unknown,
  headers: Record<string, string> = {},
): boolean {
  if (!leftBodyUnread(error)) return false;
  closeAfterResponse(req, res);
  const message = (error as Error).message;
  if (error instanceof BodyTimeoutError) sendJson(res, 408, { error: message }, headers);
  else sendJson(res, 413, { error: message, code: 'payload_too_large' }, headers);
  return true;
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
