// Home Assistant MQTT discovery: a literal list of components plus one function that adds the shared fields.
import type { Topics } from './topics.ts';

export interface DiscoveryContext {
  topics: Topics;
  cameraId: string;
  cameraName: string;
  /** e.g. "rpicam" — shown as the device model. */
  backend: string;
  version: string;
  /** The web page, when it is served. */
  configurationUrl?: string;
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
        event_types: ['captured', 'failed'],
        icon: 'mdi:image-check',
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
      ...(ctx.configurationUrl ? { configuration_url: ctx.configurationUrl } : {}),
    },
    origin: { name: 'moncam', sw_version: ctx.version, support_url: 'https://github.com/moncam/moncam' },
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
  return [ctx.topics.deviceDiscovery, ...components(ctx).map(({ key, config }) => ctx.topics.entityDiscovery(config.platform, key))];
}
