// The request-body decoder: Go's encoding/json field matching and type errors, checked by the
// validators compiled from the Engine API schema.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError } from '../../src/errdefs/errors.js';
import { decodeBody, decodeValue } from '../../src/server/decode/decode.js';
import type { ContainerCreateRequest, ExecCreateRequest } from '../../src/wire/types.js';

const refused = (fn: () => unknown, message: RegExp | string) => assert.throws(fn, (error: unknown) => {
  assert.ok(error instanceof EngineError, String(error));
  assert.equal(error.kind, 'invalid-parameter');
  if (typeof message === 'string') assert.equal(error.message, message);
  else assert.match(error.message, message);
  return true;
});

test('field names match exactly, else case-insensitively, at every level of known shape', () => {
  const request = decodeValue<ContainerCreateRequest>('containerCreate', {
    image: 'busybox', CMD: ['true'], hostconfig: { memory: 10485760, restartpolicy: { name: 'always' } },
    labels: { KeepCase: 'x' },
  });
  assert.deepEqual(request, {
    Image: 'busybox', Cmd: ['true'], HostConfig: { Memory: 10485760, RestartPolicy: { Name: 'always' } }, Labels: { KeepCase: 'x' },
  });
  const exec = decodeValue<ExecCreateRequest>('execCreate', { cmd: ['sh'], detachKeys: 'ctrl-x' });
  assert.deepEqual(exec, { Cmd: ['sh'], DetachKeys: 'ctrl-x' });
});

test('the exact name wins over a case-insensitive one; the last of two keys wins', () => {
  assert.deepEqual(decodeValue('containerCreate', { Image: 'a', image: 'b' }), { Image: 'b' });
  assert.deepEqual(decodeValue('containerCreate', { image: 'b', Image: 'a' }), { Image: 'a' });
});

test('null leaves a field unset; nulls in arrays and maps are zero values; unknown fields are ignored', () => {
  assert.deepEqual(decodeValue('containerCreate', { Image: null, Env: ['A=1', null], Labels: { a: null }, Bogus: 1, HostConfig: { Bogus: 'x' } }),
    { Env: ['A=1', ''], Labels: { a: '' }, HostConfig: {} });
});

test('Cmd, Entrypoint and Shell take a single string as Go\'s strslice does', () => {
  assert.deepEqual(decodeValue('containerCreate', { Cmd: 'echo hi', Entrypoint: 'sh' }), { Cmd: ['echo hi'], Entrypoint: ['sh'] });
});

test('a wrongly typed field is refused with Go\'s message naming the field', () => {
  refused(() => decodeValue('containerCreate', { HostConfig: { Memory: 'lots' } }),
    'json: cannot unmarshal string into Go struct field HostConfig.HostConfig.Memory of type int64');
  refused(() => decodeValue('containerCreate', { Cmd: [1, 2] }), /Go struct field ContainerConfigWrapper\.Cmd of type string/);
  refused(() => decodeValue('containerCreate', { Env: 'A=1' }), 'json: cannot unmarshal string into Go struct field ContainerConfigWrapper.Env of type []string');
  refused(() => decodeValue('containerCreate', { Labels: { a: 5 } }), 'json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Labels of type string');
  refused(() => decodeValue('containerCreate', { Image: 7 }), /ContainerConfigWrapper\.Image of type string/);
  refused(() => decodeValue('containerCreate', { Cmd: 7 }), /ContainerConfigWrapper\.Cmd/);
  refused(() => decodeValue('containerCreate', { HostConfig: { Ulimits: [{ Name: 'nofile', Soft: 'x' }] } }), /Ulimits\.HostConfig\.Ulimits\.Soft of type int/);
  refused(() => decodeValue('containerCreate', { HostConfig: { Devices: [{ PathOnHost: 7 }] } }), /DeviceMapping\.HostConfig\.Devices\.PathOnHost of type string/);
  refused(() => decodeValue('containerCreate', { HostConfig: { CpuShares: 1.5 } }), /number 1\.5 into Go struct field HostConfig\.HostConfig\.CpuShares/);
  refused(() => decodeValue('containerCreate', { HostConfig: { Memory: 1e30 } }), /number 1e\+30/);
  refused(() => decodeValue('containerCreate', { Tty: 'yes' }), /Tty of type bool/);
  refused(() => decodeValue('containerCreate', { HostConfig: { PortBindings: { '80/tcp': [{ HostPort: 8080 }] } } }), /PortBindings\.HostPort of type string/);
  refused(() => decodeValue('execCreate', { Cmd: ['sh'], DetachKeys: 1 }), /ExecConfig\.DetachKeys of type string/);
  refused(() => decodeValue('containerUpdate', { Memory: true }), /UpdateConfig\.Memory of type int64/);
});

test('a body that is not an object, not JSON or not UTF-8 is refused', () => {
  refused(() => decodeValue('containerCreate', null), 'json: cannot unmarshal null into Go value of type ContainerConfigWrapper');
  refused(() => decodeValue('containerCreate', []), /cannot unmarshal array into Go value/);
  refused(() => decodeValue('containerCreate', 7), /cannot unmarshal number into Go value/);
  refused(() => decodeBody('containerCreate', Buffer.from('{"Image":')), /invalid character/);
  refused(() => decodeBody('containerCreate', Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])), /UTF-8/);
  assert.deepEqual(decodeBody('containerCreate', Buffer.alloc(0)), {});
});

test('a map key named __proto__ stays a key', () => {
  const request = decodeBody<ContainerCreateRequest>('containerCreate', Buffer.from('{"Labels":{"__proto__":"x"}}'));
  assert.equal(Object.getPrototypeOf(request.Labels), Object.prototype);
  assert.equal(Object.keys(request.Labels!).join(), '__proto__');
});

test('auth bodies keep the fields Go decodes that the schema omits', () => {
  assert.deepEqual(decodeValue('auth', { Username: 'u', IdentityToken: 't', auth: 'dTpw' }), { username: 'u', identitytoken: 't', auth: 'dTpw' });
  refused(() => decodeValue('auth', { password: 5 }), /AuthConfig\.password of type string/);
});
