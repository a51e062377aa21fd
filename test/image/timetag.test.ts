import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LocalClock } from '../../src/clock.ts';
import { drawTimeTag, timeTagText } from '../../src/image/timetag.ts';

test('the time tag is the local wall clock of the app clock’s zone, to the second', () => {
  const at = new Date('2026-03-29T00:59:59.900Z'); // one second before the EU switch to summer time
  assert.equal(timeTagText(at, new LocalClock('UTC')), '2026-03-29 00:59:59');
  assert.equal(timeTagText(at, new LocalClock('Europe/Berlin')), '2026-03-29 01:59:59');
  assert.equal(timeTagText(new Date('2026-03-29T01:00:00Z'), new LocalClock('Europe/Berlin')), '2026-03-29 03:00:00');
  assert.equal(timeTagText(new Date('2026-12-31T23:30:00Z'), new LocalClock('Asia/Kolkata')), '2027-01-01 05:00:00');
});

test('the tag darkens a box at the bottom and draws lit glyph pixels inside it, nowhere else', () => {
  const w = 200;
  const h = 60;
  const pixels = Buffer.alloc(w * h * 3, 128);
  drawTimeTag(pixels, w, h, 3, '12:00', { scale: 2 });
  const at = (x: number, y: number) => pixels[(y * w + x) * 3]!;
  assert.equal(at(w - 1, 0), 128, 'outside the box: untouched');
  assert.ok(at(1, h - 1) < 128, 'the box is darkened');
  let lit = 0;
  for (let y = h - 20; y < h; y++) for (let x = 0; x < 80; x++) if (at(x, y) > 200) lit++;
  assert.ok(lit > 20, `glyphs are drawn (${lit} lit pixels)`);
});
