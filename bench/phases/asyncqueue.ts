import type { CreateResults } from './aq-create.ts';
import type { FlowResults } from './aq-flows.ts';
import type { FootprintResults } from './aq-footprint.ts';
import type { LatencyResults } from './aq-latency.ts';

/** The AsyncQueue phases' figures; each measurement runs on its own fresh database and server process. */
export type AsyncQueueResults = {
  createRest?: CreateResults;
  createTrpc?: CreateResults;
  direct?: FlowResults;
  callback?: FlowResults;
  latency?: LatencyResults;
  footprint?: FootprintResults;
};
