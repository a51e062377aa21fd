// Composition root: builds every service with explicit arguments; start()/stop() own all resources.
import type { Logger } from 'pino';
import { probeCamera } from './camera/auto.ts';
import type { Camera } from './camera/types.ts';
import { CaptureService } from './capture/service.ts';
import type { Config } from './config/schema.ts';
import { Scheduler } from './schedule/scheduler.ts';
import { CaptureStore } from './storage/store.ts';

export interface AppDeps {
  config: Config;
  logger: Logger;
  /** Use this camera instead of probing (tests, `moncam capture`). */
  camera?: Camera;
}

export interface App {
  readonly config: Config;
  readonly camera: Camera;
  readonly store: CaptureStore;
  readonly captures: CaptureService;
  readonly scheduler?: Scheduler;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Chooses the camera (probing spawns short-lived programs only) and wires the services. */
export async function createApp(deps: AppDeps): Promise<App> {
  const { config, logger } = deps;
  const camera = deps.camera ?? (await probeCamera(config, logger.child({ module: 'camera' }))).camera;
  const store = new CaptureStore({
    dir: config.storage.dir,
    timeZone: config.schedule.timezone,
    retentionDays: config.storage.retention_days,
    maxBytes: config.storage.max_bytes,
    logger: logger.child({ module: 'storage' }),
  });
  const captures = new CaptureService({ camera, store, config, logger: logger.child({ module: 'capture' }) });
  const scheduler = config.schedule.enabled
    ? new Scheduler({ capture: captures, cron: config.schedule.cron, timezone: config.schedule.timezone, logger: logger.child({ module: 'schedule' }) })
    : undefined;

  return {
    config,
    camera,
    store,
    captures,
    scheduler,
    async start() {
      await store.start();
      scheduler?.start();
      logger.info({ camera: camera.backend, data_dir: config.data_dir, latest: store.latest()?.id }, 'moncam started');
    },
    async stop() {
      scheduler?.stop();
      await captures.idle();
      await camera.stop?.();
      logger.info('moncam stopped');
    },
  };
}
