// The app's local clock (src/clock.ts): day folders and local times in one zone.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { LocalClock, isoWithOffset, localDay, localHour } from '../src/clock.ts';

describe('local time', () => {
  test('the day folder is the local day in the zone', () => {
    const late = new Date('2026-11-23T23:30:00.000Z');
    assert.equal(localDay(late, 'UTC'), '2026-11-23');
    assert.equal(localDay(late, 'Europe/Berlin'), '2026-11-24'); // 00:30 CET
    assert.equal(localDay(late, 'America/New_York'), '2026-11-23');
    assert.equal(localHour(late, 'Europe/Berlin'), 0);
    assert.equal(localHour(late, 'UTC'), 23);
  });

  test('isoWithOffset carries the offset, including DST and half-hour zones', () => {
    assert.equal(isoWithOffset(new Date('2026-11-23T20:08:04.123Z'), 'Europe/Berlin'), '2026-11-23T21:08:04.123+01:00');
    assert.equal(isoWithOffset(new Date('2026-07-01T12:00:00.000Z'), 'Europe/Berlin'), '2026-07-01T14:00:00.000+02:00');
    assert.equal(isoWithOffset(new Date('2026-07-01T12:00:00.007Z'), 'America/Los_Angeles'), '2026-07-01T05:00:00.007-07:00');
    assert.equal(isoWithOffset(new Date('2026-01-01T00:00:00.000Z'), 'Asia/Kolkata'), '2026-01-01T05:30:00.000+05:30');
    assert.equal(isoWithOffset(new Date('2026-01-01T00:00:00.000Z'), 'UTC'), '2026-01-01T00:00:00.000+00:00');
    // Midnight stays hour 00 (some ICU builds print 24).
    assert.equal(isoWithOffset(new Date('2026-01-01T23:00:00.000Z'), 'Europe/Berlin'), '2026-01-02T00:00:00.000+01:00');
    // The string parses back to the same instant.
    const d = new Date('2026-03-29T01:30:00.456Z'); // just after the spring-forward in Berlin
    assert.equal(new Date(isoWithOffset(d, 'Europe/Berlin')).getTime(), d.getTime());
  });

  test('the DST fall-back hour repeats the local hour', () => {
    const clock = new LocalClock('Europe/Berlin');
    // 2026-10-25: 03:00 CEST becomes 02:00 CET; both instants below are local 02:30.
    assert.equal(clock.hour(new Date('2026-10-25T00:30:00Z')), 2);
    assert.equal(clock.hour(new Date('2026-10-25T01:30:00Z')), 2);
    assert.equal(clock.iso(new Date('2026-10-25T00:30:00Z')), '2026-10-25T02:30:00.000+02:00');
    assert.equal(clock.iso(new Date('2026-10-25T01:30:00Z')), '2026-10-25T02:30:00.000+01:00');
  });

  test('no zone means the system zone; unknown zones throw', () => {
    assert.equal(new LocalClock().timeZone, new Intl.DateTimeFormat().resolvedOptions().timeZone);
    assert.throws(() => new LocalClock('Mars/Olympus'), RangeError);
  });
});
