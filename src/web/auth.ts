// Login, logout and the session gate. One password, argon2id, read from the hash file at each attempt
// so `moncam passwd` takes effect without a restart.
import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import type { LoginLimiter, Reservation } from '../auth/limiter.ts';
import { readPasswordHash } from '../auth/password.ts';
import { VerifierBusyError, type PasswordVerifier } from '../auth/verifier.ts';
import { limitedLog } from '../log.ts';
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
  /** Failed-login budget per client address, shared with the embedded broker. */
  limiter: LoginLimiter;
  /** argon2 checks one at a time, shared with the embedded broker. */
  verifier: PasswordVerifier;
  logger: Logger;
  /** A session of this id ended (logout): its live-update streams are closed. */
  onLogout?: (sessionId: string) => void;
}

export function isAuthenticated(req: Request): boolean {
  return req.session?.user === 'moncam';
}

export interface SessionRules {
  sessionMaxMs: number;
  idleMs: number;
}

/** A logged-in session past its absolute or idle lifetime. */
export function sessionExpired(s: { loginAt?: number; lastSeen?: number }, now: number, rules: SessionRules): boolean {
  if (!s.loginAt) return false;
  return now - s.loginAt > rules.sessionMaxMs || now - (s.lastSeen ?? s.loginAt) > rules.idleMs;
}

/** Idle and absolute expiry of a logged-in session. */
export function sessionGate(rules: SessionRules) {
  return (req: Request, _res: Response, next: NextFunction) => {
    const s = req.session;
    if (!s?.loginAt) return next();
    const now = Date.now();
    if (sessionExpired(s, now, rules)) {
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
  const failedLog = limitedLog(deps.logger, 'warn', 'failed logins');
  const lockedLog = limitedLog(deps.logger, 'warn', 'refused logins (rate limit)');

  /** Counts the attempt before the body is read: junk bodies count, a right password gives it back. */
  const limit = (req: Request, res: Response, next: NextFunction) => {
    const attempt = deps.limiter.reserve(req.ip);
    if (!attempt.allowed) {
      if (lockedLog.allow()) deps.logger.warn({ ip: req.ip, retry_after_s: attempt.retryAfterS }, 'login rate limit reached');
      res.setHeader('Retry-After', String(attempt.retryAfterS));
      res.status(429).type('text/plain').send('Too many login attempts. Try again later.');
      return;
    }
    res.locals.attempt = attempt;
    next();
  };

  router.post('/login', sameOrigin, limit, ...formBody(MAX_BODY_BYTES, 5), async (req, res, next) => {
    try {
      const password = typeof req.body?.password === 'string' ? req.body.password : '';
      const hash = await readPasswordHash(deps.passwordFile);
      if (!password || !hash || !(await deps.verifier.verify(hash, password))) {
        if (failedLog.allow()) deps.logger.warn({ ip: req.ip }, 'login failed');
        res.redirect(303, '/login?error=1');
        return;
      }
      (res.locals.attempt as Reservation).succeeded();
      // A fresh session id on login (no fixation).
      req.session.regenerate((err) => {
        if (err) return next(err);
        req.session.user = 'moncam';
        req.session.loginAt = Date.now();
        req.session.lastSeen = Date.now();
        req.session.csrf = randomUUID();
        req.session.save((e) => (e ? next(e) : res.redirect(303, '/')));
      });
    } catch (err) {
      if (err instanceof VerifierBusyError) {
        res.setHeader('Retry-After', '5');
        res.status(503).type('text/plain').send('Too many logins at once. Try again in a few seconds.');
        return;
      }
      next(err);
    }
  });

  // The logout form posts no fields; its body is still bounded and read like any other.
  router.post('/logout', sameOrigin, ...formBody(1024, 5), (req, res, next) => {
    const sid = req.sessionID;
    req.session.destroy((err) => {
      if (err) return next(err);
      if (sid) deps.onLogout?.(sid);
      res.clearCookie('moncam.sid', { path: '/' });
      res.redirect(303, '/login');
    });
  });
  return router;
}
