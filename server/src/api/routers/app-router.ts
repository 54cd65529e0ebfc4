import { router } from '../trpc.ts';
import { flowKeysRouter } from './flow-keys-router.ts';
import { providersRouter } from './providers-router.ts';
import { tasksRouter } from './tasks-router.ts';
import { tokensRouter } from './tokens-router.ts';

/** The whole API. Its type is what the SDK is typed from. */
export const appRouter = router({
  tasks: tasksRouter,
  tokens: tokensRouter,
  providers: providersRouter,
  flowKeys: flowKeysRouter,
});

export type AppRouter = typeof appRouter;
