import type { Principal } from '../auth/authenticate.ts';
import type { SessionInfo, StartedSession } from '../auth/dashboard-sessions.ts';
import type { TokenView } from '../auth/vault.ts';
import type { FlowService } from '../flow/flow-service.ts';
import type { RateDecision } from '../ratelimit/rate-limiter.ts';
import type { TaskService } from '../tasks/task-service.ts';
import type { PollConfig } from '../tasks/task-types.ts';
import { metaOf, type RequestMeta } from './request-meta.ts';

/** Everything the procedures may use; built once in app.ts. */
export type ApiServices = {
  tasks: TaskService;
  /**
   * Authenticates the key and takes a point of its team's rate limit; a failed authentication takes
   * a point of the client IP's budget of failures instead (see auth/authenticate.ts).
   */
  admit(key: string | undefined, clientIp: string): Promise<{ principal: Principal; decision: RateDecision }>;
  /**
   * Admits a request signed in by a dashboard session cookie instead of a key (the CSRF token is
   * required for state-changing methods); charged like a key.
   */
  admitSession(
    sessionId: string,
    request: { method: string | undefined; csrfToken: string | undefined },
    clientIp: string,
  ): Promise<{ principal: Principal; decision: RateDecision }>;
  /** The dashboard's sign-in sessions (api/dashboard-session-routes.ts). */
  sessions: {
    /** One point of the client IP's per-minute budget of sign-in attempts. */
    signInAttempt(clientIp: string): Promise<RateDecision>;
    start(principal: Principal): Promise<StartedSession>;
    read(sessionId: string): Promise<SessionInfo>;
    end(sessionId: string): Promise<void>;
  };
  /**
   * More points of the team's rate limit than the request's own (a batch counts one per task):
   * refused (allowed: false) without taking any when the window has not that many left.
   */
  teamRateLimit: {
    take(teamId: string, points: number): Promise<RateDecision>;
    giveBack(teamId: string, points: number): Promise<void>;
  };
  tokens: {
    create(teamId: string, name: string, value: string): Promise<TokenView>;
    list(teamId: string): Promise<TokenView[]>;
    delete(teamId: string, id: string): Promise<TokenView>;
  };
  flowKeys: FlowService;
  providers: { list(): { id: string; name: string; description: string; pollConfig: PollConfig }[] };
};

export type Context = { meta: RequestMeta; services: ApiServices };

export function contextFactory(services: ApiServices) {
  return ({ req }: { req: object }): Context => ({ meta: metaOf(req), services });
}
