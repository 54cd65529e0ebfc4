import { z } from 'zod';
import { TASK_STATUSES } from '../tasks/task-types.ts';

/** The query of GET /v1/events (also described in the OpenAPI document, api/openapi-raw-routes.ts). */
export const eventsQuerySchema = z.object({
  taskId: z.uuid({ error: 'taskId must be a task id (UUID)' }).optional().describe('Only this task'),
  status: z
    .enum(TASK_STATUSES, { error: `status must be one of ${TASK_STATUSES.join(', ')}` })
    .optional()
    .describe('Only changes that leave a task in this status'),
  lastEventId: z
    .string()
    .max(32)
    .optional()
    .describe('Resume after this event id, for clients that cannot send the Last-Event-ID header'),
});
