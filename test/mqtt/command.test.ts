// Per-still focus in the capture command: lens_position and autofocus are accepted and checked; HDR is not
// a per-still option.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseCommand } from '../../src/mqtt/command.ts';

const parse = (o: unknown) => parseCommand(Buffer.from(JSON.stringify(o)));

describe('capture command: focus options', () => {
  test('lens_position (dioptres) and autofocus reach the capture options', () => {
    assert.deepEqual(parse({ camera: 'garden', lens_position: 2 }), { ok: true, camera: 'garden', options: { lensPosition: 2 } });
    assert.deepEqual(parse({ lens_position: 0 }), { ok: true, options: { lensPosition: 0 } }, '0 (infinity) is a position, not "unset"');
    assert.deepEqual(parse({ autofocus: true, exposure: 'night' }), { ok: true, options: { exposure: 'night', autofocus: true } });
    assert.deepEqual(parse({ autofocus: false }), { ok: true, options: { autofocus: false } });
  });

  test('out of range, wrong types and the contradiction are invalid_option; hdr is unknown_option', () => {
    for (const bad of [{ lens_position: -1 }, { lens_position: 33 }, { lens_position: 'near' }, { autofocus: 'yes' }, { autofocus: true, lens_position: 1 }]) {
      const r = parse({ id: 'x', ...bad });
      assert.equal(r.ok, false, JSON.stringify(bad));
      if (!r.ok) {
        assert.equal(r.error, 'invalid_option', JSON.stringify(bad));
        assert.equal(r.id, 'x');
      }
    }
    const hdr = parse({ hdr: 'sensor' });
    assert.equal(hdr.ok, false);
    if (!hdr.ok) assert.equal(hdr.error, 'unknown_option');
  });
});
