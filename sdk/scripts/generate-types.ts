import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/**
 * Writes sdk/src/generated/api-types.ts: the SDK's public data types, printed as plain structural
 * types from the server's `AppRouter` (inferRouterInputs/Outputs), with JSDoc (descriptions and
 * defaults) taken from openapi/openapi.json.
 *
 * Why not let the .d.ts bundler inline `AppRouter`: the router's type reaches the server's context
 * (MikroORM, pg-boss, zod…), so a bundled declaration would drag the whole server in. Printing the
 * resolved types keeps the published .d.ts self-contained, and `--check` (run by the package test)
 * fails when the router changed without regenerating.
 */

const root = path.resolve(import.meta.dirname, '../..');
const target = path.join(root, 'sdk/src/generated/api-types.ts');
const virtualFile = path.join(root, 'sdk/scripts/__router-types__.ts');

type Schema = Record<string, any> | undefined;
const openapi = JSON.parse(readFileSync(path.join(root, 'openapi/openapi.json'), 'utf8'));
const json = (s: Schema) => s?.content?.['application/json']?.schema as Schema;
const taskSchema = json(openapi.paths['/v1/tasks/{id}'].get.responses['200'])?.properties.task;
const createSchema = json(openapi.paths['/v1/tasks'].post.requestBody);

/** The types to print, in dependency order: a later type refers to an earlier one by name. */
const ROOTS: { name: string; expr: string; doc: string; schema: Schema }[] = [
  {
    name: 'TaskStatus',
    expr: "Out['tasks']['get']['task']['status']",
    doc: 'Status of a task. `completed`, `failed`, `timeout` and `cancelled` are terminal.',
    schema: taskSchema?.properties.status,
  },
  {
    name: 'TaskResult',
    expr: "NonNullable<Out['tasks']['get']['task']['result']>",
    doc: 'The result of a task, one shape whatever produced it (direct response, callback, signal or poll).',
    schema: taskSchema?.properties.result,
  },
  {
    name: 'TaskAttempt',
    expr: "Out['tasks']['get']['task']['attempts'][number]",
    doc: 'One HTTP attempt of the dispatch.',
    schema: taskSchema?.properties.attempts.items,
  },
  {
    name: 'WebhookDelivery',
    expr: "Out['tasks']['get']['task']['webhookDeliveries'][number]",
    doc: 'One delivery attempt of the completion webhook.',
    schema: taskSchema?.properties.webhookDeliveries.items,
  },
  {
    name: 'EffectivePollConfig',
    expr: "NonNullable<Out['tasks']['get']['task']['pollConfig']>",
    doc: 'Polling settings of a task as the server applies them (presets expanded, defaults filled in).',
    schema: taskSchema?.properties.pollConfig,
  },
  {
    name: 'Task',
    expr: "Out['tasks']['get']['task']",
    doc: 'A task: one durable HTTP call and everything that happened to it. Absent values are `null`.',
    schema: taskSchema,
  },
  {
    name: 'CreatedTask',
    expr: "Out['tasks']['create']['task']",
    doc: 'The task as returned by `create`: a `Task` plus its one-time `callbackId`.',
    schema: json(openapi.paths['/v1/tasks'].post.responses['201'])?.properties.task,
  },
  {
    name: 'CreateTaskResponse',
    expr: "Out['tasks']['create']",
    doc: 'What `tasks.create` returns. `callbackUrl` and `signalToken` are credentials, shown only here.',
    schema: json(openapi.paths['/v1/tasks'].post.responses['201']),
  },
  {
    name: 'PollConfig',
    expr: "NonNullable<In['tasks']['create']['pollConfig']>",
    doc: 'Custom polling of a provider status URL (`CreateTaskParams.pollConfig`).',
    schema: createSchema?.properties.pollConfig,
  },
  {
    name: 'CreateTaskParams',
    expr: "In['tasks']['create']",
    doc: 'Fields of a new task (`tasks.create`). Only `targetUrl` is required.',
    schema: createSchema,
  },
  {
    name: 'Pagination',
    expr: "Out['tasks']['list']['pagination']",
    doc: 'Where a page of `tasks.list` stands.',
    schema: json(openapi.paths['/v1/tasks'].get.responses['200'])?.properties.pagination,
  },
  {
    name: 'TaskPage',
    expr: "Out['tasks']['list']",
    doc: 'One page of `tasks.list`, newest first.',
    schema: json(openapi.paths['/v1/tasks'].get.responses['200']),
  },
  {
    name: 'CreateManyParams',
    expr: "In['tasks']['createMany']",
    doc: 'A batch of new tasks (`tasks.createMany`): 1–1,000 create bodies.',
    schema: json(openapi.paths['/v1/tasks/batch'].post.requestBody),
  },
  {
    name: 'BatchItemError',
    expr: "Exclude<Out['tasks']['createMany']['results'][number], Out['tasks']['create']>",
    doc: 'A batch item that was not created: its validation error, paths from the batch body (`tasks.3.targetUrl`).',
    schema: json(openapi.paths['/v1/tasks/batch'].post.responses['200'])?.properties.results.items.anyOf?.[1],
  },
  {
    name: 'CreateManyResponse',
    expr: "Out['tasks']['createMany']",
    doc: 'What `tasks.createMany` returns: one result per item, in input order.',
    schema: json(openapi.paths['/v1/tasks/batch'].post.responses['200']),
  },
  {
    name: 'TaskFilter',
    expr: "In['tasks']['cancelMany']",
    doc: 'Which tasks a bulk action covers (`tasks.cancelMany`, `tasks.replayMany`): at least one field.',
    schema: json(openapi.paths['/v1/tasks/cancel'].post.requestBody),
  },
  {
    name: 'BulkActionResult',
    expr: "Out['tasks']['cancelMany']",
    doc: 'What a bulk action did; with `hasMore`, call again to go on.',
    schema: json(openapi.paths['/v1/tasks/cancel'].post.responses['200']),
  },
  {
    name: 'TaskStats',
    expr: "Out['tasks']['stats']",
    doc: "The team's tasks counted by status (`tasks.stats`).",
    schema: json(openapi.paths['/v1/tasks/stats'].get.responses['200']),
  },
  {
    name: 'Provider',
    expr: "Out['providers']['list']['providers'][number]",
    doc: 'A provider preset (`providers.list`); use its `id` as `CreateTaskParams.provider`.',
    schema: json(openapi.paths['/v1/providers'].get.responses['200'])?.properties.providers.items,
  },
  {
    name: 'VaultToken',
    expr: "Out['tokens']['create']['token']",
    doc: 'A secret stored in the vault. Its value is never returned; put its `id` as a header value.',
    schema: json(openapi.paths['/v1/tokens'].post.responses['201'])?.properties.token,
  },
  {
    name: 'CreateTokenParams',
    expr: "In['tokens']['create']",
    doc: 'A secret to store in the vault (`tokens.create`).',
    schema: json(openapi.paths['/v1/tokens'].post.requestBody),
  },
  {
    name: 'FlowKey',
    expr: "Out['flowKeys']['get']['flowKey']",
    doc: 'A flow key of the team: its limits and live figures (`flowKeys.get`).',
    schema: json(openapi.paths['/v1/flow-keys/{key}'].get.responses['200'])?.properties.flowKey,
  },
  {
    name: 'FlowKeyLimits',
    expr: "Omit<In['flowKeys']['upsert'], 'key'>",
    doc: 'Limits to set on a flow key (`flowKeys.upsert`): a field left out keeps its value, `null` clears it.',
    schema: json(openapi.paths['/v1/flow-keys/{key}'].put.requestBody),
  },
  {
    name: 'TaskQueue',
    expr: "Out['tasks']['queue']",
    doc: 'Why a task waits (`tasks.queue`): whether its flow key holds it back, why, and its place in line.',
    schema: json(openapi.paths['/v1/tasks/{id}/queue'].get.responses['200']),
  },
];

function program(): { checker: ts.TypeChecker; file: ts.SourceFile } {
  const routerPath = path.join(root, 'server/src/api/routers/app-router.ts');
  const source = [
    "import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';",
    `import type { AppRouter } from ${JSON.stringify(routerPath)};`,
    'type In = inferRouterInputs<AppRouter>;',
    'type Out = inferRouterOutputs<AppRouter>;',
    ...ROOTS.map((r) => `export type ${r.name} = ${r.expr};`),
  ].join('\n');
  const config = ts.getParsedCommandLineOfConfigFile(
    path.join(root, 'tsconfig.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  if (!config) throw new Error('cannot read tsconfig.json');
  const host = ts.createCompilerHost(config.options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, ...rest) =>
    path.resolve(name) === virtualFile ? ts.createSourceFile(name, source, lang) : getSourceFile(name, lang, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => path.resolve(name) === virtualFile || fileExists(name);
  const prog = ts.createProgram([virtualFile], config.options, host);
  const file = prog.getSourceFile(virtualFile);
  if (!file) throw new Error('virtual file missing');
  const errors = ts.getPreEmitDiagnostics(prog, file);
  if (errors.length > 0) throw new Error(ts.formatDiagnostics(errors, host));
  return { checker: prog.getTypeChecker(), file };
}

/** The variant of a schema that describes an object or array (anyOf/oneOf with null unwrapped). */
function unwrap(schema: Schema): Schema {
  if (!schema) return undefined;
  const variants = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (!variants) return schema;
  return variants.find((v) => v?.properties || v?.items || v?.additionalProperties) ?? schema;
}

function jsDoc(schema: Schema, indent: string, fallback?: string): string {
  const lines: string[] = [];
  const description = (schema?.description as string | undefined) ?? fallback;
  if (description) lines.push(...description.split('\n'));
  if (schema && 'default' in schema) lines.push(`@default ${JSON.stringify(schema.default)}`);
  if (lines.length === 0) return '';
  if (lines.length === 1) return `${indent}/** ${lines[0]} */\n`;
  return `${indent}/**\n${lines.map((l) => `${indent} * ${l}`).join('\n')}\n${indent} */\n`;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function createPrinter(checker: ts.TypeChecker, names: Map<ts.Type, string>) {
  const print = (type: ts.Type, schema: Schema, depth: number, isRoot = false): string => {
    const named = names.get(type);
    if (named && !isRoot) return named;
    const f = type.flags;
    if (f & ts.TypeFlags.Any) return 'any';
    if (f & ts.TypeFlags.Unknown) return 'unknown';
    if (f & ts.TypeFlags.String) return 'string';
    if (f & ts.TypeFlags.Number) return 'number';
    if (f & ts.TypeFlags.Boolean) return 'boolean';
    if (f & ts.TypeFlags.Null) return 'null';
    if (f & ts.TypeFlags.Undefined) return 'undefined';
    if (f & ts.TypeFlags.Never) return 'never';
    if (type.isStringLiteral()) return `'${type.value.replaceAll("'", "\\'")}'`;
    if (type.isNumberLiteral()) return String(type.value);
    if (f & ts.TypeFlags.BooleanLiteral) return (type as unknown as { intrinsicName: string }).intrinsicName;
    if (type.isUnion()) return printUnion(type, schema, depth);
    if (checker.isArrayType(type)) {
      const element = checker.getTypeArguments(type as ts.TypeReference)[0];
      if (!element) throw new Error('array without an element type');
      const inner = print(element, unwrap(schema)?.items, depth);
      return /[|&]/.test(inner) && !names.has(element) ? `(${inner})[]` : `${inner}[]`;
    }
    if (f & ts.TypeFlags.Object || type.isIntersection()) return printObject(type, unwrap(schema), depth, isRoot);
    throw new Error(`cannot print type ${checker.typeToString(type)}`);
  };

  const printUnion = (type: ts.UnionType, schema: Schema, depth: number): string => {
    const parts: string[] = [];
    const hasTrue = type.types.some((t) => t.flags & ts.TypeFlags.BooleanLiteral && checker.typeToString(t) === 'true');
    const hasFalse = type.types.some(
      (t) => t.flags & ts.TypeFlags.BooleanLiteral && checker.typeToString(t) === 'false',
    );
    for (const member of type.types) {
      const printed =
        member.flags & ts.TypeFlags.BooleanLiteral && hasTrue && hasFalse ? 'boolean' : print(member, schema, depth);
      if (!parts.includes(printed)) parts.push(printed);
    }
    // Enum members in the schema's order; null and undefined last, as people write them.
    const order: string[] = (unwrap(schema)?.enum ?? []).map((v: unknown) => `'${String(v)}'`);
    const rank = (p: string) => (p === 'null' ? 1e6 : p === 'undefined' ? 1e6 + 1 : order.indexOf(p));
    return parts.sort((a, b) => rank(a) - rank(b)).join(' | ');
  };

  const printObject = (type: ts.Type, schema: Schema, depth: number, isRoot = false): string => {
    if (checker.getSignaturesOfType(type, ts.SignatureKind.Call).length > 0) {
      throw new Error(`functions are not data: ${checker.typeToString(type)}`);
    }
    // Properties in the schema's order (the API's), whatever order the inferred type has.
    const order = Object.keys(schema?.properties ?? {});
    const rank = (name: string) => (order.includes(name) ? order.indexOf(name) : order.length);
    let props = checker.getPropertiesOfType(type).toSorted((a, b) => rank(a.name) - rank(b.name));
    // A root type that extends an earlier named one prints as `Base & { extra }`.
    const base = isRoot ? [...names].find(([named]) => extendsNamed(type, named)) : undefined;
    if (base) {
      const own = new Set(checker.getPropertiesOfType(base[0]).map((p) => p.name));
      props = props.filter((p) => !own.has(p.name));
    }
    const indexes = checker.getIndexInfosOfType(type);
    const index = indexes.length === 1 ? indexes[0] : undefined;
    if (props.length === 0 && index && index.keyType.flags & ts.TypeFlags.String) {
      return `Record<string, ${print(index.type, schema?.additionalProperties, depth)}>`;
    }
    if (indexes.length > 0) throw new Error(`mixed index signatures: ${checker.typeToString(type)}`);
    if (props.length === 0) return 'Record<string, never>';
    const pad = '  '.repeat(depth + 1);
    const lines = props.map((prop) => {
      const optional = (prop.flags & ts.SymbolFlags.Optional) !== 0;
      const propSchema = schema?.properties?.[prop.name] as Schema;
      const name = IDENTIFIER.test(prop.name) ? prop.name : `'${prop.name}'`;
      const printed = print(checker.getTypeOfSymbol(prop), propSchema, depth + 1);
      return `${jsDoc(propSchema, pad)}${pad}${name}${optional ? '?' : ''}: ${printed};`;
    });
    const body = `{\n${lines.join('\n')}\n${'  '.repeat(depth)}}`;
    return base ? `${base[1]} & ${body}` : body;
  };

  /** Every property of `named` is in `type` with the very same type and optionality. */
  const extendsNamed = (type: ts.Type, named: ts.Type): boolean => {
    if (!(named.flags & ts.TypeFlags.Object) || checker.isArrayType(named)) return false;
    const own = checker.getPropertiesOfType(named);
    if (own.length === 0 || own.length >= checker.getPropertiesOfType(type).length) return false;
    return own.every((p) => {
      const other = checker.getPropertyOfType(type, p.name);
      return (
        other !== undefined &&
        (other.flags & ts.SymbolFlags.Optional) === (p.flags & ts.SymbolFlags.Optional) &&
        checker.getTypeOfSymbol(other) === checker.getTypeOfSymbol(p)
      );
    });
  };

  return print;
}

function generate(): string {
  const { checker, file } = program();
  const aliases = new Map<string, ts.Type>();
  for (const statement of file.statements) {
    if (ts.isTypeAliasDeclaration(statement)) aliases.set(statement.name.text, checker.getTypeAtLocation(statement));
  }
  const names = new Map<ts.Type, string>();
  const print = createPrinter(checker, names);
  const blocks = ROOTS.map((r) => {
    const type = aliases.get(r.name);
    if (!type) throw new Error(`type ${r.name} missing`);
    const text = `${jsDoc(undefined, '', r.doc)}export type ${r.name} = ${print(type, r.schema, 0, true)};`;
    names.set(type, r.name);
    return text;
  });
  const header = [
    '// Generated by sdk/scripts/generate-types.ts from the server router type (AppRouter) and',
    '// openapi/openapi.json. Do not edit: run `npm run generate:types -w sdk`.',
  ].join('\n');
  return format(`${header}\n\n${blocks.join('\n\n')}\n`);
}

/** Biome-formatted, so the checked-in file passes `biome check` and `--check` compares like for like. */
function format(text: string): string {
  const biome = path.join(root, 'node_modules/.bin/biome');
  return execFileSync(biome, ['format', `--stdin-file-path=${target}`], { input: text, encoding: 'utf8', cwd: root });
}

const text = generate();
if (process.argv.includes('--check')) {
  const current = (() => {
    try {
      return readFileSync(target, 'utf8');
    } catch {
      return '';
    }
  })();
  if (current !== text) {
    process.stderr.write(
      'sdk/src/generated/api-types.ts is out of date with the router. Run `npm run generate:types -w sdk`.\n',
    );
    process.exit(1);
  }
  process.stdout.write('sdk/src/generated/api-types.ts is up to date.\n');
} else {
  writeFileSync(target, text);
  process.stdout.write(`wrote ${path.relative(process.cwd(), target)}\n`);
}
