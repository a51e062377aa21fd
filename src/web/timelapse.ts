// Day timelapses: served to a session, or to anyone holding that day's link key (Home Assistant fetches
// them itself and has no session).
import { createHmac, timingSafeEqual } from 'node:crypto';
import express, { type Router } from 'express';
import { isDay } from '../storage/layout.ts';
import type { TimelapseFiles } from '../timelapse/files.ts';
import { isAuthenticated } from './auth.ts';
import { sendError } from './guards.ts';

/** 128 bits of HMAC: unguessable, short enough for a URL; bound to one day, so a leaked link shows one day. */
export function timelapseKey(secret: string, day: string): string {
  return createHmac('sha256', secret).update(`moncam timelapse link\0${day}`).digest('base64url').slice(0, 22);
}

/**
 * The page path of a day's timelapse, the WebP or the GIF; with a secret it carries the key that opens it
 * without a session (one key per day, for both).
 */
export function timelapseLink(secret: string | undefined, day: string, format: 'webp' | 'gif' = 'webp'): string {
  const path = `/timelapse/${day}.${format}`;
  return secret ? `${path}?key=${timelapseKey(secret, day)}` : path;
}

function keyMatches(secret: string, day: string, given: unknown): boolean {
  if (typeof given !== 'string') return false;
  const want = Buffer.from(timelapseKey(secret, day));
  const got = Buffer.from(given);
  return got.length === want.length && timingSafeEqual(got, want);
}

export function timelapseRoutes(deps: { files: Pick<TimelapseFiles, 'get'>; sessionSecret: string }): Router {
  const router = express.Router();
  router.get('/timelapse/:file', async (req, res) => {
    const m = /^(\d{4}-\d{2}-\d{2})\.(webp|gif)$/.exec(req.params.file);
    const day = m?.[1];
    const gif = m?.[2] === 'gif';
    if (!isAuthenticated(req) && !(day && keyMatches(deps.sessionSecret, day, req.query.key))) {
      res.status(401).json({ error: 'unauthenticated', message: 'log in first, or use the link with its key' });
      return;
    }
    if (!day || !isDay(day)) {
      sendError(res, 404);
      return;
    }
    const found = await deps.files.get(day);
    const file = gif ? found?.gif : found;
    if (!found || !file) {
      sendError(res, 404);
      return;
    }
    // Today's timelapse is rebuilt as the day goes on: revalidate every time, cheaply by ETag.
    const etag = `"tl-${day}-${String(found.meta.last_id ?? '')}-${file.bytes}${gif ? '-gif' : ''}"`;
    res.set({ ETag: etag, 'Cache-Control': 'private, no-cache' });
    if (
      req
        .get('if-none-match')
        ?.split(/\s*,\s*/)
        .includes(etag)
    ) {
      res.status(304).end();
      return;
    }
    res.type(gif ? 'image/gif' : 'image/webp').sendFile(file.file, { etag: false, lastModified: false, cacheControl: false });
  });
  return router;
}
