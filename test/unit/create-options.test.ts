// Every ContainerConfig and HostConfig field of the Engine API schema is either honoured, inert or
// refused by berthd (create-options.ts), and a refused one set to a non-default value gives 400.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { EngineError } from '../../src/errdefs/errors.js';
import { CONTAINER_CONFIG_OPTIONS, HOST_CONFIG_OPTIONS, refuseUnsupportedOptions } from '../../src/containers/create-options.js';
import { decodeValue } from '../../src/server/decode/decode.js';
import type { ContainerCreateRequest } from '../../src/wire/types.js';

// Tests run from dist/tsc/test/unit.
const spec = parse(readFileSync(new URL('../../../../api/engine-api-v1.43.yaml', import.meta.url), 'utf8'));
const definitions = spec.definitions;
const containerConfigFields = Object.keys(definitions.ContainerConfig.properties);
const hostConfigFields = [...Object.keys(definitions.Resources.properties), ...Object.keys(definitions.HostConfig.allOf[1].properties)];

const refusedWith400 = (request: ContainerCreateRequest, field: string) => assert.throws(
  // Through the decoder too: the example must be a well-typed value that only the table refuses.
  () => refuseUnsupportedOptions(decodeValue<ContainerCreateRequest>('containerCreate', request)),
  (error: unknown) => error instanceof EngineError && error.kind === 'invalid-parameter' && error.message.includes(field) && /not supported by berthd yet/.test(error.message),
  `${field} was not refused`,
);

test('every ContainerConfig field of the schema is in the table, and only those', () => {
  assert.deepEqual(Object.keys(CONTAINER_CONFIG_OPTIONS).sort(), [...containerConfigFields].sort());
});

test('every HostConfig field of the schema (Resources included) is in the table, and only those', () => {
  assert.deepEqual(Object.keys(HOST_CONFIG_OPTIONS).sort(), [...hostConfigFields].sort());
});

test('a refused ContainerConfig field set to a non-default value gives 400 naming it', () => {
  for (const [field, option] of Object.entries(CONTAINER_CONFIG_OPTIONS)) {
    if (option.support === 'refused') refusedWith400({ Image: 'busybox', [field]: option.example }, field);
  }
});

test('a refused HostConfig field set to a non-default value gives 400 naming it', () => {
  for (const [field, option] of Object.entries(HOST_CONFIG_OPTIONS)) {
    if (option.support === 'refused') refusedWith400({ Image: 'busybox', HostConfig: { [field]: option.example } }, `HostConfig.${field}`);
  }
});

test('what the docker CLI sends for a plain run is accepted', () => {
  refuseUnsupportedOptions({
    Image: 'busybox', Volumes: {},
    HostConfig: {
      Binds: null, LogConfig: { Type: '', Config: {} }, NetworkMode: 'default', PortBindings: {}, VolumeDriver: '', VolumesFrom: null,
      MemorySwappiness: -1, Isolation: '', UsernsMode: '', Mounts: null, BlkioWeight: 0, Devices: [], PublishAllPorts: false,
    } as ContainerCreateRequest['HostConfig'],
    NetworkingConfig: { EndpointsConfig: { default: { Aliases: null, IPAMConfig: null } } },
    ...{ MacAddress: '' },
  } as ContainerCreateRequest);
});

test('ports, links, -P, --mac-address and endpoint settings pass (the network service checks them against the networks)', () => {
  refuseUnsupportedOptions({
    Image: 'busybox', HostConfig: { NetworkMode: 'mynet', PortBindings: { '80/tcp': [{ HostPort: '8080' }] }, PublishAllPorts: true, Links: ['a:b'] },
    NetworkingConfig: { EndpointsConfig: { mynet: { Aliases: ['x'], IPAMConfig: { IPv4Address: '10.0.0.5' } } } }, ...{ MacAddress: '02:42:ac:11:00:02' },
  } as ContainerCreateRequest);
});
