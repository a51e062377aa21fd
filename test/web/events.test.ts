// The live-update hub against real sockets: a client that stops reading is dropped, not buffered forever.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { test } from 'node:test';
import express from 'express';
import { EventHub, MAX_UNSENT_BYTES } from '../../src/web/events.ts';
import { until } from '../helpers/setup.ts';

test('a stream that is never read is dropped once its unsent data passes the bound; readers keep theirs', async () => {
  const hub = new EventHub(new EventEmitter() as never, { maxClients: 10 });
  const app = express();
  app.get('/events', (_req, res) => void hub.add(res));
  const server = http.createServer(app).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as net.AddressInfo;
  hub.start();
  try {
    // The stalled client: connects, then never reads (its kernel buffers fill, then ours would).
    const stalled = net.connect(port, '127.0.0.1');
    stalled.write('GET /events HTTP/1.1\r\nHost: x\r\n\r\n');
    stalled.pause();
    let reader = '';
    http.get(`http://127.0.0.1:${port}/events`, (res) => res.setEncoding('utf8').on('data', (c: string) => (reader += c)));
    await until(() => hub.size === 2, 3000, 'two streams');

    const payload = { note: 'x'.repeat(1000) };
    let sent = 0;
    while (hub.size === 2 && sent < 50_000) {
      hub.broadcast('captured', payload);
      sent++;
      await new Promise((r) => setImmediate(r)); // events come one at a time; the reader drains in between
    }
    assert.equal(hub.size, 1, `the stalled stream is dropped (after ${sent} events of ~1 KB)`);
    assert.ok(sent * 1000 > MAX_UNSENT_BYTES, 'only after the bound was passed');
    hub.broadcast('captured', { last: true });
    await until(() => reader.includes('"last":true'), 3000, 'the reader to get the last event');
    stalled.destroy();
  } finally {
    hub.stop();
    server.closeAllConnections();
    server.close();
  }
});
