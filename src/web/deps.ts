// What the web app is built from (createWebApp in ./app.ts); its own module so that the route modules
// can name it without importing the app that imports them.
import type session from 'express-session';
import type { Logger } from 'pino';
import type { LoginLimiter } from '../auth/limiter.ts';
import type { PasswordVerifier } from '../auth/verifier.ts';
import type { CaptureService } from '../capture/service.ts';
import type { LocalClock } from '../clock.ts';
import type { HealthService } from '../health/service.ts';
import type { Config } from '../config/schema.ts';
import type { CaptureStore } from '../storage/store.ts';
import type { TimelapseFiles } from '../timelapse/files.ts';
import type { TimelapseService } from '../timelapse/service.ts';
import type { EventHub } from './events.ts';

export interface WebDeps {
  config: Config;
  store: CaptureStore;
  /** The app's clock: today's day folder. */
  clock: LocalClock;
  captures: CaptureService;
  /** The camera's status (`status` in /api/state). */
  health: Pick<HealthService, 'status'>;
  /** Day timelapses (build on demand); without it the page only shows those on disk. */
  timelapses?: Pick<TimelapseService, 'build'>;
  /** Day timelapses on disk. */
  timelapseFiles: Pick<TimelapseFiles, 'get'>;
  events: EventHub;
  /** Failed-login budget and argon2 queue, shared with the embedded broker. */
  limiter: LoginLimiter;
  verifier: PasswordVerifier;
  sessionStore: session.Store;
  sessionSecret: string;
  logger: Logger;
  /** The folder with index.html, login.html and their assets. */
  uiDir: string;
}
