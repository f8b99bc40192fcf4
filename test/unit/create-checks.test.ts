// The value checks of a create request: Docker's messages, before anything is stored.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError } from '../../src/errdefs/errors.js';
import { parsePortSpec, validateCreateRequest } from '../../src/containers/create-checks.js';
import type { ContainerCreateRequest } from '../../src/wire/types.js';

const refused = (request: ContainerCreateRequest, message: RegExp) => assert.throws(() => validateCreateRequest(request),
  (error: unknown) => error instanceof EngineError && error.kind === 'invalid-parameter' && message.test(error.message), JSON.stringify(request));

test('stop signal, working directory and health-check durations', () => {
  refused({ StopSignal: 'SIGNOPE' }, /^invalid signal: SIGNOPE$/);
  refused({ StopSignal: '99' }, /invalid signal/);
  refused({ WorkingDir: 'relative/dir' }, /the working directory 'relative\/dir' is invalid, it needs to be an absolute path/);
  refused({ Healthcheck: { Test: ['CMD', 'true'], Interval: -1 } }, /Interval in Healthcheck cannot be less than 1ms/);
  refused({ Healthcheck: { Timeout: 999_999 } }, /Timeout in Healthcheck/);
  refused({ Healthcheck: { StartPeriod: 5 } }, /StartPeriod in Healthcheck/);
  refused({ Healthcheck: { Retries: -1 } }, /Retries in Healthcheck cannot be negative/);
  validateCreateRequest({ StopSignal: 'term', WorkingDir: '/srv', Healthcheck: { Interval: 0, Timeout: 1e6 } });
  validateCreateRequest({ StopSignal: '15' });
});

test('ulimits', () => {
  refused({ HostConfig: { Ulimits: [{ Name: 'nofiles', Soft: 1, Hard: 2 }] } }, /invalid ulimit type: nofiles/);
  refused({ HostConfig: { Ulimits: [{ Name: 'nofile', Soft: 3, Hard: 2 }] } }, /soft limit must be less than or equal to hard limit: 3 > 2/);
  validateCreateRequest({ HostConfig: { Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 1024 }] } });
});

test('port specifications', () => {
  refused({ HostConfig: { PortBindings: { '80/tcp': [{ HostPort: 'y' }] } } }, /invalid port specification: "y"/);
  refused({ HostConfig: { PortBindings: { '80/tcp': [{ HostPort: '70000' }] } } }, /invalid port specification/);
  refused({ HostConfig: { PortBindings: { '0/tcp': [] } } }, /invalid port specification/);
  refused({ HostConfig: { PortBindings: { '80/xyz': [] } } }, /invalid proto: xyz/);
  refused({ ExposedPorts: { 'abc': {} } }, /invalid port specification/);
  assert.deepEqual(parsePortSpec('8000-8010/UDP'), { first: 8000, last: 8010, proto: 'udp' });
  validateCreateRequest({ ExposedPorts: { '80/tcp': {}, '53/udp': {} }, HostConfig: { PortBindings: { '80/tcp': [{ HostPort: '' }, { HostPort: '8080-8081' }] } } });
});

test('bind and mount specifications', () => {
  refused({ HostConfig: { Binds: ['::::'] } }, /invalid volume specification: '::::'/);
  refused({ HostConfig: { Binds: ['/a:rel'] } }, /mount path must be absolute/);
  refused({ HostConfig: { Binds: ['/a:/b:bogus'] } }, /invalid volume specification/);
  refused({ HostConfig: { Mounts: [{ Type: 'weird', Target: '/x' }] } as ContainerCreateRequest['HostConfig'] }, /mount type unknown/);
  refused({ HostConfig: { Mounts: [{ Type: 'bind', Target: '/x' }] } as ContainerCreateRequest['HostConfig'] }, /field Source must not be empty/);
  validateCreateRequest({ HostConfig: { Binds: ['/host:/data:ro', 'named:/v', '/anon'] } });
});
