// Query parameters as Docker reads them: booleans (httputils.BoolValueOrDefault), integers
// (strconv.Atoi) and filters (filters.FromJSON); malformed values are a 400, never a 500.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError } from '../../src/errdefs/errors.js';
import { boolParam, filtersParam, intParam } from '../../src/server/server.js';

const query = (text: string) => new URLSearchParams(text);
const is400 = (error: unknown) => error instanceof EngineError && error.kind === 'invalid-parameter';

test('booleans: absent is the default; "", 0, no, false, none (any case) are false; anything else true', () => {
  assert.equal(boolParam(query(''), 'all'), false);
  assert.equal(boolParam(query(''), 'stream', true), true);
  for (const value of ['', '0', 'no', 'false', 'none', 'FALSE', ' No ', 'None']) assert.equal(boolParam(query(`x=${encodeURIComponent(value)}`), 'x', true), false, value);
  for (const value of ['1', 'true', 'yes', 'on', 'anything']) assert.equal(boolParam(query(`x=${value}`), 'x'), true, value);
});

test('integers: Atoi syntax only, within range', () => {
  assert.equal(intParam(query(''), 't'), undefined);
  assert.equal(intParam(query('t='), 't'), undefined);
  assert.equal(intParam(query('t=-5'), 't'), -5);
  assert.equal(intParam(query('t=%2B7'), 't'), 7);
  for (const bad of ['abc', '1.5', '1e3', '0x10', ' 1', '99999999999999999999']) assert.throws(() => intParam(query(`t=${encodeURIComponent(bad)}`), 't'), is400, bad);
});

test('filters: both JSON forms; anything else is a 400', () => {
  assert.deepEqual([...filtersParam(query(`filters=${encodeURIComponent('{"label":["a","b"]}')}`))], [['label', ['a', 'b']]]);
  assert.deepEqual([...filtersParam(query(`filters=${encodeURIComponent('{"label":{"a":true,"b":false}}')}`))], [['label', ['a']]]);
  assert.equal(filtersParam(query('filters=null')).size, 0);
  for (const bad of ['{', '[]', '7', '"x"', '{"label":"a"}', '{"label":[1]}', '{"label":{"a":1}}']) {
    assert.throws(() => filtersParam(query(`filters=${encodeURIComponent(bad)}`)), is400, bad);
  }
});
