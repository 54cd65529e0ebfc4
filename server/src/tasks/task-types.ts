/** Domain types shared by the data model, the API view and the workers (no runtime code). */

export const TASK_STATUSES = [
  'pending',
  'delayed',
  'processing',
  'waiting',
  'polling',
  'completed',
  'failed',
  'timeout',
  'cancelled',
] as const;

export type TaskStatus = (typeof TASK_STATUSES)[number];

export const TERMINAL_STATUSES = ['completed', 'failed', 'timeout', 'cancelled'] as const satisfies TaskStatus[];

/** Not yet terminal: what the /metrics gauge counts. */
export const ACTIVE_STATUSES = [
  'pending',
  'delayed',
  'processing',
  'waiting',
  'polling',
] as const satisfies TaskStatus[];

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** The one shape of `task.result`, whatever produced it (direct call, callback, signal, polling). */
export type TaskResult = {
  statusCode: number;
  headers: Record<string, string>;
  /** The text itself ("utf8") or the base64 of the bytes ("base64"). */
  body: string;
  /** "utf8" when the bytes are valid UTF-8 without NUL; "base64" otherwise (audio, images, gzip). */
  bodyEncoding: 'utf8' | 'base64';
  duration: number;
  bodyTruncated: boolean;
};

export type PollConfig = {
  urlTemplate: string;
  statusPath: string;
  doneValues: string[];
  failValues: string[];
  interval: number;
  maxDuration: number;
  resultPath?: string | null;
  resultUrlTemplate?: string | null;
  errorPath?: string | null;
  forwardAuth: boolean;
  headers?: Record<string, string>;
};

export type AttemptRecord = {
  number: number;
  startedAt: string;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
  willRetry: boolean;
};

export type WebhookDeliveryRecord = {
  attempt: number;
  webhookId: string;
  sentAt: string;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
};
