import type { Principal } from '../auth/authenticate.ts';
import type { RateLimiter } from '../ratelimit/rate-limiter.ts';
import type { TaskService } from '../tasks/task-service.ts';
import { metaOf, type RequestMeta } from './request-meta.ts';

/** Everything the procedures may use; built once in main.ts. */
export type ApiServices = {
  tasks: TaskService;
  authenticate(key: string | undefined): Promise<Principal>;
  teamRateLimit: RateLimiter;
};

export type Context = { meta: RequestMeta; services: ApiServices };

export function contextFactory(services: ApiServices) {
  return ({ req }: { req: object }): Context => ({ meta: metaOf(req), services });
}
