// Unit tests for container prune: filter validation, which containers are candidates (stopped
// only, by until and label / label!), the report (SizeRw summed, conflicts skipped, one prune
// event), and system prune's question as docker 28 words it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { conflict } from '../../src/errdefs/errors.js';
import { containerPruneCandidates, ContainerPruner, parseContainerPruneFilters } from '../../src/containers/prune.js';
import type { ContainerRecord } from '../../src/containers/record.js';
import { systemPruneWarning } from '../../src/cli/commands/prune.js';

const NOW = new Date('2026-01-10T00:00:00Z');

function record(id: string, state: Partial<ContainerRecord['state']>, options: { created?: string; labels?: Record<string, string> } = {}): ContainerRecord {
  return {
    id, created: options.created ?? '2026-01-01T00:00:00Z', config: { Labels: options.labels ?? {} },
    state: { Status: 'exited', Running: false, Paused: false, Restarting: false, Dead: false, ...state },
  } as unknown as ContainerRecord;
}

const filters = (entries: Record<string, string[]>) => new Map(Object.entries(entries));
const ids = (records: ContainerRecord[]) => records.map((item) => item.id);

describe('container prune filters', () => {
  it('accepts until, label and label! only, with Docker wording', () => {
    assert.throws(() => parseContainerPruneFilters(filters({ status: ['exited'] }), NOW), /invalid filter 'status'/);
    assert.throws(() => parseContainerPruneFilters(filters({ until: ['1h', '2h'] }), NOW), /more than one until filter specified/);
    assert.throws(() => parseContainerPruneFilters(filters({ until: ['soon'] }), NOW), /invalid value for 'until' filter/);
    assert.equal(parseContainerPruneFilters(filters({ until: ['24h'] }), NOW).until, NOW.getTime() / 1000 - 86400);
  });

  it('takes stopped containers only: created, exited and dead, never running, paused or restarting', () => {
    const records = [
      record('created', { Status: 'created' }), record('exited', {}), record('dead', { Status: 'dead', Dead: true }),
      record('running', { Status: 'running', Running: true }), record('paused', { Status: 'paused', Running: true, Paused: true }),
      record('restarting', { Status: 'restarting', Running: true, Restarting: true }),
    ];
    assert.deepEqual(ids(containerPruneCandidates(records, parseContainerPruneFilters(new Map(), NOW))), ['created', 'exited', 'dead']);
  });

  it('until keeps newer containers; label and label! select on config labels', () => {
    const records = [
      record('old', {}, { created: '2026-01-01T00:00:00Z', labels: { tier: 'web' } }),
      record('new', {}, { created: '2026-01-09T23:00:00Z', labels: { tier: 'db' } }),
      record('plain', {}),
    ];
    const select = (entries: Record<string, string[]>) => ids(containerPruneCandidates(records, parseContainerPruneFilters(filters(entries), NOW)));
    assert.deepEqual(select({ until: ['24h'] }), ['old', 'plain']);
    assert.deepEqual(select({ label: ['tier'] }), ['old', 'new']);
    assert.deepEqual(select({ label: ['tier=db'] }), ['new']);
    assert.deepEqual(select({ 'label!': ['tier=db'] }), ['old', 'plain']);
  });
});

describe('ContainerPruner', () => {
  it('removes the candidates, sums their SizeRw, skips conflicts and publishes one prune event', async () => {
    const removed: string[] = [];
    const events: Array<[string, string, string, Record<string, string> | undefined]> = [];
    const pruner = new ContainerPruner({
      all: () => [record('a', {}), record('busy', {}), record('b', { Status: 'running', Running: true }), record('c', {})],
      sizes: async (item) => ({ SizeRw: item.id === 'a' ? 100 : 20, SizeRootFs: 0 }),
      remove: async (id) => {
        if (id === 'busy') throw conflict('You cannot remove a running container busy.');
        removed.push(id);
      },
    }, (type, action, id, attributes) => events.push([type, action, id, attributes]));
    assert.deepEqual(await pruner.prune(new Map(), NOW), { ContainersDeleted: ['a', 'c'], SpaceReclaimed: 120 });
    assert.deepEqual(removed, ['a', 'c']);
    assert.deepEqual(events, [['container', 'prune', '', { reclaimed: '120' }]]);
  });
});

describe('system prune warning', () => {
  it('lists what berth removes, as docker 28 words it', () => {
    assert.equal(systemPruneWarning({ all: false, volumes: false, filters: [] }),
      'WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n  - all dangling images\n\nAre you sure you want to continue?');
    assert.equal(systemPruneWarning({ all: true, volumes: true, filters: ['label=a'] }),
      'WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n  - all anonymous volumes not used by at least one container\n'
      + '  - all images without at least one container associated to them\n\n  Items to be pruned will be filtered with:\n  - label=a\n\nAre you sure you want to continue?');
  });
});
