import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ImageCache } from '../../src/web/images.ts';

test('the image cache is bounded by bytes: oldest out first, a hit is made newest, re-setting a key counts once', () => {
  const cache = new ImageCache(1000);
  const b = (n: number) => Buffer.alloc(n);
  cache.set('a', b(400));
  cache.set('b', b(400));
  cache.set('a', b(400)); // the same key again: still 800 bytes held
  assert.ok(cache.get('b'), 'b kept: re-setting a did not count twice');
  // a is now the oldest (b was just read)
  cache.set('c', b(400));
  assert.equal(cache.get('a'), undefined, 'the least recently used goes first');
  assert.ok(cache.get('b'));
  assert.ok(cache.get('c'));
  cache.set('huge', b(1001));
  assert.equal(cache.get('huge'), undefined, 'larger than the whole budget: not cached');
  assert.ok(cache.get('b') && cache.get('c'), 'and nothing was evicted for it');
});
