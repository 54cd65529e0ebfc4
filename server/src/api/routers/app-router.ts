import { router } from '../trpc.ts';
import { providersRouter } from './providers-router.ts';
import { tasksRouter } from './tasks-router.ts';
import { tokensRouter } from './tokens-router.ts';

/** The whole API. Its type is what the SDK is typed from. */
export const appRouter = router({
  tasks: tasksRouter,
  tokens: tokensRouter,
  providers: providersRouter,
});

export type AppRouter = typeof appRouter;
