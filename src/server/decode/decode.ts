// Request bodies decoded as Docker's Go decoder (encoding/json) decodes them: field names match
// exactly or else case-insensitively (docker-py sends `detachKeys`), null leaves a field unset,
// unknown fields are ignored, and a value of the wrong JSON type is refused with Go's message
// naming the field. Types are checked by ajv validators compiled from the Engine API's schema at
// build time (scripts/gen-validators.mjs → generated.ts); this module only walks the shapes.
import { badParameter } from '../../errdefs/errors.js';
import * as generated from './generated.js';

export type Shape =
  | { kind: 'struct'; name: string; fields: Record<string, Shape> }
  | { kind: 'map'; values: Shape }
  | { kind: 'array'; items: Shape }
  | { kind: 'scalar'; json: 'string' | 'number' | 'boolean'; go: string }
  | { kind: 'any' }
  | { ref: string };

type ResolvedShape = Exclude<Shape, { ref: string }>;

interface ValidateFunction {
  (value: unknown): boolean;
  errors?: Array<{ instancePath: string }> | null;
}

export type BodyName = 'containerCreate' | 'containerUpdate' | 'execCreate' | 'execStart' | 'auth' | 'volumeCreate' | 'networkCreate' | 'networkConnect' | 'networkDisconnect';

const validators = generated as unknown as Record<BodyName, ValidateFunction>;
const bodyShapes = generated.bodyShapes as unknown as Record<BodyName, Shape>;
const definitionShapes = generated.definitionShapes as unknown as Record<string, Shape>;

/**
 * Docker's strslice.StrSlice fields: Go accepts a single string for them as well as an array
 * (`"Cmd": "echo hi"` is `["echo hi"]`).
 */
const STRING_OR_ARRAY_FIELDS: Record<string, Set<string>> = {
  ContainerConfigWrapper: new Set(['Cmd', 'Entrypoint', 'Shell']),
};

function resolve(shape: Shape): ResolvedShape {
  return 'ref' in shape ? resolve(definitionShapes[shape.ref]) : shape;
}

/** Per struct shape: lower-cased field name → canonical name, built on first use. */
const foldedNames = new WeakMap<object, Map<string, string>>();

function canonicalField(shape: Extract<Shape, { kind: 'struct' }>, key: string): string | undefined {
  if (Object.hasOwn(shape.fields, key)) return key;
  let folded = foldedNames.get(shape);
  if (!folded) {
    folded = new Map();
    for (const name of Object.keys(shape.fields)) if (!folded.has(name.toLowerCase())) folded.set(name.toLowerCase(), name);
    foldedNames.set(shape, folded);
  }
  return folded.get(key.toLowerCase());
}

const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Go's zero value for a null inside an array or a map (outside them, null leaves the field unset). */
function zeroValue(shape: Shape): unknown {
  const resolved = resolve(shape);
  switch (resolved.kind) {
    case 'scalar': return resolved.json === 'string' ? '' : resolved.json === 'number' ? 0 : false;
    case 'struct': case 'map': return {};
    case 'array': return [];
    default: return null;
  }
}

function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  // Defined, not assigned: a map key named "__proto__" stays a key.
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * Rewrites a decoded JSON value to the shape's canonical field names, drops unknown fields and
 * nulls. Values of the wrong type are passed through as they are for the validator to refuse.
 */
export function normalize(value: unknown, shape: Shape): unknown {
  const resolved = resolve(shape);
  if (resolved.kind === 'struct') {
    if (!isPlainObject(value)) return value;
    const result: Record<string, unknown> = {};
    const stringOrArray = STRING_OR_ARRAY_FIELDS[resolved.name];
    for (const key in value) {
      const item = value[key];
      const field = canonicalField(resolved, key);
      if (field === undefined || item === null) continue;
      const normalized = stringOrArray?.has(field) && typeof item === 'string' ? [item] : item;
      result[field] = normalize(normalized, resolved.fields[field]);
    }
    return result;
  }
  if (resolved.kind === 'map') {
    if (!isPlainObject(value)) return value;
    const result: Record<string, unknown> = {};
    for (const key in value) {
      const item = value[key];
      setOwn(result, key, item === null ? zeroValue(resolved.values) : normalize(item, resolved.values));
    }
    return result;
  }
  if (resolved.kind === 'array') {
    if (!Array.isArray(value)) return value;
    return value.map((item) => item === null ? zeroValue(resolved.items) : normalize(item, resolved.items));
  }
  return value;
}

/** Go's name for a shape's type, as its decoder words it. */
export function goTypeName(shape: Shape): string {
  if ('ref' in shape) return shape.ref;
  switch (shape.kind) {
    case 'struct': return shape.name;
    case 'map': return `map[string]${'kind' in shape.values && shape.values.kind === 'any' ? 'struct {}' : goTypeName(shape.values)}`;
    case 'array': return `[]${goTypeName(shape.items)}`;
    case 'scalar': return shape.go;
    default: return 'interface {}';
  }
}

/** Go's word for the JSON value it could not put into a field (numbers with their text when out of range). */
function jsonTypeName(value: unknown, withNumber: boolean): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'object') return 'object';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'number') return withNumber ? `number ${String(value)}` : 'number';
  return typeof value;
}

/** Go's UnmarshalTypeError message for the validator's first error, walking the shape along its path. */
function typeErrorMessage(root: Shape, rootValue: unknown, instancePath: string): string {
  const steps = instancePath.split('/').slice(1).map((step) => step.replace(/~1/g, '/').replace(/~0/g, '~'));
  let shape = resolve(root);
  let value = rootValue;
  let struct = shape.kind === 'struct' ? shape.name : '';
  const fields: string[] = [];
  for (const step of steps) {
    value = (value as Record<string, unknown>)[step];
    if (shape.kind === 'struct') {
      struct = shape.name;
      fields.push(step);
      shape = resolve(shape.fields[step] ?? { kind: 'any' });
    } else if (shape.kind === 'map') {
      shape = resolve(shape.values);
    } else if (shape.kind === 'array') {
      shape = resolve(shape.items);
    } else {
      shape = { kind: 'any' };
    }
  }
  // Go shows the number itself only when it is a number that does not fit a numeric field.
  const what = jsonTypeName(value, shape.kind === 'scalar' && shape.json === 'number');
  if (fields.length === 0) return `json: cannot unmarshal ${what} into Go value of type ${goTypeName(shape)}`;
  return `json: cannot unmarshal ${what} into Go struct field ${struct}.${fields.join('.')} of type ${goTypeName(shape)}`;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes a request body (raw bytes) into the named Engine API request, or throws a
 * badParameter naming what is wrong. An empty body is an empty request, as in Docker.
 */
export function decodeBody<T>(name: BodyName, body: Uint8Array): T {
  if (body.length === 0) return {} as T;
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw badParameter('invalid JSON: the request body is not valid UTF-8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw badParameter(`invalid character in JSON body: ${(error as Error).message}`);
  }
  return decodeValue<T>(name, parsed);
}

/** As decodeBody, for an already parsed JSON value. */
export function decodeValue<T>(name: BodyName, parsed: unknown): T {
  const shape = bodyShapes[name];
  if (!isPlainObject(parsed)) throw badParameter(typeErrorMessage(shape, parsed, ''));
  const normalized = normalize(parsed, shape);
  const validate = validators[name];
  if (!validate(normalized)) {
    const error = validate.errors?.[0];
    throw badParameter(error ? typeErrorMessage(shape, normalized, error.instancePath) : `invalid ${name} request`);
  }
  return normalized as T;
}
