import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { addDays, captureId, fileName, isCaptureId, isDay, parseCaptureId, parseFileName } from '../../src/storage/layout.ts';
import { isTempName, tempName } from '../../src/storage/atomic.ts';

describe('capture ids', () => {
  test('round-trip and sort by time', () => {
    const d = new Date('2026-11-23T20:08:04.123Z');
    assert.equal(captureId(d), '20261123T200804.123Z');
    assert.equal(parseCaptureId('20261123T200804.123Z')?.getTime(), d.getTime());
    const later = captureId(new Date('2027-01-01T00:00:00.000Z'));
    assert.ok(captureId(d) < later);
    assert.ok(isCaptureId('19991231T235959.999Z'));
  });

  test('reject garbage, impossible dates and path traversal', () => {
    for (const bad of [
      '',
      '../20261123T200804.123Z',
      '20261123T200804.123Z/../../etc/passwd',
      '..%2F20261123T200804.123Z',
      '20261123T200804.123Z.jpg',
      '20261123T200804123Z',
      '20261123T200804.123',
      '20261323T200804.123Z', // month 13
      '20260230T200804.123Z', // Feb 30
      '20261123T240000.000Z',
      '20261123t200804.123z',
      ' 20261123T200804.123Z',
      '20261123T200804.123Z\n',
      '2026-11-23T20:08:04.123Z',
    ]) {
      assert.equal(parseCaptureId(bad), undefined, bad);
      assert.equal(isCaptureId(bad), false, bad);
    }
    assert.equal(isCaptureId(42), false);
  });

  test('captureId refuses invalid dates and years it cannot name', () => {
    assert.throws(() => captureId(new Date(NaN)), RangeError);
    assert.throws(() => captureId(new Date('+012345-01-01T00:00:00Z')), RangeError);
  });
});

describe('days', () => {
  test('isDay and addDays', () => {
    assert.ok(isDay('2026-02-28'));
    assert.ok(isDay('2028-02-29'));
    for (const bad of ['2026-02-29', '2026-13-01', '2026-1-01', '../2026-01-01', '2026-01-01/', '', 'x']) assert.equal(isDay(bad), false, bad);
    assert.equal(addDays('2026-03-01', -1), '2026-02-28');
    assert.equal(addDays('2026-12-31', 1), '2027-01-01');
    assert.equal(addDays('2026-01-10', -30), '2025-12-11');
    assert.throws(() => addDays('nope', 1), RangeError);
  });
});

describe('file names', () => {
  test('capture files parse back; temp files and strangers do not', () => {
    const id = '20261123T200804.123Z';
    for (const kind of ['original', 'thumb', 'preview', 'meta'] as const) {
      assert.deepEqual(parseFileName(fileName(id, kind)), { id, kind });
    }
    const tmp = tempName(fileName(id, 'original'));
    assert.ok(tmp.startsWith('.') && isTempName(tmp), tmp);
    assert.equal(parseFileName(tmp), undefined);
    assert.notEqual(tempName('a'), tempName('a'));
    for (const other of ['notes.txt', `${id}.png`, `${id}.thumb.png`, '20261323T200804.123Z.jpg', `x${id}.jpg`]) {
      assert.equal(parseFileName(other), undefined, other);
    }
    assert.equal(isTempName(fileName(id, 'original')), false);
  });
});
