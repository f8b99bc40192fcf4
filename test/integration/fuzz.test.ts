// Fuzzing the request decoding: a few thousand bodies built from the Engine API schema (the
// shapes scripts/gen-validators.mjs writes) — well typed, wrongly typed, with unknown fields,
// huge and negative numbers, odd key cases, invalid JSON and UTF-8 — and malformed query
// strings. No answer may be a 5xx, no wrongly typed body may be accepted, and the daemon must
// still be the same process at the end. Set FUZZ_SEED to replay a run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { useDaemon } from './harness.js';
import { bodyShapes, definitionShapes } from '../../src/server/decode/generated.js';
import type { Shape } from '../../src/server/decode/decode.js';

const daemon = useDaemon();

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
const BODIES_PER_ENDPOINT = 1500;
const QUERIES = 1500;

/** mulberry32: a small seeded generator, so that a failing run can be replayed. */
function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = rng(SEED);
const int = (n: number) => Math.floor(random() * n);
const pick = <T>(items: readonly T[]): T => items[int(items.length)];
const chance = (p: number) => random() < p;

const shapes = { ...(definitionShapes as Record<string, Shape>) };
const resolve = (shape: Shape): Exclude<Shape, { ref: string }> => ('ref' in shape ? resolve(shapes[shape.ref]) : shape);

const STRINGS = ['', 'busybox', 'x', '/', '/tmp', 'relative', 'SIGTERM', 'SIGNOPE', '80/tcp', '::::', 'a=b', '-1', '1e400', 'ünïcödé', '\u0000', '\ud83d\ude00', 'a'.repeat(5000), 'ctrl-p,ctrl-q', '0-1', 'host', 'none', 'bridge', 'always', 'nofile'];
const NUMBERS = [0, 1, -1, 7, 1e6, 2 ** 31, -(2 ** 31), 2 ** 53, -(2 ** 53), 9.2e18, 1e30, -1e30, 1.5, 65536];

function randomString(): string {
  return chance(0.7) ? pick(STRINGS) : Array.from({ length: int(12) }, () => String.fromCharCode(32 + int(95))).join('');
}

function oddCase(name: string): string {
  switch (int(4)) {
    case 0: return name.toLowerCase();
    case 1: return name.toUpperCase();
    case 2: return name[0].toLowerCase() + name.slice(1);
    default: return name;
  }
}

/** A value of the shape's type (the values themselves may still be semantically bad). */
function wellTyped(shape: Shape, depth = 0): unknown {
  const resolved = resolve(shape);
  switch (resolved.kind) {
    case 'struct': {
      const value: Record<string, unknown> = {};
      const fields = Object.keys(resolved.fields);
      const count = depth === 0 ? 1 + int(5) : int(3);
      for (let i = 0; i < count && depth < 4; i++) {
        const field = pick(fields);
        value[chance(0.3) ? oddCase(field) : field] = chance(0.1) ? null : wellTyped(resolved.fields[field], depth + 1);
      }
      if (chance(0.2)) value[`Unknown${int(100)}`] = pick([1, 'x', [], {}, null]);
      return value;
    }
    case 'map': return Object.fromEntries(Array.from({ length: int(3) }, () => [randomString(), depth < 4 ? wellTyped(resolved.values, depth + 1) : {}]));
    case 'array': return Array.from({ length: int(3) }, () => (depth < 4 ? wellTyped(resolved.items, depth + 1) : null));
    case 'scalar':
      if (resolved.json === 'string') return randomString();
      if (resolved.json === 'boolean') return chance(0.5);
      if (resolved.go === 'float64') return pick(NUMBERS.filter((n) => Math.abs(n) < 1e300));
      return pick(resolved.go.startsWith('uint') ? [0, 1, 7, 255, 1e6] : [0, 1, -1, 7, 1e6, 2 ** 31, -(2 ** 31)]);
    default: return pick([1, 'x', true, {}, []]);
  }
}

/** A JSON value Go cannot decode into the shape; undefined when every value fits. */
function wronglyTyped(shape: Shape, stringOrArray: boolean): unknown {
  const resolved = resolve(shape);
  switch (resolved.kind) {
    case 'struct': case 'map': return pick(['x', 7, true, [1]]);
    case 'array': return pick(stringOrArray ? [7, true, { a: 1 }] : ['x', 7, true, { a: 1 }]);
    case 'scalar':
      if (resolved.json === 'string') return pick([7, true, ['x'], { a: 'x' }]);
      if (resolved.json === 'boolean') return pick(['true', 1, [], {}]);
      if (resolved.go === 'float64') return pick(['1', true, [], {}]);
      return pick(['1', true, [], {}, 1.5, 1e30, -1e30, ...(resolved.go.startsWith('uint') ? [-1] : [])]);
    default: return undefined;
  }
}

const STRING_OR_ARRAY = new Set(['Cmd', 'Entrypoint', 'Shell']);

/** A well-typed body with one known field, somewhere down its tree, of the wrong type. */
function withWrongType(root: Shape): unknown {
  for (;;) {
    const body = wellTyped(root) as Record<string, unknown>;
    let shape = resolve(root);
    let holder: any = body; // an object or an array, as the walk goes
    let topLevel = true;
    for (let depth = 0; depth < 4; depth++) {
      if (shape.kind === 'struct') {
        const field = pick(Object.keys(shape.fields));
        const child = resolve(shape.fields[field]);
        // Remove any other spelling of the same field first: Go would take the last one.
        for (const key of Object.keys(holder)) if (key.toLowerCase() === field.toLowerCase()) delete holder[key];
        if (chance(0.5) || depth === 3 || !['struct', 'array', 'map'].includes(child.kind)) {
          const wrong = wronglyTyped(child, topLevel && STRING_OR_ARRAY.has(field));
          if (wrong === undefined) break;
          holder[chance(0.3) ? oddCase(field) : field] = wrong;
          return body;
        }
        const next = child.kind === 'struct' ? {} : child.kind === 'map' ? {} : [];
        holder[field] = next;
        holder = next;
        shape = child;
      } else if (shape.kind === 'map') {
        const wrong = wronglyTyped(shape.values, false);
        if (wrong === undefined) break;
        holder[randomString()] = wrong;
        return body;
      } else if (shape.kind === 'array') {
        const items = resolve(shape.items);
        if (items.kind === 'struct') {
          const next = {};
          holder.push(next);
          holder = next;
          shape = items;
        } else {
          const wrong = wronglyTyped(items, false);
          if (wrong === undefined) break;
          holder.push(wrong);
          return body;
        }
      } else {
        break;
      }
      topLevel = false;
    }
  }
}

function garbage(): string | Buffer {
  switch (int(6)) {
    case 0: return Buffer.from(Array.from({ length: 1 + int(40) }, () => int(256)));
    case 1: return Buffer.concat([Buffer.from('{"Image":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]);
    case 2: return pick(['null', '[]', '7', '"x"', 'true', '{', '{"Image":}', '{"a":1}}', '\ufeff{}', '{"Cmd":[1,]}']);
    case 3: return JSON.stringify(wellTyped(bodyShapes.containerCreate as Shape)).slice(0, int(40));
    case 4: return `{${'"a":{'.repeat(2000)}1${'}'.repeat(2001)}`;
    default: return JSON.stringify({ Labels: Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`k${i}`, 'v'])) });
  }
}

interface Tally { requests: number; byStatus: Map<number, number> }

test(`fuzzing request bodies and query strings (seed ${SEED}): no 5xx, no wrong type accepted, same daemon`, { timeout: 240_000 }, async () => {
  const pid = readFileSync(join(daemon.root, 'berthd.pid'), 'utf8').trim();
  const target = await daemon.api('POST', '/containers/create?name=fuzz-target', { Image: 'busybox', Cmd: ['true'] });
  assert.equal(target.status, 201, target.body);
  const tally: Tally = { requests: 0, byStatus: new Map() };
  const failures: string[] = [];
  const created = new Set<string>();
  const tags = new Set<string>();

  async function send(method: string, path: string, body: unknown, wrong: boolean): Promise<number> {
    const response = await daemon.api(method, path, body);
    tally.requests++;
    tally.byStatus.set(response.status, (tally.byStatus.get(response.status) ?? 0) + 1);
    const shown = `${method} ${path} ${Buffer.isBuffer(body) ? body.toString('hex').slice(0, 200) : String(typeof body === 'string' ? body : JSON.stringify(body)).slice(0, 300)}`;
    if (response.status >= 500) failures.push(`${response.status} for ${shown}: ${response.body.slice(0, 300)}`);
    if (wrong && response.status < 300) failures.push(`accepted a wrongly typed body (${response.status}): ${shown}`);
    if (wrong && response.status !== 400) failures.push(`${response.status} rather than 400 for a wrongly typed body: ${shown}: ${response.body.slice(0, 200)}`);
    if (response.status === 201 && path.startsWith('/containers/create')) created.add((response.json() as { Id: string }).Id);
    return response.status;
  }

  const endpoints: Array<{ method: string; path: string; shape: Shape }> = [
    { method: 'POST', path: '/containers/create', shape: bodyShapes.containerCreate as Shape },
    { method: 'POST', path: '/containers/fuzz-target/exec', shape: bodyShapes.execCreate as Shape },
    { method: 'POST', path: '/containers/fuzz-target/update', shape: bodyShapes.containerUpdate as Shape },
    { method: 'POST', path: '/exec/nosuchexec/start', shape: bodyShapes.execStart as Shape },
  ];
  const jobs: Array<() => Promise<unknown>> = [];
  for (const endpoint of endpoints) {
    for (let i = 0; i < BODIES_PER_ENDPOINT; i++) {
      const kind = int(10);
      if (kind < 5) jobs.push(() => send(endpoint.method, endpoint.path, withWrongType(endpoint.shape), true));
      else if (kind < 8) jobs.push(() => send(endpoint.method, endpoint.path, wellTyped(endpoint.shape), false));
      else jobs.push(() => send(endpoint.method, endpoint.path, garbage(), false));
    }
  }
  // /auth would reach out to the registry a valid body names: only wrongly typed bodies go there.
  for (let i = 0; i < 500; i++) jobs.push(() => send('POST', '/auth', withWrongType(bodyShapes.auth as Shape), true));

  const odd = () => encodeURIComponent(pick([randomString(), '', '1', '0', 'none', '-1', '1e3', '99999999999999999999', '{"label":["a"]}', '{"label":{"a":true}}', '{"label":"a"}', '[]', '{', 'null', '%', '\u0000']));
  const queries = [
    () => `GET /containers/json?all=${odd()}&limit=${odd()}&size=${odd()}&filters=${odd()}`,
    () => `GET /images/json?all=${odd()}&filters=${odd()}&digests=${odd()}`,
    () => `POST /containers/fuzz-target/stop?t=${odd()}&signal=${odd()}`,
    () => `POST /containers/fuzz-target/kill?signal=${odd()}`,
    () => `POST /containers/fuzz-target/resize?h=${odd()}&w=${odd()}`,
    () => `POST /containers/fuzz-target/wait?condition=${odd()}`,
    () => `GET /containers/fuzz-target/logs?stdout=${odd()}&stderr=${odd()}&since=${odd()}&until=${odd()}&tail=${odd()}&timestamps=${odd()}`,
    () => `GET /containers/fuzz-target/json?size=${odd()}`,
    () => `POST /containers/fuzz-target/rename?name=${odd()}`,
    () => `DELETE /containers/nosuch${int(1000)}?force=${odd()}&v=${odd()}`,
    () => `POST /images/busybox/tag?repo=${odd()}&tag=${odd()}`,
    () => `POST /exec/nosuchexec/resize?h=${odd()}&w=${odd()}`,
    () => `GET /containers/fuzz-target/top?ps_args=${odd()}`,
    () => `GET /containers/fuzz-target/stats?stream=0&one-shot=${odd()}`,
  ];
  for (let i = 0; i < QUERIES; i++) {
    const [method, path] = pick(queries)().split(' ');
    jobs.push(async () => {
      const status = await send(method, path, undefined, false);
      if (path.startsWith('/images/busybox/tag') && status === 201) {
        const query = new URLSearchParams(path.slice(path.indexOf('?')));
        tags.add(`${query.get('repo')}:${query.get('tag') || 'latest'}`);
      }
      if (path.includes('/rename') && status === 204) {
        // Renamed away: rename it back so the later requests still find it.
        await daemon.api('POST', `/containers/${new URLSearchParams(path.slice(path.indexOf('?'))).get('name')}/rename?name=fuzz-target`);
      }
    });
  }
  // Shuffled, a few at a time.
  for (let i = jobs.length - 1; i > 0; i--) {
    const j = int(i + 1);
    [jobs[i], jobs[j]] = [jobs[j], jobs[i]];
  }
  let next = 0;
  await Promise.all(Array.from({ length: 6 }, async () => {
    while (next < jobs.length) await jobs[next++]();
  }));

  for (const id of created) await daemon.api('DELETE', `/containers/${id}?force=1`);
  for (const tag of tags) await daemon.api('DELETE', `/images/${encodeURIComponent(tag)}`);
  await daemon.api('DELETE', '/containers/fuzz-target?force=1');

  process.stderr.write(`fuzz seed ${SEED}: ${tally.requests} requests, statuses ${JSON.stringify(Object.fromEntries(tally.byStatus))}, ${created.size} containers created and removed\n`);
  assert.deepEqual(failures.slice(0, 20), [], `seed ${SEED}: ${failures.length} failures`);
  assert.equal(readFileSync(join(daemon.root, 'berthd.pid'), 'utf8').trim(), pid);
  process.kill(Number(pid), 0);
  assert.equal((await daemon.api('GET', '/_ping')).status, 200);
  assert.equal((await daemon.docker(['ps', '-a'])).code, 0);
});
