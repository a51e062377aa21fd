// Live updates for open pages: capture events fanned out as server-sent events, with a bounded client count.
import type { Response } from 'express';
import type { CaptureFailure, CaptureRecord, CaptureService } from '../capture/service.ts';
import type { TimelapseRecord, TimelapseService } from '../timelapse/service.ts';
import { captureJson, timelapseJson } from './view.ts';

/** Events are ~300 bytes; this is hundreds of unread events. */
export const MAX_UNSENT_BYTES = 64 * 1024;

export class EventHub {
  private readonly captures: Pick<CaptureService, 'on' | 'off'>;
  private readonly timelapses?: Pick<TimelapseService, 'on' | 'off'>;
  private readonly maxClients: number;
  private readonly clients = new Set<Response>();
  private keepAlive?: NodeJS.Timeout;
  private readonly onCaptured = (r: CaptureRecord) =>
    this.broadcast('captured', { ...captureJson(r.capture), trigger: r.trigger, width: r.fullWidth, height: r.fullHeight, brightness: r.scene.brightness, change: r.scene.change ?? null, changed: r.scene.changed });
  private readonly onTimelapse = (t: TimelapseRecord) => this.broadcast('timelapse', timelapseJson({ ...t }, t.day));
  private readonly onFailed = (f: CaptureFailure) => this.broadcast('failed', { trigger: f.trigger, error: f.error.code, message: f.error.message, at: f.at.toISOString() });

  constructor(captures: Pick<CaptureService, 'on' | 'off'>, maxClients: number, timelapses?: Pick<TimelapseService, 'on' | 'off'>) {
    this.captures = captures;
    this.maxClients = maxClients;
    this.timelapses = timelapses;
  }

  get size(): number {
    return this.clients.size;
  }

  start(): void {
    this.captures.on('captured', this.onCaptured);
    this.captures.on('failed', this.onFailed);
    this.timelapses?.on('built', this.onTimelapse);
    // A comment line every 25 s keeps proxies and phones from closing idle streams.
    this.keepAlive = setInterval(() => this.write(':\n\n'), 25_000);
    this.keepAlive.unref();
  }

  stop(): void {
    clearInterval(this.keepAlive);
    this.captures.off('captured', this.onCaptured);
    this.captures.off('failed', this.onFailed);
    this.timelapses?.off('built', this.onTimelapse);
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  /** Returns false (and answers 503) when full. */
  add(res: Response): boolean {
    if (this.clients.size >= this.maxClients) {
      res.status(503).set('Retry-After', '30').json({ error: 'too_many_clients', message: 'too many live-update connections' });
      return false;
    }
    res.status(200).set({ 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' });
    res.flushHeaders();
    res.write('retry: 3000\n\n');
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
    return true;
  }

  broadcast(event: string, data: unknown): void {
    this.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private write(chunk: string): void {
    for (const res of this.clients) {
      // A client that stopped reading (a suspended phone, a hostile script) would make us buffer every
      // event forever: past a bound it is dropped; a real page's EventSource reconnects by itself.
      if (res.writableLength > MAX_UNSENT_BYTES) {
        this.clients.delete(res);
        res.destroy();
        continue;
      }
      res.write(chunk);
    }
  }
}
