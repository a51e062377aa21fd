// The one capture path every trigger calls: camera -> validate -> store -> derive -> events.
// One file though over 300 lines: the job queue, the failure pause and the pipeline share the in-flight job; types and scene references live beside it.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { emitSafely } from '../events.ts';
import type { Camera } from '../camera/types.ts';
import type { Config, Exposure } from '../config/schema.ts';
import type { CaptureStore, RecordedMeta, SavedStill, Trigger } from '../storage/store.ts';
import { stillMeta } from '../storage/still.ts';
import { burnTimestamp, deriveImages } from './derive.ts';
import { encodeSignature } from '../scene/scene.ts';
import { SceneReferences, sceneProfile } from './scene-refs.ts';
import {
  CaptureFailedError,
  classify,
  MAX_REQUESTS_PER_CAPTURE,
  type CaptureEvents,
  type CaptureFailure,
  type CaptureOptions,
  type CaptureRecord,
  type CaptureRequest,
} from './types.ts';
import { CaptureHealth, type HealthSnapshot } from './health.ts';
import { originalOf } from './original.ts';
import { stillRequest } from './request.ts';
import { timeTagText } from '../image/timetag.ts';
import { LocalClock } from '../clock.ts';

export { TRIGGERS, type Trigger } from '../storage/still.ts';

export * from './types.ts';

interface Job {
  trigger: Trigger;
  options: CaptureOptions;
  requests: CaptureRequest[];
  promise: Promise<CaptureRecord>;
  resolve(r: CaptureRecord): void;
  reject(e: unknown): void;
  /** Aborts the camera run (shutdown). */
  abort: AbortController;
  /** Requests in `requests` that carry an id or a source. */
  named: number;
}

export interface CaptureServiceDeps {
  camera: Camera;
  store: CaptureStore;
  config: Config;
  logger: Logger;
  now?: () => Date;
  /** The app's clock for the burned-in time tag; default: one for schedule.timezone. */
  clock?: LocalClock;
  /** `schedule.exposure: auto`: the profile scheduled stills use now (else the fixed schedule.exposure applies). */
  scheduleExposure?: () => Exposure | undefined;
  /** The effective settings (HA overrides of quality and schedule.exposure), read for every still. */
  settings?: { readonly config: Config };
  /** Called once each still has settled, stored or failed (the daemon frees its buffers: runtime.releaseMemory). */
  afterStill?: () => Promise<void>;
}

/**
 * One capture at a time. A request that arrives while one runs queues ONE more; later requests join
 * that queued one, so a burst costs at most two camera runs.
 */
export class CaptureService extends EventEmitter<CaptureEvents> {
  private readonly deps: CaptureServiceDeps;
  private inFlight?: Job;
  private queued?: Job;
  private stopping = false;
  private readonly health: CaptureHealth;
  private readonly scenes: SceneReferences;

  constructor(deps: CaptureServiceDeps) {
    super();
    this.deps = deps;
    const cam = deps.config.camera;
    this.scenes = new SceneReferences(deps.config.scene.change_threshold);
    this.health = new CaptureHealth({ after: cam.backoff_after, firstMs: cam.backoff_s * 1000, maxMs: Math.max(cam.backoff_s, cam.backoff_max_s) * 1000 });
  }

  private clockCache?: LocalClock;
  private get clock(): LocalClock {
    return (this.clockCache ??= this.deps.clock ?? new LocalClock(this.deps.config.schedule.timezone));
  }

  get busy(): boolean {
    return Boolean(this.inFlight);
  }

  /**
   * Picks up the scene of the still stored last (its metadata), so the first still after a restart gets
   * a change score too. The store must have started.
   */
  async start(): Promise<void> {
    this.stopping = false;
    const latest = this.deps.store.latest();
    this.scenes.restore(latest ? await this.deps.store.readMeta(latest.id).catch(() => undefined) : undefined);
  }

  /** Failures in a row, the last error and any pause, for the page and /api/state. */
  healthSnapshot(): HealthSnapshot {
    return this.health.snapshot(this.now());
  }

  capture(trigger: Trigger, options: CaptureOptions = {}): Promise<CaptureRecord> {
    const request: CaptureRequest = {
      trigger,
      ...(options.requestId ? { requestId: options.requestId } : {}),
      ...(options.source ? { source: options.source } : {}),
    };
    if (this.stopping) {
      const job = this.newJob(trigger, options, request);
      this.refuse(job, 'stopped', 'moncam is shutting down');
      return job.promise;
    }
    if (this.inFlight && options.joinInFlight) return this.join(this.inFlight, request);
    if (this.queued) return this.join(this.queued, request);
    const job = this.newJob(trigger, options, request);
    if (this.inFlight) {
      this.queued = job;
      this.inFlight.promise.catch(() => undefined).finally(() => this.startQueued());
    } else {
      this.begin(job);
    }
    return job.promise;
  }

  /** Resolves when no capture runs or waits. */
  async idle(): Promise<void> {
    while (this.inFlight || this.queued) await (this.queued ?? this.inFlight)!.promise.catch(() => undefined);
  }

  /** Stops the camera program in flight now (a second Ctrl-C): it gets SIGTERM at once. */
  abort(): void {
    this.inFlight?.abort.abort(new Error('moncam is exiting'));
  }

  /**
   * Shutdown: new requests and the queued one are refused; the capture in flight gets `graceMs` to
   * finish (and be stored whole), then its camera program is aborted (SIGTERM, then SIGKILL).
   */
  async stop(graceMs = 4000): Promise<void> {
    this.stopping = true;
    const queued = this.queued;
    this.queued = undefined;
    if (queued) this.refuse(queued, 'stopped', 'moncam is shutting down');
    const job = this.inFlight;
    if (!job) return;
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      job.promise.then(
        () => true,
        () => true,
      ),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), graceMs))),
    ]);
    clearTimeout(timer);
    if (!finished) {
      this.deps.logger.warn({ trigger: job.trigger, graceMs }, 'shutting down: aborting the capture in flight');
      job.abort.abort(new Error('moncam is shutting down'));
      await job.promise.catch(() => undefined);
    }
  }

  private join(job: Job, request: CaptureRequest): Promise<CaptureRecord> {
    // Joined requests are echoed in the event and the metadata: a flood during a slow capture must not
    // grow them without limit. Later requests still get the still, just not their id echoed.
    const named = Boolean(request.requestId || request.source);
    // A still someone asked to keep (Take still, a command) is not a visit's, whoever asked first.
    if (job.trigger === 'visit' && request.trigger !== 'visit') job.trigger = request.trigger;
    if (named ? job.named < MAX_REQUESTS_PER_CAPTURE : job.requests.length - job.named < MAX_REQUESTS_PER_CAPTURE) {
      job.requests.push(request);
      if (named) job.named++;
    }
    return job.promise;
  }

  private newJob(trigger: Trigger, options: CaptureOptions, request: CaptureRequest): Job {
    let resolve!: (r: CaptureRecord) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<CaptureRecord>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    promise.catch(() => undefined); // callers that do not await must not crash the process
    return {
      trigger,
      options,
      requests: [request],
      promise,
      resolve,
      reject,
      abort: new AbortController(),
      named: request.requestId || request.source ? 1 : 0,
    };
  }

  /** Fails a job without running the camera (pause after failures, shutdown). */
  private refuse(job: Job, code: 'backoff' | 'stopped', message: string): void {
    const failure: CaptureFailure = { trigger: job.trigger, requests: job.requests, at: this.now(), error: { code, message } };
    this.deps.logger.debug({ trigger: job.trigger, code }, `capture refused: ${message}`);
    job.reject(new CaptureFailedError(failure));
    this.emitSafely('failed', failure);
  }

  private startQueued(): void {
    const job = this.queued;
    this.queued = undefined;
    if (job) this.begin(job);
  }

  private begin(job: Job): void {
    const pausedUntil = this.health.pausedAt(this.now());
    if (pausedUntil) {
      const last = this.health.lastFailure;
      this.refuse(
        job,
        'backoff',
        `captures are paused after ${this.health.consecutiveFailures} failures in a row (last: ${last?.code}: ${last?.message}); next attempt after ${pausedUntil.toISOString()}`,
      );
      return;
    }
    this.inFlight = job;
    this.run(job)
      .then(
        (record) => {
          const had = this.health.succeeded(this.now());
          if (had > 0) this.deps.logger.info({ failures: had }, `captures work again after ${had} failure(s) in a row`);
          job.resolve(record);
          this.emitSafely('captured', record);
        },
        (err: unknown) => {
          const error: CaptureFailure['error'] = job.abort.signal.aborted
            ? { code: 'stopped', message: 'capture discarded: moncam is shutting down' }
            : classify(err);
          const failure: CaptureFailure = { trigger: job.trigger, requests: job.requests, at: this.now(), error };
          const { logger } = this.deps;
          logger.error(
            { trigger: job.trigger, code: failure.error.code, detail: failure.error.detail, err: failure.error.code === 'internal' ? err : undefined },
            `capture failed: ${failure.error.message}`,
          );
          if (!this.stopping) {
            const pauseMs = this.health.failed({ code: failure.error.code, message: failure.error.message, at: failure.at });
            if (pauseMs !== undefined) {
              logger.warn(
                { failures: this.health.consecutiveFailures, code: failure.error.code, pauseMs },
                `${this.health.consecutiveFailures} captures failed in a row: pausing captures for ${Math.round(pauseMs / 1000)} s`,
              );
            }
          }
          job.reject(new CaptureFailedError(failure));
          this.emitSafely('failed', failure);
        },
      )
      .finally(() => {
        if (this.inFlight === job) this.inFlight = undefined;
        this.deps.afterStill?.().catch((err: unknown) => this.deps.logger.warn({ err }, 'afterStill hook failed'));
      });
  }

  private emitSafely<K extends keyof CaptureEvents>(event: K, ...args: CaptureEvents[K]): void {
    emitSafely(this, this.deps.logger, 'capture', event, args);
  }

  private now(): Date {
    return this.deps.now ? this.deps.now() : new Date();
  }

  private async run(job: Job): Promise<CaptureRecord> {
    const { camera, store, logger } = this.deps;
    const config = this.config();
    const t0 = performance.now();
    const request = stillRequest(config, job.options, job.trigger === 'schedule' ? this.scheduledExposure() : undefined);
    const manual = Boolean(request.shutterUs || request.gain);
    const still = await camera.capture(request, job.abort.signal);
    const cameraMs = performance.now() - t0;
    const capturedAt = this.now();
    const t1 = performance.now();

    let original = originalOf(still).jpeg;
    const label = timeTagText(capturedAt, this.clock);
    if (config.storage.burn_timestamp) original = await burnTimestamp(original, label, config.camera.quality);
    // The store writes (and fsyncs) the original while the derived images are made.
    const derivedP = deriveImages(original, {
      previewSize: config.mqtt.preview_size,
      previewQuality: config.mqtt.preview_quality,
      thumbSize: config.storage.thumb_width,
      thumbQuality: config.storage.thumb_quality,
      label,
    });
    const profile = sceneProfile(request.exposure, manual);
    const scene = derivedP.then((d) => this.scenes.reading(d.scene.brightness, d.scene.signature, profile));
    const meta = Promise.all([derivedP, scene]).then(([d, sc]): RecordedMeta => ({
      trigger: job.trigger,
      requests: job.requests,
      camera: camera.backend,
      width: d.preview.width,
      height: d.preview.height,
      full_width: d.fullWidth,
      full_height: d.fullHeight,
      thumb_width: d.thumb.width,
      thumb_height: d.thumb.height,
      exposure: request.exposure,
      ...(manual ? { manual: true as const } : {}),
      brightness: sc.brightness,
      ...(sc.change !== undefined ? { change: sc.change } : {}),
      scene_signature: encodeSignature(d.scene.signature),
    }));
    const thumb = derivedP.then((d) => d.thumb.jpeg);
    const preview = derivedP.then((d) => d.preview.jpeg);
    for (const p of [thumb, preview, meta, scene]) p.catch(() => undefined); // a decode error surfaces through save()
    // A visit's still is shown and published but filed in no day (web.keep_visit_stills), and is no scene
    // reference: a change is marked on the filed still that shows it.
    const transient = job.trigger === 'visit' && !config.web.keep_visit_stills;
    const stored = await store.save({ capturedAt, original, thumb, preview, meta, transient });
    const capture: SavedStill = { ...stored, meta: stillMeta(stored, await meta, store.timeZone) };
    const derived = await derivedP;
    const reading = await scene;
    if (!transient) this.scenes.remember(profile, derived.scene.signature, reading.brightness);
    const pipelineMs = performance.now() - t1;
    logger.info(
      {
        id: capture.id,
        trigger: job.trigger,
        requests: job.requests.length,
        bytes: capture.bytes,
        exposure: request.exposure,
        brightness: reading.brightness,
        change: reading.change,
        ...(reading.changed ? { changed: true } : {}),
        cameraMs: Math.round(cameraMs),
        pipelineMs: Math.round(pipelineMs),
      },
      'still captured',
    );

    store.prune().catch((err: unknown) => logger.error({ err }, 'retention pruning failed'));
    return {
      capture,
      preview: derived.preview.jpeg,
      scene: reading,
      cameraMs,
      pipelineMs,
    };
  }

  private config(): Config {
    return this.deps.settings?.config ?? this.deps.config;
  }

  /** `schedule.exposure`, or auto's current choice (deps.scheduleExposure). */
  private scheduledExposure(): Exposure | undefined {
    const fixed = this.config().schedule.exposure;
    return fixed === 'auto' ? this.deps.scheduleExposure?.() : fixed;
  }
}
