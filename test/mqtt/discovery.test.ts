// Home Assistant discovery payloads against HA's own schema (test/mqtt/ha-schema.ts) and DESIGN §5.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseCommand } from '../../src/mqtt/command.ts';
import { deviceDiscovery, discoveryTopics, entityDiscovery, type DiscoveryContext } from '../../src/mqtt/discovery.ts';
import { isCommandTopic, mqttTopics } from '../../src/mqtt/topics.ts';
import {
  COMPONENT_KEYS,
  COMPONENT_REQUIRED_KEYS,
  DEVICE_DISCOVERY_KEYS,
  DEVICE_DISCOVERY_REQUIRED_KEYS,
  BINARY_SENSOR_DEVICE_CLASSES,
  DEVICE_KEYS,
  ENTITY_CATEGORIES,
  ENTITY_ID,
  FORBIDDEN_KEYS,
  ORIGIN_KEYS,
  ORIGIN_REQUIRED_KEYS,
  PLATFORM_KEYS,
  REQUIRED_KEYS,
  SENSOR_DEVICE_CLASS_UNITS,
  SHARED_OPTIONS,
  STATE_CLASSES,
  isPlatform,
  missingRequired,
  unknownKeys,
  type Platform,
} from './ha-schema.ts';

type Json = Record<string, unknown>;

function context(cameraId = 'garden', baseTopic = 'moncam', discoveryPrefix = 'homeassistant'): DiscoveryContext {
  return {
    topics: mqttTopics({ baseTopic, cameraId, discoveryPrefix }),
    cameraId,
    cameraName: `moncam ${cameraId}`,
    backend: 'rpicam',
    version: '0.1.0',
    publicUrl: `http://${cameraId}.local:5000/`,
    timelapse: true,
    timelapseGif: true,
  };
}

function asObject(value: unknown, what: string): Json {
  assert.ok(value !== null && typeof value === 'object' && !Array.isArray(value), `${what} must be an object, got ${JSON.stringify(value)}`);
  return value as Json;
}

/** The payload exactly as HA receives it: JSON text parsed back (drops undefined, fails on cycles). */
function wire(payload: Json): Json {
  return asObject(JSON.parse(JSON.stringify(payload)), 'payload');
}

function components(payload: Json): Array<[string, Json & { platform: Platform }]> {
  return Object.entries(asObject(payload.components, 'components')).map(([id, raw]) => {
    const c = asObject(raw, `component ${id}`);
    assert.ok(isPlatform(c.platform), `component ${id}: platform ${JSON.stringify(c.platform)} is not one moncam uses`);
    return [id, c as Json & { platform: Platform }];
  });
}

/** What HA ends up with for one component: shared options it does not override, then its own keys. */
function effective(top: Json, component: Json): Json {
  const shared = Object.fromEntries(Object.entries(top).filter(([k]) => SHARED_OPTIONS.has(k)));
  return { ...shared, ...component };
}

function isHttpUrl(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    const u = new URL(value);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

/** Every value of a key that names a topic (`*_topic`, `topic`), at any depth. */
function topicValues(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => topicValues(v, out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if ((k === 'topic' || k.endsWith('_topic')) && typeof v === 'string') out.push(v);
      else topicValues(v, out);
    }
  }
  return out;
}

/** HA's discovery topic matcher (discovery.py TOPIC_MATCHER), after the prefix. */
const HA_DISCOVERY_TOPIC = /^(?<component>\w+)\/(?:(?<node_id>[a-zA-Z0-9_-]+)\/)?(?<object_id>[a-zA-Z0-9_-]+)\/config$/;

const ctx = context();
const topics = ctx.topics;
const device = deviceDiscovery(ctx);
const payload = wire(device.payload);
const byId = new Map(components(payload));

/** The contract of ha-config/ and DESIGN §5: component id -> platform and entity id, for camera `garden`. */
const EXPECTED: Record<string, { platform: Platform; entityId: string }> = {
  image: { platform: 'image', entityId: 'image.moncam_garden' },
  camera: { platform: 'camera', entityId: 'camera.moncam_garden' },
  capture: { platform: 'button', entityId: 'button.moncam_garden_capture' },
  capture_event: { platform: 'event', entityId: 'event.moncam_garden_capture_event' },
  last_capture: { platform: 'sensor', entityId: 'sensor.moncam_garden_last_capture' },
  brightness: { platform: 'sensor', entityId: 'sensor.moncam_garden_brightness' },
  change: { platform: 'sensor', entityId: 'sensor.moncam_garden_change' },
  timelapse: { platform: 'sensor', entityId: 'sensor.moncam_garden_timelapse' },
  make_timelapse: { platform: 'button', entityId: 'button.moncam_garden_make_timelapse' },
  timelapse_image: { platform: 'image', entityId: 'image.moncam_garden_timelapse_image' },
  timelapse_gif: { platform: 'image', entityId: 'image.moncam_garden_timelapse_gif' },
  stale: { platform: 'binary_sensor', entityId: 'binary_sensor.moncam_garden_stale' },
  free_space: { platform: 'sensor', entityId: 'sensor.moncam_garden_free_space' },
  stills_kept: { platform: 'sensor', entityId: 'sensor.moncam_garden_stills_kept' },
  camera_backend: { platform: 'sensor', entityId: 'sensor.moncam_garden_camera_backend' },
  last_error: { platform: 'sensor', entityId: 'sensor.moncam_garden_last_error' },
  schedule: { platform: 'switch', entityId: 'switch.moncam_garden_schedule' },
  interval: { platform: 'select', entityId: 'select.moncam_garden_interval' },
  night_exposure: { platform: 'select', entityId: 'select.moncam_garden_night_exposure' },
  quality: { platform: 'number', entityId: 'number.moncam_garden_quality' },
};

function component(id: string): Json {
  const c = byId.get(id);
  assert.ok(c, `component ${id} is missing`);
  return c;
}

describe('device-based discovery (HA >= 2024.11)', () => {
  test('one retained message on <prefix>/device/moncam_<cam>/config', () => {
    assert.equal(device.topic, 'homeassistant/device/moncam_garden/config');
    const m = HA_DISCOVERY_TOPIC.exec(device.topic.slice('homeassistant/'.length));
    assert.equal(m?.groups?.component, 'device');
  });

  test('top level: only keys DEVICE_DISCOVERY_SCHEMA accepts (an unknown one rejects the whole message)', () => {
    assert.deepEqual(unknownKeys(payload, DEVICE_DISCOVERY_KEYS), []);
    for (const k of DEVICE_DISCOVERY_REQUIRED_KEYS) assert.ok(payload[k] !== undefined, `top level lacks ${k}`);
    assert.equal(payload.availability_topic, topics.availability);
    assert.equal(payload.payload_available, 'online');
    assert.equal(payload.payload_not_available, 'offline');
    assert.equal(payload.qos, 1);
  });

  test('device: known keys only, identified, named; configuration_url is an http(s) URL', () => {
    const dev = asObject(payload.device, 'device');
    assert.deepEqual(unknownKeys(dev, DEVICE_KEYS), []);
    assert.deepEqual(dev.identifiers, ['moncam_garden']);
    assert.equal(dev.name, 'moncam garden');
    assert.equal(typeof dev.manufacturer, 'string');
    assert.equal(typeof dev.model, 'string');
    assert.equal(dev.sw_version, '0.1.0');
    assert.ok(isHttpUrl(dev.configuration_url), `configuration_url ${String(dev.configuration_url)}`);
    const without = asObject(wire(deviceDiscovery({ ...ctx, publicUrl: undefined }).payload).device, 'device');
    assert.equal('configuration_url' in without, false, 'no configuration_url when the web page is not served');
  });

  test('origin: known keys only, with name; no support_url (the package names no repository)', () => {
    const origin = asObject(payload.origin, 'origin');
    assert.deepEqual(unknownKeys(origin, ORIGIN_KEYS), []);
    for (const k of ORIGIN_REQUIRED_KEYS) assert.equal(typeof origin[k], 'string', `origin lacks ${k}`);
    assert.equal(origin.name, 'moncam');
    // HA shows support_url on the device page: a placeholder would send users to someone else's repository.
    assert.equal('support_url' in origin, false);
  });

  test('exactly the components of DESIGN §5, with the expected platforms', () => {
    assert.deepEqual([...byId.keys()].sort(), Object.keys(EXPECTED).sort());
    for (const [id, { platform }] of Object.entries(EXPECTED)) assert.equal(component(id).platform, platform, id);
  });

  for (const [id, { platform, entityId }] of Object.entries(EXPECTED)) {
    test(`${id} (${platform}): every key is one HA's ${platform} schema knows; required keys present`, () => {
      const c = component(id);
      assert.deepEqual(unknownKeys(c, COMPONENT_KEYS[platform]), [], `${id}: keys HA would drop silently`);
      assert.deepEqual(missingRequired(c, COMPONENT_REQUIRED_KEYS), []);
      assert.deepEqual(missingRequired(effective(payload, c), REQUIRED_KEYS[platform]), []);
      for (const k of FORBIDDEN_KEYS) assert.equal(k in c, false, `${id} must not use ${k}`);
    });

    test(`${id}: unique_id, and default_entity_id ${entityId} (domain prefix, no object_id)`, () => {
      const c = component(id);
      assert.equal(typeof c.unique_id, 'string');
      assert.match(String(c.unique_id), /^moncam_garden_/);
      assert.equal(c.default_entity_id, entityId);
      assert.match(entityId, ENTITY_ID);
      assert.ok(entityId.startsWith(`${platform}.`));
      assert.equal('object_id' in c, false);
    });

    test(`${id}: QoS 1 on the component itself, availability from the device message`, () => {
      const c = component(id);
      assert.equal(c.qos, 1, 'HA up to 2026.5 ignores a shared qos (core#170166): the component must carry it');
      const e = effective(payload, c);
      assert.equal(e.availability_topic, topics.availability);
      assert.equal(e.payload_available, 'online');
      assert.equal(e.payload_not_available, 'offline');
      assert.equal(c.enabled_by_default === false, false, `${id} must be enabled`);
      assert.ok(c.name === null || typeof c.name === 'string');
      if (c.icon !== undefined) assert.match(String(c.icon), /^mdi:[a-z0-9-]+$/);
    });
  }

  test('image: the main entity, raw JPEG on the image topic, attributes alongside', () => {
    const c = component('image');
    assert.equal(c.name, null, 'the main entity takes the device name');
    assert.equal(c.image_topic, topics.image);
    assert.equal(c.image_topic, 'moncam/garden/image');
    assert.equal('url_topic' in c, false);
    assert.equal('image_encoding' in c, false, 'payload is raw bytes, not base64');
    assert.equal(c.content_type, 'image/jpeg');
    assert.equal(c.json_attributes_topic, 'moncam/garden/image/attributes');
  });

  test('camera: same image topic, raw bytes, enabled', () => {
    const c = component('camera');
    assert.equal(c.topic, topics.image);
    assert.equal('image_encoding' in c, false);
    assert.equal(c.json_attributes_topic, topics.imageAttributes);
  });

  test('button: command_topic moncam/capture/set, payload_press JSON naming this camera, not retained', () => {
    const c = component('capture');
    assert.equal(c.command_topic, 'moncam/capture/set');
    assert.equal(c.command_topic, topics.commandAll);
    assert.equal(typeof c.payload_press, 'string');
    const press = JSON.parse(String(c.payload_press)) as Json;
    assert.equal(press.camera, 'garden');
    const cmd = parseCommand(Buffer.from(String(c.payload_press)));
    assert.ok(cmd.ok, `the daemon must accept its own button: ${JSON.stringify(cmd)}`);
    assert.equal(cmd.camera, 'garden');
    assert.notEqual(c.retain, true, 'retained commands are never honoured');
  });

  test('event: state_topic moncam/<cam>/event, event_types [captured, failed, changed, timelapse]', () => {
    const c = component('capture_event');
    assert.equal(c.state_topic, 'moncam/garden/event');
    assert.deepEqual(c.event_types, ['captured', 'failed', 'changed', 'timelapse']);
  });

  test('scene sensors: brightness and change in % from the image attributes', () => {
    for (const [id, field] of [
      ['brightness', 'brightness'],
      ['change', 'change'],
    ] as const) {
      const c = component(id);
      assert.equal(c.state_topic, 'moncam/garden/image/attributes');
      assert.equal(c.value_template, `{{ value_json.${field} }}`);
      assert.equal(c.unit_of_measurement, '%');
      assert.equal(c.state_class, 'measurement');
    }
  });

  test('timelapse: a timestamp sensor with the URL in its attributes, a button, and an image entity on public_url', () => {
    const sensor = component('timelapse');
    assert.equal(sensor.state_topic, 'moncam/garden/timelapse');
    assert.equal(sensor.json_attributes_topic, 'moncam/garden/timelapse');
    assert.equal(sensor.device_class, 'timestamp');
    const button = component('make_timelapse');
    assert.equal(button.command_topic, 'moncam/garden/timelapse/set');
    assert.equal(button.payload_press, 'today');
    const image = component('timelapse_image');
    assert.equal(image.url_topic, 'moncam/garden/timelapse');
    assert.equal(image.url_template, '{{ "http://garden.local:5000" ~ value_json.url }}');
    assert.equal('image_topic' in image, false, 'image_topic and url_topic are exclusive');
    assert.equal('content_type' in image, false, 'content_type is not allowed with url_topic');
    const without = wire(deviceDiscovery({ ...ctx, publicUrl: undefined }).payload).components as Json;
    assert.equal('timelapse_image' in without, false, 'no image entity HA could not fetch');
    assert.equal('timelapse_gif' in without, false, 'no image entity HA could not fetch');
    assert.ok('timelapse' in without);
  });

  test('timelapse GIF: an image entity on the GIF URL (falling back to the WebP of a timelapse without one), only with timelapse.gif', () => {
    const gif = component('timelapse_gif');
    assert.equal(gif.url_topic, 'moncam/garden/timelapse');
    assert.equal(gif.url_template, '{{ "http://garden.local:5000" ~ (value_json.gif_url or value_json.url) }}');
    assert.equal('content_type' in gif, false, 'content_type is not allowed with url_topic');
    const off = wire(deviceDiscovery({ ...ctx, timelapseGif: false }).payload).components as Json;
    assert.equal('timelapse_gif' in off, false);
    assert.ok('timelapse_image' in off);
    assert.ok(discoveryTopics({ ...ctx, timelapseGif: false }).includes('homeassistant/image/moncam_garden/timelapse_gif/config'), 'removed even when off now');
  });

  test('sensor: last capture as a timestamp', () => {
    const c = component('last_capture');
    assert.equal(c.state_topic, 'moncam/garden/last_capture');
    assert.equal(c.device_class, 'timestamp');
    assert.equal('unit_of_measurement' in c, false);
  });

  test('health: a Stale problem sensor with the reason in its attributes, and diagnostic sensors, all on the health topic', () => {
    const stale = component('stale');
    assert.equal(stale.platform, 'binary_sensor');
    assert.equal(stale.device_class, 'problem');
    assert.ok(BINARY_SENSOR_DEVICE_CLASSES.has(String(stale.device_class)));
    assert.equal(stale.state_topic, 'moncam/garden/health');
    assert.equal(stale.json_attributes_topic, 'moncam/garden/health');
    assert.match(String(stale.json_attributes_template), /"reason": value_json\.reason/);
    assert.equal('entity_category' in stale, false, 'a problem the user must see, not hidden among diagnostics');
    for (const id of ['free_space', 'stills_kept', 'camera_backend', 'last_error']) {
      const c = component(id);
      assert.equal(c.entity_category, 'diagnostic', id);
      assert.ok(ENTITY_CATEGORIES.has(String(c.entity_category)));
      assert.equal(c.state_topic, 'moncam/garden/health', id);
    }
    const free = component('free_space');
    assert.equal(free.device_class, 'data_size');
    assert.ok(SENSOR_DEVICE_CLASS_UNITS.data_size!.has(String(free.unit_of_measurement)), `unit ${String(free.unit_of_measurement)}`);
    assert.equal(free.unit_of_measurement, 'GiB');
    assert.match(String(free.value_template), /value_json\.free_bytes \/ 1073741824/, 'bytes to GiB (2^30)');
    assert.equal(typeof free.suggested_display_precision, 'number');
    for (const id of ['free_space', 'stills_kept']) assert.ok(STATE_CLASSES.has(String(component(id).state_class)), id);
    assert.equal('unit_of_measurement' in component('camera_backend'), false, 'text sensors have no unit');
    assert.equal('state_class' in component('camera_backend'), false);
    assert.match(String(component('last_error').value_template), /\[:255\].*else 'none'/, 'HA refuses states over 255 characters');
  });

  test('every sensor device class has a unit HA accepts for it', () => {
    for (const [id, c] of byId) {
      if (c.platform !== 'sensor' || c.device_class === undefined) continue;
      const units = SENSOR_DEVICE_CLASS_UNITS[String(c.device_class)];
      assert.ok(units, `${id}: device class ${String(c.device_class)} is not in the table`);
      if (units.size === 0) assert.equal(c.unit_of_measurement, undefined, id);
      else assert.ok(units.has(String(c.unit_of_measurement)), `${id}: ${String(c.unit_of_measurement)}`);
    }
  });

  test('controls: state and command topics under moncam/<cam>/, options the daemon accepts, quality range from the schema', () => {
    for (const id of ['schedule', 'interval', 'night_exposure', 'quality']) {
      const c = component(id);
      assert.equal(c.state_topic, `moncam/garden/${id}`);
      assert.equal(c.command_topic, `moncam/garden/${id}/set`);
      assert.equal(isCommandTopic('moncam', String(c.command_topic)), true, 'the embedded broker guards it');
      assert.equal(c.entity_category, 'config');
      assert.notEqual(c.retain, true, 'retained commands are never honoured');
    }
    assert.equal(component('schedule').payload_on, 'ON');
    assert.equal(component('schedule').payload_off, 'OFF');
    assert.deepEqual(component('interval').options, ['off', '5 min', '15 min', '30 min', 'hourly', '3 h', 'daily', 'custom']);
    assert.deepEqual(component('night_exposure').options, ['off', 'auto', 'always', 'custom']);
    const q = component('quality');
    assert.deepEqual([q.min, q.max, q.step], [1, 100, 1]);
    assert.ok(['auto', 'box', 'slider'].includes(String(q.mode)));
  });

  test('the device message survives JSON unchanged (no undefined values, nothing lost on the wire)', () => {
    assert.deepEqual(payload, device.payload);
  });
});

describe('per-entity discovery (mqtt.legacy_discovery, HA < 2024.11)', () => {
  const legacy = entityDiscovery(ctx).map((m) => ({ topic: m.topic, payload: wire(m.payload) }));

  test('one message per component on <prefix>/<platform>/moncam_<cam>/<component>/config', () => {
    assert.deepEqual(
      legacy.map((m) => m.topic).sort(),
      Object.entries(EXPECTED)
        .map(([id, { platform }]) => `homeassistant/${platform}/moncam_garden/${id}/config`)
        .sort(),
    );
    for (const m of legacy) {
      const match = HA_DISCOVERY_TOPIC.exec(m.topic.slice('homeassistant/'.length));
      assert.ok(match, m.topic);
      assert.equal(match.groups?.node_id, 'moncam_garden');
    }
  });

  for (const [id, { platform }] of Object.entries(EXPECTED)) {
    test(`${id}: ${platform} keys only (no platform key), with device, origin and availability`, () => {
      const m = legacy.find((x) => x.topic === `homeassistant/${platform}/moncam_garden/${id}/config`);
      assert.ok(m, `no legacy message for ${id}`);
      const p = m.payload;
      assert.deepEqual(unknownKeys(p, PLATFORM_KEYS[platform]), [], `${id}: keys HA would drop silently`);
      assert.equal('platform' in p, false, '`platform` belongs only in device messages');
      assert.deepEqual(missingRequired(p, REQUIRED_KEYS[platform]), []);
      assert.deepEqual(unknownKeys(asObject(p.device, 'device'), DEVICE_KEYS), []);
      assert.deepEqual(asObject(p.device, 'device'), payload.device);
      assert.deepEqual(unknownKeys(asObject(p.origin, 'origin'), ORIGIN_KEYS), []);
      assert.deepEqual(p.origin, payload.origin);
      assert.equal(p.availability_topic, topics.availability);
      assert.equal(p.payload_available, 'online');
      assert.equal(p.payload_not_available, 'offline');
      assert.equal(p.qos, 1);
      const { platform: _p, ...same } = component(id);
      for (const [k, v] of Object.entries(same)) assert.deepEqual(p[k], v, `${id}.${k} differs from the device message`);
      for (const k of FORBIDDEN_KEYS) assert.equal(k in p, false, `${id} must not use ${k}`);
    });
  }

  test('discoveryTopics() lists the device topic and every per-entity topic (for removal)', () => {
    assert.deepEqual(discoveryTopics(ctx).sort(), [device.topic, ...legacy.map((m) => m.topic)].sort());
  });
});

describe('ids across a fleet', () => {
  // Adversarial ids: prefixes of each other, and ids that end like component ids.
  const fleet = ['garden', 'garden_capture', 'garden_last', 'front_door', 'frontdoor', 'a', 'a_last', 'cam_2', 'capture'];
  const all = fleet.flatMap((cam) => components(wire(deviceDiscovery(context(cam)).payload)).map(([, c]) => ({ cam, c })));

  test('unique_id: unique per platform across cameras (HA keys its registry by domain + unique_id) and names the camera', () => {
    for (const platform of new Set(all.map((x) => x.c.platform))) {
      const ids = all.filter((x) => x.c.platform === platform).map((x) => String(x.c.unique_id));
      assert.equal(new Set(ids).size, ids.length, `${platform}: duplicate unique_id in ${ids.join(', ')}`);
    }
    for (const { cam, c } of all) assert.ok(String(c.unique_id).startsWith(`moncam_${cam}_`), String(c.unique_id));
  });

  test('unique_id: unique across every platform for realistic camera ids', () => {
    const realistic = ['garden', 'front_door', 'garage', 'backyard', 'cam_1', 'cam_2'];
    const ids = realistic.flatMap((cam) => components(wire(deviceDiscovery(context(cam)).payload)).map(([, c]) => String(c.unique_id)));
    assert.equal(new Set(ids).size, ids.length, ids.join(', '));
  });

  test('default_entity_id: unique across the fleet, valid entity ids', () => {
    const ids = all.map((x) => String(x.c.default_entity_id));
    assert.equal(new Set(ids).size, ids.length, `duplicate default_entity_id in ${ids.join(', ')}`);
    for (const id of ids) assert.match(id, ENTITY_ID);
  });

  test('discovery topics: distinct per camera; device message topics never collide', () => {
    const t = fleet.flatMap((cam) => discoveryTopics(context(cam)));
    assert.equal(new Set(t).size, t.length);
  });
});

describe('the discovery prefix holds config topics only', () => {
  for (const [base, prefix] of [
    ['moncam', 'homeassistant'],
    ['cams/moncam', 'ha'],
  ] as const) {
    test(`base ${base}, prefix ${prefix}`, () => {
      const c = context('garden', base, prefix);
      const t = c.topics;
      const published = [t.availability, t.image, t.imageAttributes, t.lastCapture, t.event];
      const commands = [t.commandAll, t.command];
      for (const topic of [...published, ...commands]) {
        assert.ok(topic.startsWith(`${base}/`), topic);
        assert.ok(!topic.startsWith(`${prefix}/`), `${topic} is under the discovery prefix`);
      }
      // Every topic a discovery payload names (state, image, attributes, availability, commands) is outside the prefix.
      const named = [...topicValues(deviceDiscovery(c).payload), ...entityDiscovery(c).flatMap((m) => topicValues(m.payload))];
      assert.ok(named.length > 0);
      for (const topic of named) assert.ok(!topic.startsWith(`${prefix}/`), `${topic} is under the discovery prefix`);
      // Under the prefix: only config topics that HA's matcher accepts, plus HA's own status topic (subscribed, never published).
      for (const topic of discoveryTopics(c)) {
        assert.ok(topic.startsWith(`${prefix}/`), topic);
        assert.match(topic.slice(prefix.length + 1), HA_DISCOVERY_TOPIC, topic);
      }
      const underPrefix = Object.values(t).filter((v): v is string => typeof v === 'string' && v.startsWith(`${prefix}/`));
      assert.deepEqual(underPrefix.sort(), [t.deviceDiscovery, t.haStatus].sort());
      assert.equal(t.haStatus, `${prefix}/status`);
    });
  }
});

describe('the key table itself', () => {
  test('every platform knows unique_id, default_entity_id, qos and availability; none knows object_id', () => {
    for (const [platform, keys] of Object.entries(PLATFORM_KEYS)) {
      for (const k of ['unique_id', 'default_entity_id', 'qos', 'availability_topic', 'device', 'name']) assert.ok(keys.has(k), `${platform} lacks ${k}`);
      for (const k of FORBIDDEN_KEYS) assert.equal(keys.has(k), false, `${platform} must not list ${k}`);
      assert.equal(keys.has('platform'), false, 'platform is a component-only key');
    }
  });

  test('a misspelled key is caught', () => {
    assert.deepEqual(unknownKeys({ image_topic: 'x', imgae_topic: 'y' }, COMPONENT_KEYS.image), ['imgae_topic']);
    assert.deepEqual(unknownKeys({ event_type: ['captured'] }, COMPONENT_KEYS.event), ['event_type']);
    assert.deepEqual(unknownKeys({ object_id: 'x' }, COMPONENT_KEYS.sensor), ['object_id']);
  });
});
