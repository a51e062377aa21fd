import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { createApp } from '../src/app.ts';
import { Lifecycle, type Part } from '../src/lifecycle.ts';
import { instantCamera } from './helpers/mqtt.ts';
import { freePort, makeJpeg, memoryLogger, quietLogger, testConfig } from './helpers/setup.ts';

function part(name: string, log: string[], opts: { failStart?: boolean; failStop?: boolean } = {}): Part {
  return {
    name,
    async start() {
      log.push(`start ${name}`);
      if (opts.failStart) throw Object.assign(new Error(`${name} cannot start`), { code: 'EADDRINUSE' });
    },
    async stop() {
      log.push(`stop ${name}`);
      if (opts.failStop) throw new Error(`${name} cannot stop`);
    },
  };
}

/** Resolves true when `port` on loopback accepts a listener (nothing holds it). */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

describe('lifecycle: start in order, stop in reverse', () => {
  it('starts in order and stops in reverse; absent parts are skipped', async () => {
    const log: string[] = [];
    const life = new Lifecycle([part('a', log), undefined, false, part('b', log), part('c', log)], quietLogger());
    await life.start();
    await life.stop();
    assert.deepEqual(log, ['start a', 'start b', 'start c', 'stop c', 'stop b', 'stop a']);
    await life.stop(); // twice is harmless
    assert.equal(log.length, 6);
  });

  it('a part that fails to start: those already started stop in reverse, the rest never start, the error is rethrown', async () => {
    const log: string[] = [];
    const life = new Lifecycle([part('lock', log), part('broker', log), part('web', log, { failStart: true }), part('scheduler', log)], quietLogger());
    await assert.rejects(life.start(), (err: NodeJS.ErrnoException) => err.code === 'EADDRINUSE');
    assert.deepEqual(log, ['start lock', 'start broker', 'start web', 'stop broker', 'stop lock']);
  });

  it('a part that fails to stop is logged once with its name, and the others still stop', async () => {
    const log: string[] = [];
    const mem = memoryLogger();
    const life = new Lifecycle([part('lock', log), part('mqtt', log, { failStop: true }), part('web', log)], mem.logger);
    await life.start();
    await life.stop();
    assert.deepEqual(log.slice(3), ['stop web', 'stop mqtt', 'stop lock']);
    const errors = mem.lines().filter((l) => l.level === 50);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.part, 'mqtt');
  });
});

describe('app: a failed start undoes what already started', () => {
  it('web port taken after the embedded broker is up: start rejects, the broker port and the data dir are free again', async () => {
    const [brokerPort, webPort] = [await freePort(), await freePort()];
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(webPort, '127.0.0.1', r));
    try {
      const config = testConfig({
        MONCAM_BROKER_ENABLED: 'true',
        MONCAM_BROKER_HOST: '127.0.0.1',
        MONCAM_BROKER_PORT: String(brokerPort),
        MONCAM_WEB_HOST: '127.0.0.1',
        MONCAM_WEB_PORT: String(webPort),
        MONCAM_SCHEDULE_ENABLED: 'false',
      });
      const app = await createApp({ config, logger: quietLogger(), camera: instantCamera(await makeJpeg()) });
      await assert.rejects(app.start(), (err: NodeJS.ErrnoException) => err.code === 'port_in_use');
      assert.equal(await portFree(brokerPort), true, 'the broker stopped listening');
      // The data-dir lock was released: a second app on the same dir starts once the port is free.
      await new Promise<void>((r) => blocker.close(() => r()));
      const again = await createApp({ config, logger: quietLogger(), camera: instantCamera(await makeJpeg()) });
      await again.start();
      await again.stop();
      assert.equal(await portFree(brokerPort), true);
      assert.equal(await portFree(webPort), true);
    } finally {
      blocker.close();
    }
  });
});
