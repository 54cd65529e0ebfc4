/**
 * How long past its own `timeout` an attempt may still hold its task before it counts as stuck.
 * The call itself is bounded by `timeout` (one deadline covers redirects and the body), so a
 * healthy worker records its attempt milliseconds after it; why 60 s: it covers the statements
 * around the call through a database restart's reconnects, and equals pg-boss's default takeover
 * window, so a dead worker's job is normally redelivered (and the claim moves the task on) first.
 * The watchdog is for what pg-boss cannot see: a live worker whose handler never finishes, or a
 * job pg-boss gave up on.
 */
export const STUCK_MARGIN_SECONDS = 60;
