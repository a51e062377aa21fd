// The web page: an express app built from explicit dependencies; it never listens by itself.
import path from 'node:path';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import helmet from 'helmet';
import { apiRoutes } from './api.ts';
import { authRoutes, isAuthenticated, requireSession, sessionExpired, sessionGate, type SessionRules } from './auth.ts';
import { errorHandler, notFound, requestLimits } from './guards.ts';
import { imageRoutes } from './images.ts';
import { IndexPage } from './index-page.ts';
import { timelapseRoutes } from './timelapse.ts';
import type { WebDeps } from './deps.ts';

/**
 * Stills and timelapses open in the browser's own viewer, which styles itself with inline styles: under the
 * page's policy it is left unstyled (top-left, no zoom). Nothing in a JPEG or WebP can run, and nosniff keeps
 * them from being read as HTML, so this policy only lets the viewer style and show the file.
 */
const MEDIA_CSP =
  "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

function mediaPolicy(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('Content-Security-Policy', MEDIA_CSP);
  next();
}

export function createWebApp(deps: WebDeps): Express {
  const { config, logger, uiDir } = deps;
  const app = express();
  app.disable('x-powered-by');
  // Only the configured proxies may say who the client is (the login limit counts per client address).
  app.set('trust proxy', config.web.trust_proxy);
  app.set('etag', false); // images carry their own strong validators; JSON is not cached

  app.use(
    helmet({
      contentSecurityPolicy: {
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:'],
          connectSrc: ["'self'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
          objectSrc: ["'none'"],
          baseUri: ["'none'"],
          upgradeInsecureRequests: null, // plain HTTP on a LAN is the common case
        },
      },
      strictTransportSecurity: false, // only meaningful behind a TLS proxy, which sets its own
    }),
  );

  app.use(requestLimits); // before any session or file work

  const page = (name: string) => path.join(uiDir, name);
  app.get('/healthz', (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ status: 'ok' });
  });
  // Public: the login page and the static assets (CSS/JS, no data).
  app.use('/assets', express.static(path.join(uiDir, 'assets'), { index: false, fallthrough: false, maxAge: '1h' }));

  app.use(
    session({
      name: 'moncam.sid',
      secret: deps.sessionSecret,
      store: deps.sessionStore,
      resave: false,
      saveUninitialized: false,
      // Not rolling: re-issuing the cookie and re-saving the session on every image request is the
      // main cost of serving thumbnails. The gate below enforces idle expiry with a coarse lastSeen.
      rolling: false,
      // Secure cookies when req.secure: served over TLS, or X-Forwarded-Proto from a trusted proxy.
      cookie: { httpOnly: true, sameSite: 'strict', secure: 'auto', path: '/', maxAge: config.web.session_max_days * 86_400_000 },
    }),
  );
  const rules: SessionRules = { sessionMaxMs: config.web.session_max_days * 86_400_000, idleMs: config.web.session_idle_hours * 3_600_000 };
  app.use(sessionGate(rules));

  app.get('/login', (req, res) => {
    if (isAuthenticated(req)) return res.redirect(303, '/');
    res.set('Cache-Control', 'no-store').sendFile(page('login.html'));
  });
  app.use(
    authRoutes({
      passwordFile: config.web.password_file,
      limiter: deps.limiter,
      verifier: deps.verifier,
      logger,
      onLogout: (sid) => deps.events.endSession(sid),
    }),
  );

  // A session, or the day's link key (Home Assistant fetches timelapses without a session).
  app.use('/timelapse', mediaPolicy);
  app.use(timelapseRoutes({ files: deps.timelapseFiles, sessionSecret: deps.sessionSecret }));

  // Everything below needs a session.
  app.use(requireSession);
  const indexPage = new IndexPage(page('index.html'));
  app.get('/', async (_req, res) => {
    res
      .set('Cache-Control', 'no-store')
      .type('html')
      .send(await indexPage.render(deps.store.latest()));
  });
  // A live-update stream lives as long as its session: checked against the store on every keep-alive.
  const sessionAlive = (sid: string) =>
    new Promise<boolean>((resolve) => deps.sessionStore.get(sid, (err, s) => resolve(!err && Boolean(s?.user) && !sessionExpired(s!, Date.now(), rules))));
  app.use('/api', apiRoutes({ ...deps, sessionAlive }));
  app.use('/images', mediaPolicy, imageRoutes(deps));

  app.use(notFound);
  app.use(errorHandler(logger));
  return app;
}
