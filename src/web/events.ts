// Live updates for open pages: capture events fanned out as server-sent events, with a bounded client
// count, a few streams per session, and streams that end with their session (logout, expiry).
import type { Response } from 'express';
import type { CaptureFailure, CaptureRecord, CaptureService } from '../capture/service.ts';
import type { TimelapseFiles } from '../timelapse/files.ts';
import type { TimelapseRecord, TimelapseService } from '../timelapse/service.ts';
import { stillJson, timelapseJson } from './json.ts';

/** Events are ~300 bytes; this is hundreds of unread events. */
export const MAX_UNSENT_BYTES = 64 * 1024;
/** A few tabs of one browser; one session cannot take every slot. */
export const MAX_STREAMS_PER_SESSION = 4;

/** Whose stream it is: checked on every keep-alive tick, so an expired session's stream ends too. */
export interface StreamOwner {
  sessionId: string;
  alive: () => Promise<boolean>;
}

export interface EventHubOptions {
  maxClients: number;
  timelapses?: Pick<TimelapseService, 'on' | 'off'>;
  /** Where a built timelapse's description (with its frame times) is read back for the event. */
  timelapseFiles?: Pick<TimelapseFiles, 'get'>;
  /** Keep-alive comment and session check period (tests shorten it). */
  keepAliveMs?: number;
}

export class EventHub {
  private readonly captures: Pick<CaptureService, 'on' | 'off'>;
  private readonly timelapses?: Pick<TimelapseService, 'on' | 'off'>;
  private readonly maxClients: number;
  private readonly keepAliveMs: number;
  private readonly clients = new Map<Response, StreamOwner | undefined>();
  private keepAlive?: NodeJS.Timeout;
  private readonly onCaptured = (r: CaptureRecord) =>
    this.broadcast('captured', { ...stillJson(r.capture), brightness: r.scene.brightness, change: r.scene.change ?? null, changed: r.scene.changed });
  private readonly timelapseFiles?: Pick<TimelapseFiles, 'get'>;
  private readonly onTimelapse = (t: TimelapseRecord) =>
    void (this.timelapseFiles?.get(t.day) ?? Promise.resolve(undefined))
      .catch(() => undefined)
      .then((stored) => this.broadcast('timelapse', timelapseJson(stored?.meta ?? { ...t }, t.day)));
  private readonly onFailed = (f: CaptureFailure) =>
    this.broadcast('failed', { trigger: f.trigger, error: f.error.code, message: f.error.message, at: f.at.toISOString() });

  constructor(captures: Pick<CaptureService, 'on' | 'off'>, opts: EventHubOptions) {
    this.captures = captures;
    this.maxClients = opts.maxClients;
    this.timelapses = opts.timelapses;
    this.timelapseFiles = opts.timelapseFiles;
    this.keepAliveMs = opts.keepAliveMs ?? 25_000;
  }

  get size(): number {
    return this.clients.size;
  }

  start(): void {
    this.captures.on('captured', this.onCaptured);
    this.captures.on('failed', this.onFailed);
    this.timelapses?.on('built', this.onTimelapse);
    // A comment line every 25 s keeps proxies and phones from closing idle streams.
    this.keepAlive = setInterval(() => {
      this.write(':\n\n');
      void this.endDeadSessions();
    }, this.keepAliveMs);
    this.keepAlive.unref();
  }

  stop(): void {
    clearInterval(this.keepAlive);
    this.captures.off('captured', this.onCaptured);
    this.captures.off('failed', this.onFailed);
    this.timelapses?.off('built', this.onTimelapse);
    for (const res of this.clients.keys()) res.end();
    this.clients.clear();
  }

  /** Returns false (and answers 503, or 429 past the session's share) when full. */
  add(res: Response, owner?: StreamOwner): boolean {
    if (this.clients.size >= this.maxClients) {
      res.status(503).set('Retry-After', '30').json({ error: 'too_many_clients', message: 'too many live-update connections' });
      return false;
    }
    if (owner && [...this.clients.values()].filter((o) => o?.sessionId === owner.sessionId).length >= MAX_STREAMS_PER_SESSION) {
      res
        .status(429)
        .set('Retry-After', '30')
        .json({ error: 'too_many_streams', message: `at most ${MAX_STREAMS_PER_SESSION} live-update connections per login` });
      return false;
    }
    res.status(200).set({ 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' });
    res.flushHeaders();
    res.write('retry: 3000\n\n');
    this.clients.set(res, owner);
    res.on('close', () => this.clients.delete(res));
    return true;
  }

  /** The session ended (logout, expiry): its streams end now. */
  endSession(sessionId: string): void {
    for (const [res, owner] of this.clients) {
      if (owner?.sessionId !== sessionId) continue;
      this.clients.delete(res);
      res.end();
    }
  }

  private async endDeadSessions(): Promise<void> {
    const owners = new Map<string, StreamOwner>();
    for (const owner of this.clients.values()) if (owner) owners.set(owner.sessionId, owner);
    for (const [sid, owner] of owners) if (!(await owner.alive().catch(() => false))) this.endSession(sid);
  }

  broadcast(event: string, data: unknown): void {
    this.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private write(chunk: string): void {
    for (const res of this.clients.keys()) {
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
