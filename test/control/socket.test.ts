// The control socket on its own: bounded requests, mode 0600, a leftover socket file replaced.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { describe, test } from 'node:test';
import pino from 'pino';
import type { CaptureRecord } from '../../src/capture/service.ts';
import { ControlServer, controlSocketPath, requestCapture } from '../../src/control/socket.ts';
import { tempDir } from '../helpers/setup.ts';

function send(file: string, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection(file, () => s.write(data));
    let text = '';
    s.on('data', (c: Buffer) => (text += c));
    s.on('end', () => resolve(text));
    s.on('error', reject);
  });
}

describe('control socket', () => {
  test('answers a capture; refuses other lines and oversized ones without taking a still; 0600; replaces a leftover file', async () => {
    const dataDir = tempDir();
    fs.mkdirSync(`${dataDir}/private`, { mode: 0o700 });
    fs.writeFileSync(controlSocketPath(dataDir), 'left by a killed daemon');
    let stills = 0;
    const captures = {
      capture: async () => {
        stills++;
        return { capture: { id: 'x', files: { original: '/data/x.jpg' }, bytes: 10, meta: { full_width: 4, full_height: 3 } } } as unknown as CaptureRecord;
      },
    };
    const server = new ControlServer({ dataDir, captures, backend: 'fake', logger: pino({ level: 'silent' }) });
    await server.start();
    try {
      const file = controlSocketPath(dataDir);
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      assert.deepEqual(await requestCapture(dataDir), { ok: true, id: 'x', path: '/data/x.jpg', width: 4, height: 3, bytes: 10, backend: 'fake' });
      assert.equal(JSON.parse(await send(file, '{"command":"format"}\n')).error.code, 'bad_request');
      assert.equal(JSON.parse(await send(file, 'x'.repeat(5000))).error.code, 'bad_request', 'no newline within 1 KiB');
      assert.equal(stills, 1);
    } finally {
      await server.stop();
    }
    assert.equal(await requestCapture(dataDir), undefined, 'nobody listening: undefined (the CLI takes the still itself)');
  });
});
