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

/** Small in-memory cache: the latest thumbnail is what every page load and HA card asks for. */
class ImageCache {
  private readonly max: number;
  private readonly map = new Map<string, Buffer>();
  constructor(max: number) {
    this.max = max;
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
    this.map.set(key, value);
    while (this.map.size > this.max) this.map.delete(this.map.keys().next().value!);
  }
}

export function imageRoutes(deps: Pick<WebDeps, 'store'>): Router {
  const router = express.Router();
  const cache = new ImageCache(64);
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
