export { AsyncQueue, type AsyncQueueOptions } from './client.ts';
export {
  APIError,
  AsyncQueueError,
  AuthenticationError,
  ConflictError,
  ConnectionError,
  type ErrorDetail,
  NotFoundError,
  RateLimitError,
  ValidationError,
  WaitTimeoutError,
  WebhookVerificationError,
} from './errors.ts';
export type {
  BatchItemError,
  BulkActionResult,
  CreatedTask,
  CreateManyParams,
  CreateManyResponse,
  CreateTaskParams,
  CreateTaskResponse,
  CreateTokenParams,
  EffectivePollConfig,
  FlowKey,
  FlowKeyLimits,
  Pagination,
  PollConfig,
  Provider,
  Task,
  TaskAttempt,
  TaskFilter,
  TaskPage,
  TaskQueue,
  TaskResult,
  TaskStats,
  TaskStatus,
  VaultToken,
  WebhookDelivery,
} from './generated/api-types.ts';
export type { FlowKeys } from './resources/flow-keys.ts';
export type { Providers } from './resources/providers.ts';
export type { Signals } from './resources/signals.ts';
export type { SubscribeOptions } from './resources/task-events.ts';
export type { TaskListPromise, Tasks } from './resources/tasks.ts';
export type { Tokens } from './resources/tokens.ts';
export { resultBytes } from './result-bytes.ts';
export {
  type GetTaskOptions,
  isTerminalStatus,
  type ListTasksParams,
  type RequestOptions,
  type SignalParams,
  TERMINAL_STATUSES,
  type TerminalStatus,
  type WaitOptions,
  type WebhookEvent,
  type WebhookHeaders,
} from './types.ts';
export { type VerifyDispatchOptions, verifyDispatch } from './verify-dispatch.ts';
export { type VerifyWebhookOptions, verifyWebhook, webhooks } from './webhooks.ts';
