// Unit tests for image prune: Docker's filter validation and matching (dangling, until,
// label / label!), which images are candidates (never one a container uses), and the report:
// names removed one by one, conflicts skipped, space counted from the deleted layers only.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { conflict, EngineError } from '../../src/errdefs/errors.js';
import type { ImageConfigFile } from '../../src/wire/types.js';
import { ImagePruner, parsePruneFilters, pruneCandidates } from '../../src/images/prune.js';
import { matchLabelList } from '../../src/util/filters.js';
import type { DeleteResult, ImageRecord } from '../../src/images/service.js';

const NOW = new Date('2024-06-01T12:00:00Z');

function record(id: string, options: { tags?: string[]; digests?: string[]; created?: string; labels?: Record<string, string> | null } = {}): ImageRecord {
  const config: ImageConfigFile = {
    architecture: 'amd64', os: 'linux', created: options.created ?? '2024-06-01T00:00:00Z',
    config: { Labels: options.labels === undefined ? null : options.labels } as ImageConfigFile['config'],
    rootfs: { type: 'layers', diff_ids: [] },
  };
  return { id: `sha256:${id.padEnd(64, '0')}`, config, topChainId: null, repoTags: options.tags ?? [], repoDigests: options.digests ?? [], lastTagTime: '' };
}

const filters = (entries: Record<string, string[]>) => new Map(Object.entries(entries));
const ids = (list: Array<{ record: ImageRecord }>) => list.map((entry) => entry.record.id.slice(7, 8));

describe('prune filters', () => {
  it('validates keys and values with Docker wording', () => {
    assert.equal(parsePruneFilters(filters({}), NOW).danglingOnly, true);
    assert.equal(parsePruneFilters(filters({ dangling: ['false'] }), NOW).danglingOnly, false);
    assert.equal(parsePruneFilters(filters({ dangling: ['1', 'true'] }), NOW).danglingOnly, true);
    const badRequest = (entries: Record<string, string[]>, message: RegExp) => assert.throws(() => parsePruneFilters(filters(entries), NOW),
      (error: unknown) => error instanceof EngineError && error.kind === 'invalid-parameter' && message.test(error.message));
    badRequest({ foo: ['bar'] }, /^invalid filter 'foo'$/);
    badRequest({ dangling: ['true', 'false'] }, /^invalid filter 'dangling=\[true false\]'$/);
    badRequest({ dangling: ['maybe'] }, /^invalid filter 'dangling=\[maybe\]'$/);
    badRequest({ until: ['1h', '2h'] }, /^more than one until filter specified$/);
    badRequest({ until: ['soon'] }, /^invalid value for 'until' filter: /);
  });

  it('reads until as a duration before now or a timestamp', () => {
    assert.equal(parsePruneFilters(filters({ until: ['1h'] }), NOW).until, Date.parse('2024-06-01T11:00:00Z') / 1000);
    assert.equal(parsePruneFilters(filters({ until: ['1717200000'] }), NOW).until, 1717200000);
    assert.equal(parsePruneFilters(filters({ until: ['2024-05-01T00:00:00Z'] }), NOW).until, Date.parse('2024-05-01T00:00:00Z') / 1000);
  });

  it('matches label lists as filters.MatchKVList does', () => {
    assert.equal(matchLabelList([], {}), true);
    assert.equal(matchLabelList(['a'], {}), false);
    assert.equal(matchLabelList(['a'], { a: '1' }), true);
    assert.equal(matchLabelList(['a=1', 'b'], { a: '1', b: '' }), true);
    assert.equal(matchLabelList(['a=2'], { a: '1' }), false);
    assert.equal(matchLabelList(['a=1=x'], { a: '1=x' }), true);
  });
});

describe('prune candidates', () => {
  const images = [
    record('a'),
    record('b', { tags: ['busybox:latest'] }),
    record('c', { digests: ['me/app@sha256:' + 'c'.repeat(64)] }),
    record('d', { created: '2024-06-01T11:30:00Z', labels: { keep: 'yes' } }),
    record('e', { labels: { tier: 'db', keep: 'no' } }),
    record('f'),
  ];
  const usedByContainer = (id: string) => id.startsWith('sha256:f');

  it('takes untagged images (digest references alone do not keep one) that no container uses', () => {
    assert.deepEqual(ids(pruneCandidates(images, parsePruneFilters(filters({}), NOW), usedByContainer)), ['a', 'c', 'd', 'e']);
    const digestOnly = pruneCandidates(images, parsePruneFilters(filters({}), NOW), usedByContainer).find((entry) => entry.record.id.startsWith('sha256:c'));
    assert.deepEqual(digestOnly?.names, ['me/app@sha256:' + 'c'.repeat(64)]);
  });

  it('takes every unused image with dangling=false, by its names', () => {
    const all = pruneCandidates(images, parsePruneFilters(filters({ dangling: ['false'] }), NOW), usedByContainer);
    assert.deepEqual(ids(all), ['a', 'b', 'c', 'd', 'e']);
    assert.deepEqual(all.find((entry) => entry.record.id.startsWith('sha256:b'))?.names, ['busybox:latest']);
  });

  it('keeps images created after until and applies label and label!', () => {
    assert.deepEqual(ids(pruneCandidates(images, parsePruneFilters(filters({ until: ['1h'] }), NOW), usedByContainer)), ['a', 'c', 'e']);
    assert.deepEqual(ids(pruneCandidates(images, parsePruneFilters(filters({ label: ['keep'] }), NOW), usedByContainer)), ['d', 'e']);
    assert.deepEqual(ids(pruneCandidates(images, parsePruneFilters(filters({ label: ['keep=yes'] }), NOW), usedByContainer)), ['d']);
    assert.deepEqual(ids(pruneCandidates(images, parsePruneFilters(filters({ 'label!': ['keep=yes'] }), NOW), usedByContainer)), ['a', 'c', 'e']);
    assert.deepEqual(ids(pruneCandidates(images, parsePruneFilters(filters({ 'label!': ['keep', 'tier'] }), NOW), usedByContainer)), ['a', 'c', 'd']);
  });
});

describe('ImagePruner', () => {
  function setup(list: ImageRecord[], results: Record<string, DeleteResult[] | 'conflict'>) {
    const removed: string[] = [];
    const events: Array<{ action: string; attributes: Record<string, string> | undefined }> = [];
    const pruner = new ImagePruner({
      images: {
        list: () => list,
        remove: async (ref) => {
          removed.push(ref);
          const result = results[ref];
          if (result === 'conflict') throw conflict('conflict: unable to delete');
          return result ?? [];
        },
      },
      layers: { list: () => [{ chainId: 'sha256:layer1', size: 1000 }, { chainId: 'sha256:layer2', size: 234 }] },
      publish: (_type, action, _id, attributes) => events.push({ action, attributes }),
    });
    return { pruner, removed, events };
  }

  it('removes by name then by ID, skips conflicts and counts only deleted layers', async () => {
    const a = record('a');
    const b = record('b', { tags: ['x:1', 'x:2'] });
    const { pruner, removed, events } = setup([a, b], {
      [a.id]: [{ Deleted: a.id }, { Deleted: 'sha256:layer1' }],
      'x:1': [{ Untagged: 'x:1' }],
      'x:2': 'conflict',
    });
    const report = await pruner.prune(filters({ dangling: ['false'] }), () => false, NOW);
    assert.deepEqual(removed, [a.id, 'x:1', 'x:2']);
    assert.deepEqual(report, { ImagesDeleted: [{ Deleted: a.id }, { Deleted: 'sha256:layer1' }, { Untagged: 'x:1' }], SpaceReclaimed: 1000 });
    assert.deepEqual(events, [{ action: 'prune', attributes: { reclaimed: '1000' } }]);
  });

  it('answers null ImagesDeleted when nothing goes, and refuses a second prune at once', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const slow = record('s');
    const pruner = new ImagePruner({
      images: { list: () => [slow], remove: async () => { await gate; return []; } },
      layers: { list: () => [] },
      publish: () => undefined,
    });
    const first = pruner.prune(filters({}), () => false, NOW);
    await assert.rejects(pruner.prune(filters({}), () => false, NOW), (error: unknown) => error instanceof EngineError && error.kind === 'conflict');
    release();
    assert.deepEqual(await first, { ImagesDeleted: null, SpaceReclaimed: 0 });
  });
});
