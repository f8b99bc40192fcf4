// Tests for container/image/history row formatting, status texts and event lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerState, ContainerSummary } from '../../src/wire/types.js';
import { containerRow, displayablePorts, DEFAULT_PS_FORMAT, PS_HEADERS } from '../../src/cli/commands/ps-format.js';
import { containerStatusText } from '../../src/containers/status.js';
import { imageRows, historyRow } from '../../src/cli/commands/images.js';
import { formatEventLine, reformatDate, versionText } from '../../src/cli/commands/system.js';
import { indentJson } from '../../src/cli/commands/inspect.js';
import { ellipsis, goQuote, renderFormatted, splitTimeNano, truncateId } from '../../src/cli/output.js';

const NOW = Date.parse('2024-01-01T10:00:00Z');

function state(partial: Partial<ContainerState>): ContainerState {
  return {
    Status: 'created', Running: false, Paused: false, Restarting: false, OOMKilled: false, Dead: false, Pid: 0,
    ExitCode: 0, Error: '', StartedAt: '0001-01-01T00:00:00Z', FinishedAt: '0001-01-01T00:00:00Z', ...partial,
  };
}

test('status text like the daemon writes it', () => {
  assert.equal(containerStatusText(state({}), NOW), 'Created');
  assert.equal(containerStatusText(state({ Status: 'running', Running: true, StartedAt: '2024-01-01T09:59:57Z' }), NOW), 'Up 3 seconds');
  assert.equal(containerStatusText(state({ Status: 'running', Running: true, StartedAt: '2024-01-01T09:58:00Z' }), NOW), 'Up 2 minutes');
  assert.equal(
    containerStatusText(state({ Status: 'paused', Running: true, Paused: true, StartedAt: '2024-01-01T09:00:00Z' }), NOW),
    'Up About an hour (Paused)',
  );
  assert.equal(
    containerStatusText(state({ Status: 'exited', ExitCode: 137, StartedAt: '2024-01-01T09:00:00Z', FinishedAt: '2024-01-01T09:59:58Z' }), NOW),
    'Exited (137) 2 seconds ago',
  );
  assert.equal(containerStatusText(state({ Status: 'dead', Dead: true, StartedAt: '2024-01-01T09:00:00Z' }), NOW), 'Dead');
  assert.equal(containerStatusText(state({ Status: 'removing' }), NOW), 'Removal In Progress');
});

test('ports are grouped and sorted like DisplayablePorts', () => {
  assert.equal(displayablePorts([]), '');
  assert.equal(
    displayablePorts([
      { PrivatePort: 81, Type: 'tcp' },
      { PrivatePort: 80, Type: 'tcp' },
      { PrivatePort: 443, Type: 'tcp' },
    ]),
    '80-81/tcp, 443/tcp',
  );
  assert.equal(
    displayablePorts([
      { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
      { IP: '::', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
      { IP: '0.0.0.0', PrivatePort: 9000, PublicPort: 9000, Type: 'udp' },
    ]),
    '0.0.0.0:9000->9000/udp, 0.0.0.0:8080->80/tcp, [::]:8080->80/tcp',
  );
});

const summary: ContainerSummary = {
  Id: 'f'.repeat(64),
  Names: ['/web', '/other/link'],
  Image: 'busybox',
  ImageID: 'sha256:' + 'a'.repeat(64),
  Command: 'sh -c "while true; do sleep 1; done"',
  Created: NOW / 1000 - 120,
  Ports: [],
  Labels: { b: '2', a: '1' },
  State: 'running',
  Status: 'Up 2 minutes',
  HostConfig: { NetworkMode: 'default' },
  NetworkSettings: { Networks: {} },
  Mounts: [],
  SizeRw: 0,
};

test('a ps row: ID, quoted truncated command, created, names without links', () => {
  const row = containerRow(summary, { trunc: true, now: NOW });
  assert.equal(row.ID, 'ffffffffffff');
  assert.equal(row.Command, '"sh -c \\"while true; …"');
  assert.equal(row.RunningFor, '2 minutes ago');
  assert.equal(row.Names, 'web');
  assert.equal(row.Labels, 'a=1,b=2');
  assert.equal(row.Label('b'), '2');
  assert.equal(row.Size, '0B');
  const full = containerRow(summary, { trunc: false, now: NOW });
  assert.equal(full.ID, summary.Id);
  assert.equal(full.Names, 'web,other/link');
  assert.equal(full.Command, goQuote(summary.Command));
});

test('the default ps table', () => {
  const rows = [containerRow(summary, { trunc: true, now: NOW })];
  const text = renderFormatted(DEFAULT_PS_FORMAT, rows, PS_HEADERS);
  const lines = text.split('\n');
  assert.equal(lines[0], 'CONTAINER ID   IMAGE     COMMAND                   CREATED         STATUS         PORTS     NAMES');
  assert.equal(lines[1], 'ffffffffffff   busybox   "sh -c \\"while true; …"   2 minutes ago   Up 2 minutes             web');
  assert.equal(renderFormatted('{{.Names}}: {{.Status}}', rows, PS_HEADERS), 'web: Up 2 minutes\n');
  assert.equal(renderFormatted('table {{.Names}}\\t{{.State}}', rows, PS_HEADERS), 'NAMES     STATE\nweb       running\n');
});

test('helpers: truncateId, ellipsis, goQuote, timeNano', () => {
  assert.equal(truncateId('sha256:0123456789abcdef'), '0123456789ab');
  assert.equal(ellipsis('abcdef', 4), 'abc…');
  assert.equal(ellipsis('abc', 4), 'abc');
  assert.equal(goQuote('a"b\\c\n\x01é'), '"a\\"b\\\\c\\n\\x01é"');
  assert.deepEqual(splitTimeNano('1704103200123456789'), { seconds: 1704103200, nanos: 123456789 });
});

test('image rows: tags, dangling, digests', () => {
  const base = { Id: 'sha256:' + 'b'.repeat(64), ParentId: '', Created: NOW / 1000 - 3600 * 24 * 3, Size: 4_261_000, SharedSize: -1, VirtualSize: 4_261_000, Labels: {}, Containers: -1 };
  const rows = imageRows(
    [
      { ...base, RepoTags: ['busybox:latest', 'busybox:1.36'], RepoDigests: ['busybox@sha256:' + 'c'.repeat(64)] },
      { ...base, RepoTags: [], RepoDigests: [] },
    ],
    { trunc: true, digests: false, now: NOW },
  );
  assert.deepEqual(
    rows.map((r) => [r.Repository, r.Tag, r.ID, r.CreatedSince, r.Size]),
    [
      ['busybox', 'latest', 'bbbbbbbbbbbb', '3 days ago', '4.26MB'],
      ['busybox', '1.36', 'bbbbbbbbbbbb', '3 days ago', '4.26MB'],
      ['<none>', '<none>', 'bbbbbbbbbbbb', '3 days ago', '4.26MB'],
    ],
  );
  const withDigests = imageRows([{ ...base, RepoTags: ['busybox:latest'], RepoDigests: ['busybox@sha256:' + 'c'.repeat(64)] }], {
    trunc: false, digests: true, now: NOW,
  });
  assert.equal(withDigests[0]!.Digest, 'sha256:' + 'c'.repeat(64));
  assert.equal(withDigests[0]!.ID, base.Id);
});

test('history rows', () => {
  const row = historyRow({ Id: '<missing>', Created: NOW / 1000 - 60, CreatedBy: '/bin/sh -c #(nop)\tCMD ["sh"] and a long tail of text', Tags: null, Size: 0, Comment: 'c' }, {
    trunc: true, human: true, now: NOW,
  });
  assert.equal(row.ID, '<missing>');
  assert.equal(row.CreatedSince, 'About a minute ago');
  assert.equal(row.CreatedBy, '/bin/sh -c #(nop) CMD ["sh"] and a long tail…');
  assert.equal(row.Size, '0B');
});

test('event lines', () => {
  const line = formatEventLine(
    { Type: 'container', Action: 'start', Actor: { ID: 'abc', Attributes: { name: 'x', image: 'busybox' } }, scope: 'local', time: 1704103200, timeNano: 1704103200123456789 },
    '1704103200123456789',
    60,
  );
  assert.equal(line, '2024-01-01T11:00:00.123456789+01:00 container start abc (image=busybox, name=x)\n');
  const utc = formatEventLine({ Type: 'image', Action: 'tag', Actor: { ID: 'sha256:1', Attributes: {} }, scope: 'local', time: 1704103200, timeNano: 0 }, undefined, 0);
  assert.equal(utc, '2024-01-01T10:00:00.000000000Z image tag sha256:1\n');
});

test('version layout and inspect JSON', () => {
  assert.equal(reformatDate('2023-07-21T20:35:45.000000000+00:00'), 'Fri Jul 21 20:35:45 2023');
  const text = versionText({ Version: '0.1.0', APIVersion: '1.43', GoVersion: 'v20', GitCommit: 'x', BuildTime: '', Os: 'linux', Arch: 'amd64', Context: 'default' }, undefined);
  assert.ok(text.startsWith('Client:\n Version:           0.1.0\n API version:       1.43\n'));
  assert.equal(indentJson([]), '[]\n');
  assert.equal(indentJson([{ a: '<&>', b: [] }]), '[\n    {\n        "a": "\\u003c\\u0026\\u003e",\n        "b": []\n    }\n]\n');
});
