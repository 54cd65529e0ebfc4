import { router } from '../trpc.ts';
import { tasksRouter } from './tasks-router.ts';

/** The whole API. Its type is what the SDK is typed from. */
export const appRouter = router({
  tasks: tasksRouter,
});

export type AppRouter = typeof appRouter;
