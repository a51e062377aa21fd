import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { NextFunction, Request, Response } from 'express';
import { sessionGate } from '../../src/web/auth.ts';

function run(session: Record<string, unknown>, opts = { sessionMaxMs: 10_000, idleMs: 1_000 }) {
  let destroyed = false;
  let nexted = false;
  const s: Record<string, unknown> = { ...session, destroy: (cb: () => void) => ((destroyed = true), cb()) };
  sessionGate(opts)({ session: s } as unknown as Request, {} as Response, (() => (nexted = true)) as NextFunction);
  return { destroyed, nexted, session: s };
}

describe('session expiry', () => {
  const now = Date.now();
  test('a fresh session passes and records lastSeen (to the minute)', () => {
    const r = run({ loginAt: now - 100, lastSeen: now - 70_000 }, { sessionMaxMs: 1e9, idleMs: 1e9 });
    assert.equal(r.destroyed, false);
    assert.equal(r.nexted, true);
    assert.ok((r.session.lastSeen as number) >= now);
  });
  test('idle too long: destroyed', () => {
    assert.equal(run({ loginAt: now - 5_000, lastSeen: now - 2_000 }).destroyed, true);
  });
  test('absolute expiry even when active', () => {
    assert.equal(run({ loginAt: now - 20_000, lastSeen: now }).destroyed, true);
  });
  test('no login: nothing to expire', () => {
    const r = run({});
    assert.equal(r.destroyed, false);
    assert.equal(r.nexted, true);
  });
});
