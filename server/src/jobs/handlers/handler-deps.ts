import type { SecretBox } from '../../auth/secret-box.ts';
import type { createHttpCaller } from '../../dispatch/http-caller.ts';
import type { TaskLifecycle } from '../../tasks/task-lifecycle.ts';

/** What the job handlers share; built once in app.ts. */
export type HandlerDeps = {
  /** The one way a task changes, and the ORM context for reads (task-lifecycle.ts). */
  lifecycle: TaskLifecycle;
  caller: ReturnType<typeof createHttpCaller>;
  publicUrl: string;
  version: string;
  maxResponseBytes: number;
  retentionDays: number;
  /**
   * How long an attempt's outcome is kept in memory and its recording tried again while the
   * database is unreachable. Below the job's heartbeat window, so the job is never taken over (and
   * the provider called again) while its outcome is still waiting to be written.
   */
  recordRetryMs: number;
  /** Opens the sealed team secrets and callback ids the handlers read. */
  secretBox: SecretBox;
  resolveVault: (teamId: string, headers: Record<string, string>) => Promise<Record<string, string>>;
  observeDispatch?: (seconds: number, outcome: string) => void;
  observeWebhook?: (seconds: number, statusCode: number | null) => void;
  /** A task was parked behind its flow key: its key's hand-over must run (flow/hand-over.ts). */
  onFlowHeld?: (teamId: string, flowKey: string) => void;
};

export type { JobRef } from '../boss-sql.ts';
