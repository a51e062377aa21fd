// Login, logout and the session gate. One password, argon2id, read from the hash file at each attempt
// so `moncam passwd` takes effect without a restart.
import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { rateLimit } from 'express-rate-limit';
import type { Logger } from 'pino';
import { readPasswordHash, verifyPassword } from '../auth/password.ts';
import { formBody, MAX_BODY_BYTES } from './guards.ts';

declare module 'express-session' {
  interface SessionData {
    user?: 'moncam';
    loginAt?: number;
    /** Last request, to the minute: idle expiry without re-saving the session on every request. */
    lastSeen?: number;
    csrf?: string;
  }
}

export interface AuthDeps {
  passwordFile: string;
  loginAttempts: number;
  sessionMaxMs: number;
  logger: Logger;
}

export function isAuthenticated(req: Request): boolean {
  return req.session?.user === 'moncam';
}

/** Idle and absolute expiry of a logged-in session. */
export function sessionGate(deps: { sessionMaxMs: number; idleMs: number }) {
  return (req: Request, _res: Response, next: NextFunction) => {
    const s = req.session;
    if (!s?.loginAt) return next();
    const now = Date.now();
    if (now - s.loginAt > deps.sessionMaxMs || now - (s.lastSeen ?? s.loginAt) > deps.idleMs) {
      s.destroy(() => next());
      return;
    }
    if (now - (s.lastSeen ?? 0) > 60_000) s.lastSeen = now; // saved (once a minute at most) by express-session
    next();
  };
}

/** Deny by default: pages redirect to /login, API calls get 401 and no data. */
export function requireSession(req: Request, res: Response, next: NextFunction): void {
  if (isAuthenticated(req)) return next();
  if (req.method === 'GET' && req.accepts(['html', 'json']) === 'html' && !req.path.startsWith('/api/') && !req.path.startsWith('/images/')) {
    res.redirect(303, '/login');
    return;
  }
  res.status(401).json({ error: 'unauthenticated', message: 'log in first' });
}

/**
 * Cross-site request protection for every POST: the browser says where the request came from
 * (Sec-Fetch-Site, else Origin); a request from another site is refused. Authenticated API POSTs also
 * carry the session's token in X-CSRF-Token.
 */
export function sameOrigin(req: Request, res: Response, next: NextFunction): void {
  const site = req.get('sec-fetch-site');
  const origin = req.get('origin');
  const host = req.get('host');
  // An Origin that is not a URL ("null" from sandboxed frames, or garbage) is not this site either.
  const crossSite = site ? !['same-origin', 'none'].includes(site) : origin !== undefined && (!host || originHost(origin) !== host);
  if (crossSite) {
    res.status(403).json({ error: 'cross_site', message: 'cross-site request refused' });
    return;
  }
  next();
}

function originHost(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined;
  }
}

export function requireCsrfToken(req: Request, res: Response, next: NextFunction): void {
  const token = req.get('x-csrf-token');
  if (!token || !req.session.csrf || token !== req.session.csrf) {
    res.status(403).json({ error: 'csrf', message: 'missing or wrong X-CSRF-Token' });
    return;
  }
  next();
}

export function authRoutes(deps: AuthDeps): Router {
  const router = express.Router();
  const limiter = rateLimit({
    windowMs: 15 * 60_000,
    limit: deps.loginAttempts,
    skipSuccessfulRequests: true,
    // Both outcomes redirect (303); only a verified password counts as success.
    requestWasSuccessful: (_req, res) => res.locals.loginOk === true,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    handler: (req, res, _next, options) => {
      deps.logger.warn({ ip: req.ip }, 'login rate limit reached');
      res.setHeader('Retry-After', String(Math.ceil(options.windowMs / 1000)));
      res.status(429).type('text/plain').send('Too many login attempts. Try again later.');
    },
  });

  router.post('/login', sameOrigin, limiter, ...formBody(MAX_BODY_BYTES, 5), async (req, res, next) => {
    try {
      const password = typeof req.body?.password === 'string' ? req.body.password : '';
      const hash = await readPasswordHash(deps.passwordFile);
      if (!password || !hash || !(await verifyPassword(hash, password))) {
        deps.logger.warn({ ip: req.ip }, 'login failed');
        res.redirect(303, '/login?error=1');
        return;
      }
      // A fresh session id on login (no fixation).
      req.session.regenerate((err) => {
        if (err) return next(err);
        req.session.user = 'moncam';
        req.session.loginAt = Date.now();
        req.session.lastSeen = Date.now();
        req.session.csrf = randomUUID();
        res.locals.loginOk = true;
        req.session.save((e) => (e ? next(e) : res.redirect(303, '/')));
      });
    } catch (err) {
      next(err);
    }
  });

  // The logout form posts no fields; its body is still bounded and read like any other.
  router.post('/logout', sameOrigin, ...formBody(1024, 5), (req, res, next) => {
    req.session.destroy((err) => {
      if (err) return next(err);
      res.clearCookie('moncam.sid', { path: '/' });
      res.redirect(303, '/login');
    });
  });
  return router;
}
