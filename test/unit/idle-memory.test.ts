// Unit tests for berthd's idle collection (src/daemon/memory.ts): a full collection once the API
// has been quiet after work, none while requests keep coming or when the heap did not grow.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { IdleCollector, memoryLine } from '../../src/daemon/memory.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An object nothing refers to, and whether the collector has reclaimed it yet. */
function garbage(): { collected: () => boolean; registry: FinalizationRegistry<string> } {
  let collected = false;
  const registry = new FinalizationRegistry(() => { collected = true; });
  let held: object | undefined = { payload: new Array(10_000).fill('x') };
  registry.register(held, 'payload');
  // Held through a few scavenges, it is promoted to the old generation: from then on only a
  // full collection reclaims it, never the young generation's own.
  let churn: object[] = [];
  for (let i = 0; i < 300_000; i++) {
    churn.push({ i });
    if (churn.length > 1000) churn = [];
  }
  held = undefined;
  // The registry must outlive the object, or it never calls back.
  return { collected: () => collected, registry };
}

async function collectedWithin(ms: number, object: { collected: () => boolean }): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(10)) if (object.collected()) return true;
  return object.collected();
}

describe('idle collection', () => {
  it('collects once requests have been quiet for its wait', async () => {
    const collector = new IdleCollector(50, 0);
    const object = garbage();
    collector.settled();
    assert.equal(await collectedWithin(500, object), true);
  });

  it('waits while requests keep ending, and needs the heap to have grown', async () => {
    const busy = new IdleCollector(600, 0);
    const object = garbage();
    for (let i = 0; i < 5; i++) {
      busy.settled();
      await sleep(50);
    }
    assert.equal(object.collected(), false, 'collected before the API was quiet');
    const unchanged = new IdleCollector(20, Number.MAX_SAFE_INTEGER);
    unchanged.settled();
    await sleep(100);
    assert.equal(object.collected(), false, 'collected though the heap did not grow');
    assert.equal(await collectedWithin(2000, object), true);
  });

  it('logs RSS and the heap in MB', () => {
    assert.match(memoryLine(), /^memory rss=\d+\.\d anon=\d+\.\d file=\d+\.\d heap=\d+\.\d .*old_space=\d+\.\d/);
  });
});
