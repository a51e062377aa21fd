// Composition root: builds every service with explicit arguments; start()/stop() own all resources.
// Over 300 lines: one place wires every service, so the order of construction and of start/stop reads top to bottom.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { LocalClock } from './clock.ts';
import { LoginLimiter } from './auth/limiter.ts';
import { PasswordVerifier } from './auth/verifier.ts';
import { probeCamera } from './camera/auto.ts';
import type { Camera } from './camera/types.ts';
import { CaptureService } from './capture/service.ts';
import { HealthService } from './health/service.ts';
import { Lifecycle, named } from './lifecycle.ts';
import { stillRequest } from './capture/request.ts';
import type { Config, Exposure } from './config/schema.ts';
import { expiryState, readTlsPair, type TlsPair } from './config/tls.ts';
import { EmbeddedBroker } from './mqtt/broker.ts';
import { MqttBridge, type MqttBridgeDeps } from './mqtt/bridge.ts';
import { MqttControls } from './mqtt/controls.ts';
import { brokerUrl, clientOptions } from './mqtt/connection.ts';
import type { DiscoveryContext } from './mqtt/discovery.ts';
import { isCommandTopic, mqttTopics } from './mqtt/topics.ts';
import { AutoExposure } from './schedule/exposure.ts';
import { Scheduler } from './schedule/scheduler.ts';
import { applyOverrides, readOverrides, settingsFile } from './settings/overrides.ts';
import { Settings, type SettingsChange } from './settings/service.ts';
import { DataDirLock } from './storage/lock.ts';
import { ControlServer } from './control/socket.ts';
import { CaptureStore } from './storage/store.ts';
import { TimelapseFiles } from './timelapse/files.ts';
import { TimelapseService } from './timelapse/service.ts';
import { version } from './version.ts';
import { createWebApp } from './web/app.ts';
import { EventHub } from './web/events.ts';
import { WebServer } from './web/server.ts';
import { FileSessionStore, sessionSecret } from './web/sessions.ts';
import { timelapseLink } from './web/timelapse.ts';

export interface AppDeps {
  config: Config;
  logger: Logger;
  /** Use this camera instead of probing (tests, `moncam capture`). */
  camera?: Camera;
  /** Leave MQTT out (one-shot CLI commands). */
  mqtt?: boolean;
  /** Leave the web page out (one-shot CLI commands). */
  web?: boolean;
  /** Leave the control socket out (one-shot CLI commands: nobody else should ask them for stills). */
  control?: boolean;
  /** Frees memory after each still (the daemon passes runtime.releaseMemory; one-shot commands and tests need not). */
  releaseMemory?: () => Promise<void>;
  /** Test hooks: faster HA-birth republish and reconnects. */
  mqttTiming?: { birthDelayMs?: [number, number]; reconnectMs?: [number, number] };
  /** Test hooks: the health status's clock, and its MQTT publisher's timers and refresh period. */
  healthTiming?: { now?: () => Date } & MqttBridgeDeps['healthTiming'];
  /** Test hooks: when finished days get their timelapse (cron), and the catch-up delay after start. */
  timelapseTiming?: { cron?: string; catchUpDelayMs?: number };
}

export interface App {
  readonly config: Config;
  readonly clock: LocalClock;
  readonly camera: Camera;
  readonly store: CaptureStore;
  readonly timelapseFiles: TimelapseFiles;
  readonly captures: CaptureService;
  readonly health: HealthService;
  readonly timelapses: TimelapseService;
  /** Follows the light for `schedule.exposure: auto` (from the config or set from Home Assistant). */
  readonly autoExposure: AutoExposure;
  readonly scheduler: Scheduler;
  /** The effective settings: the config with Home Assistant's overrides. */
  readonly settings: Settings;
  readonly broker?: EmbeddedBroker;
  readonly mqtt?: MqttBridge;
  readonly web?: WebServer;
  readonly control?: ControlServer;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The window of web.login_attempts. */
const LOGIN_WINDOW_MS = 15 * 60_000;

/** ui/ beside src/ and dist/ alike. */
const UI_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'ui');

/** The section's certificate pair when configured; an expired or nearly expired one is started with a warning. */
async function tlsPair(section: 'web' | 'broker', files: { tls_cert?: string; tls_key?: string }, logger: Logger): Promise<TlsPair | undefined> {
  if (!files.tls_cert || !files.tls_key) return undefined;
  const pair = await readTlsPair(section, files.tls_cert, files.tls_key);
  const expiry = expiryState(pair);
  if (expiry)
    logger.warn(
      { file: files.tls_cert, valid_to: pair.validTo.toISOString() },
      `${section} TLS certificate ${expiry === 'expired' ? 'has expired: clients will refuse it' : 'expires within 30 days'}; make a new one with moncam cert --force`,
    );
  return pair;
}

/** Chooses the camera (probing spawns short-lived programs only) and wires the services. */
export async function createApp(deps: AppDeps): Promise<App> {
  const { config, logger } = deps;
  // Settings changed from Home Assistant, read before the camera: its warm profile uses the effective quality.
  const overridesFile = settingsFile(config.data_dir);
  const read = await readOverrides(overridesFile);
  if (read.problem) logger.warn({ code: read.problem.code, file: overridesFile }, `${read.problem.message}: the config file's settings apply`);
  const settings = new Settings({ config, file: overridesFile, initial: read.overrides, logger: logger.child({ module: 'settings' }) });
  // A daemon may keep rpicam-still warm (camera.warm) for its on-demand still; start() starts nothing, the
  // first still does, and stop() ends it via camera.stop().
  const probe = deps.camera
    ? undefined
    : await probeCamera(config, { logger: logger.child({ module: 'camera' }), warmProfile: stillRequest(applyOverrides(config, read.overrides)) });
  const camera = deps.camera ?? probe!.camera;
  // One clock for day folders and local times everywhere (Intl formatters are costly to build).
  const clock = new LocalClock(config.schedule.timezone);
  const store = new CaptureStore({
    dir: config.storage.dir,
    clock,
    retentionDays: config.storage.retention_days,
    maxBytes: config.storage.max_bytes,
    minFree: config.storage.min_free,
    logger: logger.child({ module: 'storage' }),
  });
  const lock = new DataDirLock(config.data_dir, logger.child({ module: 'storage' }));
  const captures = new CaptureService({
    camera,
    store,
    config,
    settings,
    logger: logger.child({ module: 'capture' }),
    clock,
    // Consulted only while the effective schedule.exposure is auto; always there, so HA can switch to auto.
    scheduleExposure: (): Exposure => autoExposure.exposure, // called only once stills are taken, after autoExposure is built
    ...(deps.releaseMemory ? { afterStill: deps.releaseMemory } : {}),
  });
  const autoExposure = new AutoExposure({ config, logger: logger.child({ module: 'schedule' }), captures, store });
  const webEnabled = deps.web !== false && config.web.enabled;
  const privateDir = path.join(config.data_dir, 'private');
  // The web page's secret also signs the timelapse links published over MQTT.
  const secret = webEnabled ? await sessionSecret(path.join(privateDir, 'session_secret')) : undefined;
  const timelapseFiles = new TimelapseFiles({ context: store.context, retentionDays: config.storage.retention_days });
  const timelapses = new TimelapseService({
    store,
    files: timelapseFiles,
    clock,
    config,
    logger: logger.child({ module: 'timelapse' }),
    link: (day, format) => timelapseLink(secret, day, format),
    ...deps.timelapseTiming,
  });
  const scheduler = new Scheduler({ capture: captures, settings, timezone: config.schedule.timezone, logger: logger.child({ module: 'schedule' }) });
  const health = new HealthService({
    backend: camera.backend,
    ...(probe?.fallback ? { fallback: probe.fallback } : {}),
    captures,
    store,
    schedule: scheduler,
    clock,
    logger: logger.child({ module: 'health' }),
    ...(deps.healthTiming?.now ? { now: deps.healthTiming.now } : {}),
  });

  // One failure budget per client address and one argon2 check at a time, for the web login and the broker alike.
  const limiter = new LoginLimiter({ attempts: config.web.login_attempts, windowMs: LOGIN_WINDOW_MS });
  const verifier = new PasswordVerifier({ logger: logger.child({ module: 'auth' }) });
  const useMqtt = deps.mqtt !== false && Boolean(config.mqtt.url || config.broker.enabled);
  const embedded = useMqtt && !config.mqtt.url;
  // Certificates are read and checked here, before anything listens: a bad file is one config error.
  const webTls = webEnabled ? await tlsPair('web', config.web, logger) : undefined;
  const brokerTls = embedded ? await tlsPair('broker', config.broker, logger) : undefined;
  const broker = embedded
    ? new EmbeddedBroker({
        host: config.broker.host,
        port: config.broker.port,
        ...(brokerTls ? { tls: { port: config.broker.tls_port, cert: brokerTls.cert, key: brokerTls.key } } : {}),
        plainRemote: config.broker.plain_remote,
        username: config.broker.username,
        passwordFiles: [config.broker.password_file, config.web.password_file],
        limiter,
        verifier,
        maxPacketSize: config.broker.max_packet_size,
        maxConnections: config.broker.max_connections,
        isCommandTopic: (t) => isCommandTopic(config.mqtt.base_topic, t),
        logger: logger.child({ module: 'broker' }),
      })
    : undefined;
  const topics = mqttTopics({ baseTopic: config.mqtt.base_topic, cameraId: config.camera.id, discoveryPrefix: config.mqtt.discovery_prefix });
  const discoveryContext: DiscoveryContext = {
    topics,
    cameraId: config.camera.id,
    cameraName: config.camera.name,
    backend: camera.backend,
    version: version(),
    timelapse: true,
    timelapseGif: config.timelapse.gif,
    ...(webEnabled && config.web.public_url ? { publicUrl: config.web.public_url } : {}),
  };
  const mqtt = useMqtt
    ? new MqttBridge({
        url: () => brokerUrl(config, broker),
        clientOptions: await clientOptions(config),
        topics,
        cameraId: config.camera.id,
        discovery: { enabled: config.mqtt.discovery, legacy: config.mqtt.legacy_discovery, context: discoveryContext },
        captures,
        store,
        clock,
        timelapses,
        controls: new MqttControls({ topics, settings, logger: logger.child({ module: 'mqtt' }) }),
        logger: logger.child({ module: 'mqtt' }),
        announcedFile: path.join(config.data_dir, 'mqtt-announced.json'),
        ...(broker ? { maxPacketSize: config.broker.max_packet_size } : {}),
        health,
        ...(deps.healthTiming ? { healthTiming: deps.healthTiming } : {}),
        ...deps.mqttTiming,
      })
    : undefined;

  const sessions = new FileSessionStore(path.join(privateDir, 'sessions.json'), logger.child({ module: 'web' }));
  const events = new EventHub(captures, { maxClients: config.web.max_event_clients, timelapses, timelapseFiles });
  const web =
    webEnabled && secret
      ? new WebServer({
          app: createWebApp({
            config,
            store,
            clock,
            captures,
            health,
            timelapses,
            timelapseFiles,
            events,
            limiter,
            verifier,
            sessionStore: sessions,
            sessionSecret: secret,
            logger: logger.child({ module: 'web' }),
            uiDir: UI_DIR,
          }),
          host: config.web.host,
          port: config.web.port,
          logger: logger.child({ module: 'web' }),
          ...(webTls ? { tls: { cert: webTls.cert, key: webTls.key } } : {}),
        })
      : undefined;

  const control =
    deps.control === false
      ? undefined
      : new ControlServer({ dataDir: config.data_dir, captures, backend: camera.backend, logger: logger.child({ module: 'control' }) });

  const followSettings = ({ config: effective }: SettingsChange) => camera.setProfile?.(stillRequest(effective));

  // Started in this order, stopped in reverse: the captures stop (a still in flight finishes) before the
  // MQTT client, so that still is published before `offline`; the lock is the first taken and the last freed.
  const lifecycle = new Lifecycle(
    [
      { name: 'data dir lock', start: () => lock.acquire(), stop: () => lock.release() },
      {
        name: 'camera',
        // A warm camera is kept ready for the on-demand still: it follows a quality set from Home Assistant.
        start: () => void settings.on('change', followSettings),
        stop: () => {
          settings.off('change', followSettings);
          return camera.stop?.();
        },
      },
      named('store', store),
      named('settings', settings),
      named('auto exposure', autoExposure),
      named('MQTT broker', broker),
      named('MQTT client', mqtt),
      named('timelapses', timelapses),
      named('captures', captures),
      web && { name: 'web sessions', start: () => sessions.restore(), stop: () => sessions.flush() },
      web && named('live updates', events),
      named('web server', web),
      named('control socket', control),
      named('schedule', scheduler),
      // Last: its first status (published over MQTT) knows the schedule's next still.
      named('health', health),
    ],
    logger,
  );

  return {
    config,
    clock,
    camera,
    store,
    timelapseFiles,
    captures,
    health,
    timelapses,
    autoExposure,
    scheduler,
    settings,
    broker,
    mqtt,
    web,
    control,
    async start() {
      await lifecycle.start();
      logger.info(
        {
          camera: camera.backend,
          data_dir: config.data_dir,
          latest: store.latest()?.id,
          mqtt: mqtt ? brokerUrl(config, broker) : 'off',
          exposure:
            settings.config.schedule.exposure === 'auto'
              ? `auto (${autoExposure.mode})`
              : (settings.config.schedule.exposure ?? settings.config.camera.exposure),
        },
        'moncam started',
      );
    },
    async stop() {
      await lifecycle.stop();
      logger.info('moncam stopped');
    },
  };
}
