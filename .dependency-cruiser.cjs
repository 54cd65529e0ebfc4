/**
 * Layer rules, checked by `npm run lint` and described in docs/architecture.md ("Dependency
 * rules"): each rule below forbids one kind of import between the layers of server/src.
 */
const src = '^server/src/';
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'only-composition-roots-wire',
      comment:
        'main.ts, cli.ts, app.ts and the start-up steps in app/ wire parts together; nothing imports them but each other.',
      severity: 'error',
      from: { path: src, pathNot: `${src}((main|cli|app)\\.ts$|app/)` },
      to: { path: `${src}((main|cli|app)\\.ts$|app/)` },
    },
    {
      name: 'api-not-into-workers-or-network',
      comment: 'api → tasks, auth, ratelimit, config types. Never jobs/handlers, never dispatch.',
      severity: 'error',
      from: { path: `${src}api/` },
      to: { path: `${src}(jobs/handlers|dispatch|db/embedded)` },
    },
    {
      name: 'tasks-never-the-network',
      comment: 'tasks → db entities, jobs/queues and the pure sealing helpers of auth; the network lives in dispatch.',
      severity: 'error',
      from: { path: `${src}tasks/` },
      to: { path: `${src}(dispatch|api|jobs/handlers|auth/(?!secret-box|sealed-owners))` },
    },
    {
      name: 'dispatch-never-the-database',
      comment: 'dispatch → config types and pure tasks types. Never the database, the API or the jobs.',
      severity: 'error',
      from: { path: `${src}dispatch/` },
      to: {
        path: `${src}(db|api|jobs|auth|ratelimit)/|${src}tasks/(?!task-types|providers/|callback-placeholder|header-masking)`,
      },
    },
    {
      name: 'handlers-not-into-api',
      severity: 'error',
      from: { path: `${src}jobs/` },
      to: { path: `${src}api/` },
    },
    {
      name: 'lower-layers-stay-low',
      comment: 'config, shared, db, auth, ratelimit, logging and metrics do not reach up into api, jobs or dispatch.',
      severity: 'error',
      from: { path: `${src}(config|shared|db|auth|ratelimit|logging|metrics)/` },
      to: { path: `${src}(api|jobs|dispatch)/` },
    },
    {
      name: 'sdk-independent-of-server',
      comment: 'The SDK takes only types from the server (bundled at build time), never runtime code.',
      severity: 'error',
      from: { path: '^sdk/src/' },
      to: { path: '^server/', dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.test\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
