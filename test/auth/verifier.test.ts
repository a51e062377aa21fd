// PasswordVerifier: one argon2 run at a time, a bounded queue ("busy" past it), and the accepted-password
// cache (Home Assistant's reconnects cost no run; a new hash or a wrong password never hits it).
// The argon2 function is a fake the test controls (counts calls, holds them open); one test uses real argon2.
import assert from 'node:assert/strict';
import argon2 from 'argon2';
import { describe, test } from 'node:test';
import { PasswordVerifier, VerifierBusyError } from '../../src/auth/verifier.ts';

/** A fake argon2 check: "$h$<password>" matches <password>; each call stays open until released. */
function gatedArgon2() {
  const g = {
    calls: 0,
    running: 0,
    maxRunning: 0,
    open: [] as Array<() => void>,
    verify: (hash: string, password: string): Promise<boolean> => {
      g.calls++;
      g.running++;
      g.maxRunning = Math.max(g.maxRunning, g.running);
      return new Promise((resolve) => {
        g.open.push(() => {
          g.running--;
          resolve(hash === `$h$${password}`);
        });
      });
    },
    /** Releases the running check (there is at most one) once it has started. */
    async releaseOne(): Promise<void> {
      await until(() => g.open.length > 0);
      g.open.shift()!();
    },
  };
  return g;
}

/** A fake argon2 that answers at once (after a turn of the event loop), counting calls. */
function instantArgon2() {
  const f = {
    calls: 0,
    verify: async (hash: string, password: string) => {
      f.calls++;
      await new Promise((r) => setImmediate(r));
      return hash === `$h$${password}`;
    },
  };
  return f;
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  assert.ok(cond(), 'condition not reached');
}

describe('PasswordVerifier: one check at a time', () => {
  test('20 parallel checks run one after another (max concurrency 1), in arrival order, each answered rightly', async () => {
    const a = gatedArgon2();
    const v = new PasswordVerifier({ verify: a.verify, maxQueue: 100 });
    const order: number[] = [];
    const results = Array.from({ length: 20 }, (_, i) => v.verify('$h$right', i === 7 ? 'right' : `wrong-${i}`).then((ok) => (order.push(i), ok)));
    for (let i = 0; i < 20; i++) {
      await a.releaseOne();
      assert.equal(a.running, 0);
    }
    const answers = await Promise.all(results);
    assert.equal(a.maxRunning, 1, 'never two argon2 runs at once');
    assert.equal(a.calls, 20);
    assert.equal(v.runs, 20);
    assert.deepEqual(
      order,
      Array.from({ length: 20 }, (_, i) => i),
    );
    assert.deepEqual(
      answers.map((ok, i) => (ok ? i : -1)).filter((i) => i >= 0),
      [7],
    );
  });

  test('a check that throws does not stall the queue', async () => {
    let n = 0;
    const v = new PasswordVerifier({
      verify: async (hash, password) => {
        if (n++ === 0) throw Object.assign(new Error('argon2 blew up'), { code: 'boom' });
        return hash === `$h$${password}`;
      },
    });
    const first = v.verify('$h$pw', 'pw');
    const second = v.verify('$h$pw', 'pw');
    await assert.rejects(first, { code: 'boom' });
    assert.equal(await second, true);
  });
});

describe('PasswordVerifier: bounded queue', () => {
  test('one running + 16 waiting are accepted; the next is refused at once with code busy; room frees as checks finish', async () => {
    const a = gatedArgon2();
    const v = new PasswordVerifier({ verify: a.verify });
    const running = v.verify('$h$right', 'wrong-0');
    await until(() => a.running === 1);
    const queued = Array.from({ length: 16 }, (_, i) => v.verify('$h$right', `wrong-${i + 1}`));
    const refused = await v.verify('$h$right', 'wrong-17').then(
      () => assert.fail('the 18th check was accepted'),
      (err: unknown) => err,
    );
    assert.ok(refused instanceof VerifierBusyError);
    assert.equal((refused as VerifierBusyError).code, 'busy');
    assert.equal(a.calls, 1, 'the refused check never reached argon2');

    await a.releaseOne(); // the first finishes, one waiting check starts: one place is free again
    assert.equal(await running, false);
    await until(() => a.running === 1);
    const late = v.verify('$h$right', 'right');
    await assert.rejects(v.verify('$h$right', 'wrong-18'), { code: 'busy' }, 'full again');
    for (let i = 0; i < 17; i++) await a.releaseOne();
    assert.deepEqual(await Promise.all(queued), Array(16).fill(false));
    assert.equal(await late, true);
    assert.equal(a.maxRunning, 1);
    assert.equal(v.runs, 18);
  });

  test('maxQueue is configurable', async () => {
    const a = gatedArgon2();
    const v = new PasswordVerifier({ verify: a.verify, maxQueue: 2 });
    const first = v.verify('$h$x', 'a');
    await until(() => a.running === 1);
    const waiting = [v.verify('$h$x', 'b'), v.verify('$h$x', 'c')];
    await assert.rejects(v.verify('$h$x', 'd'), VerifierBusyError);
    for (let i = 0; i < 3; i++) await a.releaseOne();
    await Promise.all([first, ...waiting]);
  });
});

describe('PasswordVerifier: accepted-password cache', () => {
  test('an accepted password is accepted again without a run, even while the queue is full', async () => {
    const a = gatedArgon2();
    const v = new PasswordVerifier({ verify: a.verify, maxQueue: 1 });
    const first = v.verify('$h$right', 'right');
    await a.releaseOne();
    assert.equal(await first, true);
    assert.equal(v.runs, 1);
    for (let i = 0; i < 100; i++) assert.equal(await v.verify('$h$right', 'right'), true);
    assert.equal(v.runs, 1, '100 reconnects, one argon2 run');
    assert.equal(a.calls, 1);

    // A storm of wrong guesses fills the queue; the known password still gets in.
    const storm = [v.verify('$h$right', 'guess-1')];
    await until(() => a.running === 1);
    storm.push(v.verify('$h$right', 'guess-2'));
    await assert.rejects(v.verify('$h$right', 'guess-3'), { code: 'busy' });
    assert.equal(await v.verify('$h$right', 'right'), true, 'cached: no queue place needed');
    await a.releaseOne();
    await a.releaseOne();
    assert.deepEqual(await Promise.all(storm), [false, false]);
  });

  test('a wrong password is never cached: every attempt runs', async () => {
    const f = instantArgon2();
    const v = new PasswordVerifier({ verify: f.verify });
    for (let i = 0; i < 5; i++) assert.equal(await v.verify('$h$right', 'wrong'), false);
    assert.equal(f.calls, 5);
    assert.equal(v.runs, 5);
  });

  test('a changed hash (moncam passwd) forgets the old password: it is checked again, and refused', async () => {
    const f = instantArgon2();
    const v = new PasswordVerifier({ verify: f.verify });
    assert.equal(await v.verify('$h$old-password', 'old-password'), true);
    assert.equal(await v.verify('$h$old-password', 'old-password'), true);
    assert.equal(f.calls, 1);
    assert.equal(await v.verify('$h$new-password', 'old-password'), false, 'the new hash does not accept the old password');
    assert.equal(f.calls, 2, 'checked, not taken from the cache');
    assert.equal(await v.verify('$h$new-password', 'new-password'), true);
    assert.equal(await v.verify('$h$new-password', 'new-password'), true);
    assert.equal(f.calls, 3);
  });

  test('the cache holds the last password per hash: a second right password for one hash replaces the first', async () => {
    // Only one password matches a real hash; the fake accepts two to show the cache keeps one entry per hash.
    const f = { calls: 0, verify: async () => (f.calls++, true) };
    const v = new PasswordVerifier({ verify: f.verify });
    await v.verify('$h$any', 'first');
    await v.verify('$h$any', 'second');
    await v.verify('$h$any', 'second');
    assert.equal(f.calls, 2);
    await v.verify('$h$any', 'first');
    assert.equal(f.calls, 3, 'the first was replaced');
  });

  test('a bounded number of hashes is remembered (web and MQTT hash, with room); older ones age out', async () => {
    const f = instantArgon2();
    const v = new PasswordVerifier({ verify: f.verify });
    for (let i = 0; i < 6; i++) await v.verify(`$h$pw-${i}`, `pw-${i}`);
    assert.equal(f.calls, 6);
    await v.verify('$h$pw-5', 'pw-5');
    assert.equal(f.calls, 6, 'a recent one is remembered');
    await v.verify('$h$pw-0', 'pw-0');
    assert.equal(f.calls, 7, 'the oldest aged out');
  });
});

describe('PasswordVerifier with real argon2 (low cost)', () => {
  test('the default check is argon2: right and wrong passwords, a malformed hash verifies nothing', async () => {
    const hash = await argon2.hash('garden-secret', { type: argon2.argon2id, memoryCost: 1024, timeCost: 1 });
    const v = new PasswordVerifier();
    assert.equal(await v.verify(hash, 'garden-secret'), true);
    assert.equal(await v.verify(hash, 'garden-secreT'), false);
    assert.equal(await v.verify('not-a-hash', 'garden-secret'), false);
    assert.equal(v.runs, 3);
  });
});
