/**
 * The queue of the pg-boss-alone phase: the dispatch queue's settings but with pg-boss's own
 * in-transaction NOTIFY on (the server's dispatch queue has it off and wakes its pump itself; plain
 * pg-boss needs it for a low latency).
 */
export const RAW_QUEUE = 'bench-raw';
