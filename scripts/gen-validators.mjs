// Compiles the Engine API's request-body schemas (api/engine-api-v1.43.yaml, Swagger 2.0) into
// ajv standalone validators, so that berthd never compiles a schema at start-up. Also writes
// each body's "shape" (canonical field names, Go type names) that the decoder uses to match
// field names case-insensitively as Go's encoding/json does and to word its errors.
//
// Output: src/server/decode/generated.ts (not in git; scripts/build.mjs runs this first).
import { readFileSync, writeFileSync, mkdirSync, existsSync, statSync } from 'node:fs';
import Ajv from 'ajv';
import standaloneCode from 'ajv/dist/standalone/index.js';
import { parse } from 'yaml';

const SPEC = 'api/engine-api-v1.43.yaml';
const OUT = 'src/server/decode/generated.ts';

/** The request bodies berthd reads: name → [method, path, parameter] in the spec. */
const BODIES = {
  containerCreate: ['post', '/containers/create', 'body'],
  containerUpdate: ['post', '/containers/{id}/update', 'update'],
  execCreate: ['post', '/containers/{id}/exec', 'execConfig'],
  execStart: ['post', '/exec/{id}/start', 'execStartConfig'],
  auth: ['post', '/auth', 'authConfig'],
  volumeCreate: ['post', '/volumes/create', 'volumeConfig'],
  networkCreate: ['post', '/networks/create', 'networkConfig'],
  networkConnect: ['post', '/networks/{id}/connect', 'container'],
  networkDisconnect: ['post', '/networks/{id}/disconnect', 'container'],
};
/** The Go struct Docker decodes each body into, for the messages. */
const ROOT_NAMES = {
  containerCreate: 'ContainerConfigWrapper', containerUpdate: 'UpdateConfig', execCreate: 'ExecConfig', execStart: 'ExecStartCheck', auth: 'AuthConfig',
  volumeCreate: 'CreateOptions', networkCreate: 'NetworkCreateRequest', networkConnect: 'NetworkConnect', networkDisconnect: 'NetworkDisconnect',
};

const here = (path) => new URL(`../${path}`, import.meta.url);
if (existsSync(here(OUT)) && statSync(here(OUT)).mtimeMs > Math.max(statSync(here(SPEC)).mtimeMs, statSync(new URL(import.meta.url)).mtimeMs)) {
  process.exit(0);
}

const spec = parse(readFileSync(here(SPEC), 'utf8'));
const definitions = spec.definitions;
// Fields Docker's Go structs decode that the v1.43 schema does not list.
Object.assign(definitions.AuthConfig.properties, {
  auth: { type: 'string' }, identitytoken: { type: 'string' }, registrytoken: { type: 'string' },
});

/** Go's integer ranges, by the spec's `format`; an integer without one is Go's int (64 bits here). */
const INTEGER_RANGES = {
  int64: [-(2 ** 63), 2 ** 63 - 1], undefined: [-(2 ** 63), 2 ** 63 - 1], int32: [-(2 ** 31), 2 ** 31 - 1],
  uint64: [0, 2 ** 64 - 1], uint32: [0, 2 ** 32 - 1], uint16: [0, 2 ** 16 - 1], uint8: [0, 255],
};

/**
 * Swagger 2.0 → the JSON Schema ajv checks, keeping what Go's decoder checks: JSON types and
 * integer ranges. Go does not check enums, required fields, lengths or patterns while decoding,
 * and ignores unknown fields, so those go. Nulls never reach the validator (the decoder drops
 * them, as Go leaves the field alone).
 */
function toJsonSchema(schema) {
  if (schema.$ref) return { $ref: `defs.json#/definitions/${schema.$ref.split('/').pop()}` };
  const out = {};
  if (schema.allOf) out.allOf = schema.allOf.map(toJsonSchema);
  let type = schema.type;
  if (!type && (schema.properties || schema.additionalProperties)) type = 'object';
  if (type) out.type = type;
  if (type === 'integer') {
    const [minimum, maximum] = INTEGER_RANGES[schema.format] ?? INTEGER_RANGES.undefined;
    out.minimum = minimum;
    out.maximum = maximum;
  }
  if (schema.properties) out.properties = Object.fromEntries(Object.entries(schema.properties).map(([k, v]) => [k, toJsonSchema(v)]));
  if (schema.additionalProperties && typeof schema.additionalProperties === 'object' && Object.keys(schema.additionalProperties).length) {
    out.additionalProperties = toJsonSchema(schema.additionalProperties);
  }
  if (schema.items) out.items = toJsonSchema(schema.items);
  return out;
}

/**
 * The shape the decoder walks: objects with known fields (canonical names), maps, arrays,
 * scalars with their Go type name. Definitions are referenced by name so recursion is finite.
 */
function toShape(schema, structName) {
  if (schema.$ref) return { ref: schema.$ref.split('/').pop() };
  const parts = schema.allOf ?? [schema];
  const fields = {};
  let values;
  let type = schema.type;
  for (const part of parts) {
    const resolved = part.$ref ? definitions[part.$ref.split('/').pop()] : part;
    const inner = resolved.allOf ? toShape(resolved, structName) : undefined;
    if (inner?.fields) Object.assign(fields, inner.fields);
    for (const [name, property] of Object.entries(resolved.properties ?? {})) fields[name] = toShape(property, name);
    if (resolved.additionalProperties && typeof resolved.additionalProperties === 'object' && Object.keys(resolved.additionalProperties).length) {
      values = toShape(resolved.additionalProperties, structName);
    }
    type ??= resolved.type ?? (resolved.properties || resolved.additionalProperties ? 'object' : undefined);
  }
  if (type === 'array') return { kind: 'array', items: schema.items ? toShape(schema.items, structName) : { kind: 'any' } };
  if (type === 'object' || Object.keys(fields).length || values) {
    if (Object.keys(fields).length) return { kind: 'struct', name: structName, fields };
    return { kind: 'map', values: values ?? { kind: 'any' } };
  }
  if (type === 'integer') return { kind: 'scalar', json: 'number', go: schema.format ?? 'int' };
  if (type === 'number') return { kind: 'scalar', json: 'number', go: 'float64' };
  if (type === 'boolean') return { kind: 'scalar', json: 'boolean', go: 'bool' };
  if (type === 'string') return { kind: 'scalar', json: 'string', go: 'string' };
  return { kind: 'any' };
}

const bodySchemas = {};
const shapes = {};
for (const [name, [method, path, parameter]] of Object.entries(BODIES)) {
  const body = spec.paths[path][method].parameters.find((p) => p.in === 'body' && p.name === parameter);
  if (!body) throw new Error(`no body ${parameter} for ${method} ${path}`);
  bodySchemas[name] = { $id: name, ...toJsonSchema(body.schema) };
  shapes[name] = toShape(body.schema, ROOT_NAMES[name]);
}
const definitionShapes = Object.fromEntries(Object.entries(definitions).map(([name, schema]) => [name, toShape(schema, name)]));
// Only the definitions the bodies reach go into the output.
const reached = new Set();
const visit = (shape) => {
  if (!shape) return;
  if (shape.ref) {
    if (reached.has(shape.ref)) return;
    reached.add(shape.ref);
    visit(definitionShapes[shape.ref]);
    return;
  }
  for (const child of Object.values(shape.fields ?? {})) visit(child);
  visit(shape.items);
  visit(shape.values);
};
Object.values(shapes).forEach(visit);

const ajv = new Ajv({ code: { source: true, esm: true }, strict: false, allErrors: false });
ajv.addSchema({ $id: 'defs.json', definitions: Object.fromEntries(Object.entries(definitions).map(([k, v]) => [k, toJsonSchema(v)])) });
for (const schema of Object.values(bodySchemas)) ajv.addSchema(schema);
const code = standaloneCode(ajv, Object.fromEntries(Object.keys(BODIES).map((name) => [name, name])));

mkdirSync(new URL('.', here(OUT)), { recursive: true });
writeFileSync(here(OUT), [
  '// @ts-nocheck',
  `// GENERATED by scripts/gen-validators.mjs from ${SPEC}; do not edit.`,
  code,
  `export const bodyShapes = ${JSON.stringify(shapes)};`,
  `export const definitionShapes = ${JSON.stringify(Object.fromEntries([...reached].sort().map((name) => [name, definitionShapes[name]])))};`,
  '',
].join('\n'));
