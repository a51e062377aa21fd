// Stills, thumbnails and previews: only for a session, names checked strictly, strong validators.
import fs from 'node:fs/promises';
import express, { type Router } from 'express';
import { isCaptureId } from '../storage/layout.ts';
import type { WebDeps } from './deps.ts';
import { sendError } from './guards.ts';

const KINDS = { 'full.jpg': 'original', 'thumb.jpg': 'thumb', 'preview.jpg': 'preview' } as const;
type KindFile = keyof typeof KINDS;

/** A still never changes once stored, so its id names it forever: strong ETag, immutable caching. */
const CACHE_CONTROL = 'private, max-age=31536000, immutable';

/**
 * Small in-memory cache, bounded by bytes: the latest thumbnail and preview are what every page load
 * asks for; older ones come from the OS page cache. Bytes, not entries: 64 previews would be ~15 MB of a
 * Pi's 160 MB budget.
 */
export class ImageCache {
  private readonly maxBytes: number;
  private readonly map = new Map<string, Buffer>();
  private bytes = 0;
  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }
  get(key: string): Buffer | undefined {
    const v = this.map.get(key);
    if (v) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  set(key: string, value: Buffer): void {
    if (value.length > this.maxBytes) return;
    this.delete(key);
    this.map.set(key, value);
    this.bytes += value.length;
    while (this.bytes > this.maxBytes) this.delete(this.map.keys().next().value!);
  }
  private delete(key: string): void {
    const v = this.map.get(key);
    if (!v) return;
    this.map.delete(key);
    this.bytes -= v.length;
  }
}

/** Holds the newest few thumbnails and previews (a 1280 px preview is ~150-300 KB). */
export const IMAGE_CACHE_BYTES = 2 * 1024 * 1024;

export function imageRoutes(deps: Pick<WebDeps, 'store'>): Router {
  const router = express.Router();
  const cache = new ImageCache(IMAGE_CACHE_BYTES);
  router.get('/:id/:file', async (req, res) => {
    const { id, file } = req.params;
    if (!isCaptureId(id) || !Object.hasOwn(KINDS, file)) {
      sendError(res, 404);
      return;
    }
    const kind = KINDS[file as KindFile];
    const etag = `"${id}.${kind}"`;
    res.set({ ETag: etag, 'Cache-Control': CACHE_CONTROL });
    if (
      req
        .get('if-none-match')
        ?.split(/\s*,\s*/)
        .includes(etag)
    ) {
      res.status(304).end();
      return;
    }
    const key = `${id}/${kind}`;
    let body = kind === 'original' ? undefined : cache.get(key);
    if (!body) {
      const capture = await deps.store.get(id);
      if (!capture) {
        sendError(res, 404);
        return;
      }
      if (kind === 'original') {
        res.type('image/jpeg').sendFile(capture.files.original, { etag: false, lastModified: false, cacheControl: false });
        return;
      }
      body = await fs.readFile(capture.files[kind]);
      cache.set(key, body);
    }
    res.type('image/jpeg').send(body);
  });
  return router;
}
