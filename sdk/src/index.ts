import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from '../../server/src/api/routers/app-router.ts';

type Out = inferRouterOutputs<AppRouter>;
type In = inferRouterInputs<AppRouter>;
export type Task = Out['tasks']['get']['task'];
export type CreateTaskParams = In['tasks']['create'];
export const x = 1;
