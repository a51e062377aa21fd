// The web page: an express app built from explicit dependencies; it never listens by itself.
import path from 'node:path';
import express, { type Express } from 'express';
import session from 'express-session';
import helmet from 'helmet';
import type { Logger } from 'pino';
import type { CaptureService } from '../capture/service.ts';
import type { Config } from '../config/schema.ts';
import type { CaptureStore } from '../storage/store.ts';
import type { TimelapseService } from '../timelapse/service.ts';
import { apiRoutes } from './api.ts';
import { authRoutes, isAuthenticated, requireSession, sessionGate } from './auth.ts';
import { EventHub } from './events.ts';
import { errorHandler, notFound, requestLimits } from './guards.ts';
import { imageRoutes } from './images.ts';
import { timelapseRoutes } from './timelapse.ts';

export interface WebDeps {
  config: Config;
  store: CaptureStore;
  captures: CaptureService;
  /** Day timelapses (build on demand); without it the page only shows those on disk. */
  timelapses?: Pick<TimelapseService, 'build'>;
  events: EventHub;
  sessionStore: session.Store;
  sessionSecret: string;
  logger: Logger;
  /** The folder with index.html, login.html and their assets. */
  uiDir: string;
}

export function createWebApp(deps: WebDeps): Express {
  const { config, logger, uiDir } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.web.trust_proxy ? 'loopback, linklocal, uniquelocal' : false);
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
      proxy: config.web.trust_proxy,
      cookie: { httpOnly: true, sameSite: 'strict', secure: 'auto', path: '/', maxAge: config.web.session_max_days * 86_400_000 },
    }),
  );
  app.use(sessionGate({ sessionMaxMs: config.web.session_max_days * 86_400_000, idleMs: config.web.session_idle_hours * 3_600_000 }));

  app.get('/login', (req, res) => {
    if (isAuthenticated(req)) return res.redirect(303, '/');
    res.set('Cache-Control', 'no-store').sendFile(page('login.html'));
  });
  app.use(authRoutes({ passwordFile: config.web.password_file, loginAttempts: config.web.login_attempts, sessionMaxMs: config.web.session_max_days * 86_400_000, logger }));

  // A session, or the day's link key (Home Assistant fetches timelapses without a session).
  app.use(timelapseRoutes({ store: deps.store, sessionSecret: deps.sessionSecret }));

  // Everything below needs a session.
  app.use(requireSession);
  app.get('/', (_req, res) => {
    res.set('Cache-Control', 'no-store').sendFile(page('index.html'));
  });
  app.use('/api', apiRoutes(deps));
  app.use('/images', imageRoutes(deps));

  app.use(notFound);
  app.use(errorHandler(logger));
  return app;
}
