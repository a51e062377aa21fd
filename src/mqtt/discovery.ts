// Home Assistant MQTT discovery: a literal list of components plus one function that adds the shared fields.
// Over 300 lines: the list is data (one literal per entity, 19 of them); splitting it would hide what HA is offered.
import type { Topics } from './topics.ts';
import { JPEG_QUALITY } from '../config/schema.ts';
import { INTERVAL_OPTIONS, NIGHT_OPTIONS } from '../settings/choices.ts';

export interface DiscoveryContext {
  topics: Topics;
  cameraId: string;
  cameraName: string;
  /** e.g. "rpicam" — shown as the device model. */
  backend: string;
  version: string;
  /** Where HA reaches the web page (`web.public_url`): the device link and the timelapse image entity. */
  publicUrl?: string;
  /** Day timelapses are built (their sensor, button and image entity are offered). */
  timelapse?: boolean;
  /** A GIF is made with each timelapse (timelapse.gif): offered as its own image entity, for notifications. */
  timelapseGif?: boolean;
}

type Component = Record<string, unknown> & { platform: string };

/** DESIGN §5: QoS 1 throughout. */
const QOS = 1;

/** The components moncam offers; `key` is the component id in the device message and in unique ids. */
function components(ctx: DiscoveryContext): Array<{ key: string; config: Component }> {
  const { topics: t, cameraId } = ctx;
  return [
    {
      key: 'image',
      config: {
        platform: 'image',
        name: null, // the main entity takes the device's name
        image_topic: t.image,
        content_type: 'image/jpeg',
        json_attributes_topic: t.imageAttributes,
        icon: 'mdi:cctv',
      },
    },
    {
      key: 'camera',
      config: {
        platform: 'camera',
        name: 'Camera',
        topic: t.image,
        json_attributes_topic: t.imageAttributes,
        icon: 'mdi:camera',
      },
    },
    {
      key: 'capture',
      config: {
        platform: 'button',
        name: 'Take still',
        command_topic: t.commandAll,
        payload_press: JSON.stringify({ camera: cameraId, source: 'home_assistant' }),
        icon: 'mdi:camera-iris',
      },
    },
    {
      key: 'capture_event',
      config: {
        platform: 'event',
        name: 'Capture',
        state_topic: t.event,
        // changed: the scene changed since the previous still (scene.change_threshold); timelapse: a day timelapse was built.
        event_types: ctx.timelapse ? ['captured', 'failed', 'changed', 'timelapse'] : ['captured', 'failed', 'changed'],
        icon: 'mdi:image-check',
      },
    },
    // Scene sensors from the image attributes; a null there renders "None", which HA takes as unknown.
    {
      key: 'brightness',
      config: {
        platform: 'sensor',
        name: 'Brightness',
        state_topic: t.imageAttributes,
        value_template: '{{ value_json.brightness }}',
        unit_of_measurement: '%',
        state_class: 'measurement',
        suggested_display_precision: 0,
        icon: 'mdi:brightness-6',
      },
    },
    {
      key: 'change',
      config: {
        platform: 'sensor',
        name: 'Scene change',
        state_topic: t.imageAttributes,
        value_template: '{{ value_json.change }}',
        unit_of_measurement: '%',
        state_class: 'measurement',
        suggested_display_precision: 0,
        icon: 'mdi:compare',
      },
    },
    {
      key: 'last_capture',
      config: {
        platform: 'sensor',
        name: 'Last capture',
        state_topic: t.lastCapture,
        device_class: 'timestamp',
        icon: 'mdi:clock-outline',
      },
    },
    ...healthComponents(ctx),
    ...(ctx.timelapse ? timelapseComponents(ctx) : []),
    ...controlComponents(ctx),
  ];
}

/** Settings HA can change (src/mqtt/controls.ts): state retained on the state topic, commands on `/set`. */
function controlComponents(ctx: DiscoveryContext): Array<{ key: string; config: Component }> {
  const t = ctx.topics;
  return [
    {
      key: 'schedule',
      config: {
        platform: 'switch',
        name: 'Scheduled stills',
        state_topic: t.schedule,
        command_topic: t.scheduleCommand,
        payload_on: 'ON',
        payload_off: 'OFF',
        entity_category: 'config',
        icon: 'mdi:calendar-clock',
      },
    },
    {
      key: 'interval',
      config: {
        platform: 'select',
        name: 'Interval',
        state_topic: t.interval,
        command_topic: t.intervalCommand,
        options: [...INTERVAL_OPTIONS],
        entity_category: 'config',
        icon: 'mdi:timer-outline',
      },
    },
    {
      key: 'night_exposure',
      config: {
        platform: 'select',
        name: 'Night exposure',
        state_topic: t.nightExposure,
        command_topic: t.nightExposureCommand,
        options: [...NIGHT_OPTIONS],
        entity_category: 'config',
        icon: 'mdi:weather-night',
      },
    },
    {
      key: 'quality',
      config: {
        platform: 'number',
        name: 'Quality',
        state_topic: t.quality,
        command_topic: t.qualityCommand,
        min: JPEG_QUALITY.min,
        max: JPEG_QUALITY.max,
        step: 1,
        mode: 'box',
        entity_category: 'config',
        icon: 'mdi:quality-high',
      },
    },
  ];
}

/**
 * The camera's status (health topic, src/health/status.ts): the Stale problem sensor with the reason as
 * attributes, and diagnostic sensors. HA renders a template's None as unknown.
 */
function healthComponents(ctx: DiscoveryContext): Array<{ key: string; config: Component }> {
  const t = ctx.topics;
  return [
    {
      key: 'stale',
      config: {
        platform: 'binary_sensor',
        name: 'Stale',
        device_class: 'problem',
        state_topic: t.health,
        value_template: "{{ 'ON' if value_json.stale else 'OFF' }}",
        json_attributes_topic: t.health,
        json_attributes_template:
          '{{ {"state": value_json.state, "reason": value_json.reason, "advice": value_json.advice, "latest_at": value_json.latest_at, "next_at": value_json.next_at} | tojson }}',
      },
    },
    {
      key: 'free_space',
      config: {
        platform: 'sensor',
        name: 'Free space',
        entity_category: 'diagnostic',
        state_topic: t.health,
        value_template: '{{ (value_json.free_bytes / 1073741824) | round(3) if value_json.free_bytes is number else None }}',
        device_class: 'data_size',
        unit_of_measurement: 'GiB',
        state_class: 'measurement',
        suggested_display_precision: 1,
        icon: 'mdi:harddisk',
      },
    },
    {
      key: 'stills_kept',
      config: {
        platform: 'sensor',
        name: 'Stills kept',
        entity_category: 'diagnostic',
        state_topic: t.health,
        value_template: '{{ value_json.stills_kept }}',
        state_class: 'measurement',
        icon: 'mdi:image-multiple',
      },
    },
    {
      key: 'camera_backend',
      config: {
        platform: 'sensor',
        name: 'Camera backend',
        entity_category: 'diagnostic',
        state_topic: t.health,
        value_template: '{{ value_json.backend }}',
        icon: 'mdi:camera-outline',
      },
    },
    {
      key: 'last_error',
      config: {
        platform: 'sensor',
        name: 'Last error',
        entity_category: 'diagnostic',
        state_topic: t.health,
        // HA refuses states over 255 characters; the whole error is in the attributes.
        value_template: "{{ (value_json.last_error.code ~ ': ' ~ value_json.last_error.message)[:255] if value_json.last_error else 'none' }}",
        json_attributes_topic: t.health,
        json_attributes_template: '{{ (value_json.last_error or {}) | tojson }}',
        icon: 'mdi:alert-circle-outline',
      },
    },
  ];
}

function timelapseComponents(ctx: DiscoveryContext): Array<{ key: string; config: Component }> {
  const t = ctx.topics;
  return [
    {
      key: 'timelapse',
      config: {
        platform: 'sensor',
        name: 'Timelapse',
        state_topic: t.timelapse,
        value_template: '{{ value_json.created_at }}',
        device_class: 'timestamp',
        json_attributes_topic: t.timelapse, // day, url (path with its access key), frames, ...
        icon: 'mdi:filmstrip',
      },
    },
    {
      key: 'make_timelapse',
      config: {
        platform: 'button',
        name: 'Make timelapse',
        command_topic: t.timelapseCommand,
        payload_press: 'today',
        icon: 'mdi:movie-open-play',
      },
    },
    // HA fetches the animated WebP and GIF itself, so only with an address it can reach.
    ...(ctx.publicUrl
      ? [
          {
            key: 'timelapse_image',
            config: {
              platform: 'image',
              name: 'Timelapse',
              url_topic: t.timelapse,
              url_template: `{{ ${JSON.stringify(ctx.publicUrl.replace(/\/+$/, ''))} ~ value_json.url }}`,
              icon: 'mdi:filmstrip-box',
            },
          },
        ]
      : []),
    // The GIF for phone notifications (they take no WebP): attach /api/image_proxy/image.<this entity>.
    // A timelapse built before GIFs existed has no gif_url: the WebP is shown until the next build.
    ...(ctx.publicUrl && ctx.timelapseGif
      ? [
          {
            key: 'timelapse_gif',
            config: {
              platform: 'image',
              name: 'Timelapse GIF',
              url_topic: t.timelapse,
              url_template: `{{ ${JSON.stringify(ctx.publicUrl.replace(/\/+$/, ''))} ~ (value_json.gif_url or value_json.url) }}`,
              icon: 'mdi:file-gif-box',
            },
          },
        ]
      : []),
  ];
}

function shared(ctx: DiscoveryContext) {
  return {
    device: {
      identifiers: [`moncam_${ctx.cameraId}`],
      name: ctx.cameraName,
      manufacturer: 'moncam',
      model: `Camera (${ctx.backend})`,
      sw_version: ctx.version,
      ...(ctx.publicUrl ? { configuration_url: ctx.publicUrl } : {}),
    },
    origin: { name: 'moncam', sw_version: ctx.version },
    availability_topic: ctx.topics.availability,
    payload_available: 'online',
    payload_not_available: 'offline',
    qos: QOS,
  };
}

/**
 * Adds what every component needs: a unique id, the entity id HA should create (no object_id), and QoS 1.
 * qos is repeated per component although the device message also carries it: HA up to 2026.5.x accepted
 * a shared `qos` but did not pass it on to the components (home-assistant/core#170166, fixed by #170195),
 * so they subscribed and pressed the button at QoS 0.
 */
function withIds(ctx: DiscoveryContext, key: string, config: Component): Component {
  const objectId = key === 'image' || key === 'camera' ? `moncam_${ctx.cameraId}` : `moncam_${ctx.cameraId}_${key}`;
  return { ...config, qos: QOS, unique_id: `moncam_${ctx.cameraId}_${key}`, default_entity_id: `${config.platform}.${objectId}` };
}

/** The one retained device-based discovery message (HA >= 2024.11). */
export function deviceDiscovery(ctx: DiscoveryContext): { topic: string; payload: Record<string, unknown> } {
  const cmps = Object.fromEntries(components(ctx).map(({ key, config }) => [key, withIds(ctx, key, config)]));
  return { topic: ctx.topics.deviceDiscovery, payload: { ...shared(ctx), components: cmps } };
}

/** Per-entity discovery messages for HA older than 2024.11. */
export function entityDiscovery(ctx: DiscoveryContext): Array<{ topic: string; payload: Record<string, unknown> }> {
  return components(ctx).map(({ key, config }) => {
    const { platform, ...rest } = withIds(ctx, key, config);
    return { topic: ctx.topics.entityDiscovery(platform, key), payload: { ...shared(ctx), ...rest } };
  });
}

/** Every discovery topic this camera may have published, for removal (empty retained payloads). */
export function discoveryTopics(ctx: DiscoveryContext): string[] {
  const all = components({ ...ctx, timelapse: true, timelapseGif: true, publicUrl: ctx.publicUrl ?? 'http://localhost' });
  return [ctx.topics.deviceDiscovery, ...all.map(({ key, config }) => ctx.topics.entityDiscovery(config.platform, key))];
}
