// The JSON API the page uses: state, a day's history, capture, fresh-on-visit, live events.
import express, { type Router } from 'express';
import { CaptureFailedError } from '../capture/service.ts';
import { TimelapseError } from '../timelapse/service.ts';
import { addDays, isDay } from '../storage/layout.ts';
import { requireCsrfToken, sameOrigin } from './auth.ts';
import type { WebDeps } from './deps.ts';
import { jsonBody } from './guards.ts';
import { DayStills } from './day.ts';
import { captureJson, stillJson, timelapseJson } from './json.ts';

export function apiRoutes(deps: WebDeps & { sessionAlive: (sessionId: string) => Promise<boolean> }): Router {
  const { config, store, clock, captures, health, timelapses, timelapseFiles, events, logger } = deps;
  const router = express.Router();
  const dayStills = new DayStills(store, config.scene.change_threshold);
  router.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });

  // The page posts nothing; a body is still read within a bound so junk is refused before a capture starts.
  const noParams = jsonBody(1024);

  router.get('/state', async (req, res) => {
    const latest = store.latest();
    const [still, status] = await Promise.all([latest ? store.read(latest.id).catch(() => undefined) : undefined, health.status()]);
    res.json({
      camera: { id: config.camera.id, name: config.camera.name },
      latest: latest ? stillJson(still ?? latest) : null,
      busy: captures.busy,
      health: captures.healthSnapshot(),
      status,
      today: clock.day(new Date()),
      retention_days: config.storage.retention_days,
      fresh_on_visit: config.web.fresh_on_visit,
      csrf: req.session.csrf,
    });
  });

  router.get('/days', async (_req, res) => {
    res.json({ days: await store.listDays() });
  });

  router.get('/days/:day', async (req, res) => {
    const day = req.params.day;
    if (!isDay(day)) {
      res.status(400).json({ error: 'bad_day', message: 'expected a day as YYYY-MM-DD' });
      return;
    }
    const [hours, days, timelapse] = await Promise.all([dayStills.hours(day), store.listDays(), timelapseFiles.get(day)]);
    res.json({
      day,
      timelapse: timelapse ? timelapseJson(timelapse.meta, day) : null,
      hours,
      scene_threshold: config.scene.change_threshold,
      prev: days.filter((d) => d < day).at(-1) ?? null,
      next: days.find((d) => d > day) ?? null,
      oldest_allowed: config.storage.retention_days ? addDays(clock.day(new Date()), -config.storage.retention_days) : null,
    });
  });

  /** Builds (or rebuilds) a day's timelapse now; `{"day": "YYYY-MM-DD"}`, default today. */
  router.post('/timelapse', sameOrigin, requireCsrfToken, ...jsonBody(1024), async (req, res) => {
    const body: unknown = req.body;
    const day = body && typeof body === 'object' && 'day' in body ? (body as { day: unknown }).day : clock.day(new Date());
    if (!isDay(day)) {
      res.status(400).json({ error: 'bad_day', message: 'expected a day as YYYY-MM-DD' });
      return;
    }
    if (!timelapses) {
      res.status(503).json({ error: 'unavailable', message: 'timelapses are not available' });
      return;
    }
    try {
      const record = await timelapses.build(day, 'web');
      // The stored description, as GET /api/days shows it: it also holds the frame times (not in the MQTT record).
      const stored = await timelapseFiles.get(day);
      res.json(timelapseJson(stored?.meta ?? { ...record }, day));
    } catch (err) {
      if (err instanceof TimelapseError) {
        const code = err.failure.error.code;
        res
          .status(code === 'no_stills' || code === 'too_old' || code === 'no_frames' || code === 'bad_day' ? 409 : 503)
          .json({ error: code, message: err.failure.error.message });
        return;
      }
      throw err;
    }
  });

  router.post('/capture', sameOrigin, requireCsrfToken, ...noParams, async (_req, res) => {
    try {
      const record = await captures.capture('web');
      res.json({ ...captureJson(record.capture), trigger: record.capture.meta.trigger });
    } catch (err) {
      if (err instanceof CaptureFailedError) {
        res.status(503).json({ error: err.failure.error.code, message: err.failure.error.message });
        return;
      }
      throw err;
    }
  });

  /** Opening the page asks for a fresh still, unless one is recent or already being taken. */
  router.post('/visit', sameOrigin, requireCsrfToken, ...noParams, (_req, res) => {
    const latest = store.latest();
    const recent = latest && Date.now() - latest.capturedAt.getTime() < config.web.fresh_window_s * 1000;
    if (!config.web.fresh_on_visit || recent) {
      res.json({ fresh: false });
      return;
    }
    captures.capture('visit', { joinInFlight: true }).catch(() => undefined); // reported via the `failed` event
    logger.debug('fresh still requested by a page visit');
    res.status(202).json({ fresh: true });
  });

  router.get('/events', (req, res) => {
    const sessionId = req.sessionID;
    events.add(res, { sessionId, alive: () => deps.sessionAlive(sessionId) });
  });
  return router;
}
