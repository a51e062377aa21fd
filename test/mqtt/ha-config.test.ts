// ha-config/ (the YAML users copy into Home Assistant) against what the daemon really publishes:
// topics from mqttTopics(), entity ids and unique ids from deviceDiscovery(), keys from ha-schema.ts.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parseDocument } from 'yaml';
import { parseCommand } from '../../src/mqtt/command.ts';
import { deviceDiscovery, discoveryTopics, type DiscoveryContext } from '../../src/mqtt/discovery.ts';
import { mqttTopics } from '../../src/mqtt/topics.ts';
import { inputTag } from './ha-automation-schema.ts';
import { DEVICE_KEYS, PLATFORMS, PLATFORM_KEYS, REQUIRED_KEYS, SHARED_OPTIONS, missingRequired, unknownKeys, type Platform } from './ha-schema.ts';

type Json = Record<string, unknown>;

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const DIR = path.join(ROOT, 'ha-config');

const topics = mqttTopics({ baseTopic: 'moncam', cameraId: 'garden', discoveryPrefix: 'homeassistant' });
// As the daemon runs with timelapses on and web.public_url set (the manual YAML's image entity needs it).
const ctx: DiscoveryContext = {
  topics,
  cameraId: 'garden',
  cameraName: 'moncam garden',
  backend: 'rpicam',
  version: '0.1.0',
  timelapse: true,
  timelapseGif: true,
  publicUrl: 'http://garden.local:5000',
};
const device = deviceDiscovery(ctx);
const top = JSON.parse(JSON.stringify(device.payload)) as Json;
const discovered = Object.values(top.components as Record<string, Json>) as Array<Json & { platform: Platform }>;

const ENTITY_IDS = new Set(discovered.map((c) => String(c.default_entity_id)));
const KNOWN_TOPICS = new Set([...Object.values(topics).filter((v): v is string => typeof v === 'string'), ...discoveryTopics(ctx)]);

/** The platform's main component (the first one discovery lists), or the one with this key. */
function byPlatform(platform: Platform, key?: string): Json {
  const c = discovered.find((x) => x.platform === platform && (key === undefined || x.unique_id === `moncam_garden_${key}`));
  assert.ok(c, `discovery has no ${platform}${key ? ` ${key}` : ''}`);
  return c;
}

function entityId(platform: Platform, key?: string): string {
  return String(byPlatform(platform, key).default_entity_id);
}

function asObject(value: unknown, what: string): Json {
  assert.ok(value !== null && typeof value === 'object' && !Array.isArray(value), `${what} must be a mapping, got ${JSON.stringify(value)}`);
  return value as Json;
}

function asArray(value: unknown, what: string): unknown[] {
  assert.ok(Array.isArray(value), `${what} must be a list, got ${JSON.stringify(value)}`);
  return value;
}

/** Parses strictly: duplicate keys, errors and warnings fail (HA's loader would refuse or surprise). */
function loadYaml(file: string): { text: string; data: unknown } {
  const text = fs.readFileSync(path.join(DIR, file), 'utf8');
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true, customTags: [inputTag] });
  assert.deepEqual(
    [...doc.errors, ...doc.warnings].map((e) => e.message),
    [],
    `${file} does not parse cleanly`,
  );
  return { text, data: doc.toJS({ maxAliasCount: 100 }) as unknown };
}

/** Every string in a parsed document (values and keys), at any depth. */
function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) value.forEach((v) => strings(v, out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      out.push(k);
      strings(v, out);
    }
  }
  return out;
}

/** Every mapping in a parsed document, at any depth. */
function mappings(value: unknown, out: Json[] = []): Json[] {
  if (Array.isArray(value)) value.forEach((v) => mappings(v, out));
  else if (value && typeof value === 'object') {
    out.push(value as Json);
    Object.values(value).forEach((v) => mappings(v, out));
  }
  return out;
}

/** moncam entity ids anywhere in a text: `<domain>.moncam_...`. */
const MONCAM_ENTITY = /(?<![\w.])[a-z_]+\.moncam_[a-z0-9_]+/g;
/** Topic-like tokens: `moncam/...` or `homeassistant/...`, not inside a longer path or URL. */
const TOPIC_TOKEN = /(?<![\w./-])(?:moncam|homeassistant)\/[A-Za-z0-9_/#+-]*/g;

/** MQTT filter matching (+ one level, # the rest). */
function matches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
}

function assertKnownTopic(token: string, where: string): void {
  if (token.endsWith('/')) return; // a placeholder such as `moncam/<cam>/...` in prose
  if (token.includes('#') || token.includes('+')) {
    assert.ok(
      [...KNOWN_TOPICS].some((t) => matches(token, t)),
      `${where}: filter ${token} matches no topic moncam uses`,
    );
    return;
  }
  assert.ok(KNOWN_TOPICS.has(token), `${where}: ${token} is not a topic moncam uses (known: ${[...KNOWN_TOPICS].join(', ')})`);
}

function assertKnownEntities(text: string, where: string): string[] {
  const found = [...text.matchAll(MONCAM_ENTITY)].map((m) => m[0]);
  for (const id of found) assert.ok(ENTITY_IDS.has(id), `${where}: ${id} is not an entity discovery creates (${[...ENTITY_IDS].join(', ')})`);
  return found;
}

const yamlFiles = fs
  .readdirSync(DIR)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort();

describe('ha-config/: the contract it is checked against', () => {
  test('the daemon topics for camera garden are the documented ones', () => {
    assert.equal(topics.image, 'moncam/garden/image');
    assert.equal(topics.imageAttributes, 'moncam/garden/image/attributes');
    assert.equal(topics.lastCapture, 'moncam/garden/last_capture');
    assert.equal(topics.event, 'moncam/garden/event');
    assert.equal(topics.availability, 'moncam/garden/availability');
    assert.equal(topics.commandAll, 'moncam/capture/set');
  });

  test('the folder holds the README and the three YAML files', () => {
    assert.ok(fs.existsSync(path.join(DIR, 'README.md')));
    for (const f of ['automations.yaml', 'dashboard-card.yaml', 'mqtt-manual.yaml']) assert.ok(yamlFiles.includes(f), `ha-config/${f} is missing`);
  });
});

describe('ha-config/*.yaml: every topic and entity id is one the daemon publishes', () => {
  for (const file of yamlFiles) {
    test(file, () => {
      const { text, data } = loadYaml(file);
      // Parsed values: a value that is a topic must be a real one; entity ids inside templates and URLs too.
      for (const s of strings(data)) {
        if (/^(?:moncam|homeassistant)\//.test(s)) assertKnownTopic(s, file);
        assertKnownEntities(s, file);
      }
      // Raw text, comments included: users read those too.
      for (const m of text.matchAll(TOPIC_TOKEN)) assertKnownTopic(m[0], `${file} (text)`);
      assertKnownEntities(text, `${file} (text)`);
    });
  }
});

describe('ha-config/mqtt-manual.yaml: the same entities as discovery', () => {
  const { data } = loadYaml('mqtt-manual.yaml');
  const mqtt = asObject(asObject(data, 'mqtt-manual.yaml').mqtt, 'mqtt');

  test('one entry per platform discovery creates, nothing else', () => {
    assert.deepEqual(Object.keys(mqtt).sort(), [...new Set(discovered.map((c) => c.platform))].sort());
    for (const p of Object.keys(mqtt)) assert.ok((PLATFORMS as readonly string[]).includes(p), p);
  });

  test('one entry per component discovery creates, nothing else', () => {
    const manual = PLATFORMS.flatMap((p) =>
      mqtt[p] === undefined ? [] : asArray(mqtt[p], `mqtt.${p}`).map((i) => `${p}:${String(asObject(i, p).unique_id)}`),
    );
    assert.deepEqual(manual.sort(), discovered.map((c) => `${c.platform}:${String(c.unique_id)}`).sort());
  });

  for (const disc of discovered) {
    const platform = disc.platform;
    test(`${platform} ${String(disc.unique_id)}: keys HA's ${platform} schema accepts, same unique_id, entity id and topics as discovery`, () => {
      const items = asArray(mqtt[platform], `mqtt.${platform}`).map((i, n) => asObject(i, `mqtt.${platform}[${n}]`));
      const item = items.find((i) => i.unique_id === disc.unique_id);
      assert.ok(item, `no mqtt.${platform} entry with unique_id ${String(disc.unique_id)}`);
      // Manual YAML is validated strictly by HA: an unknown key is a configuration error.
      assert.deepEqual(unknownKeys(item, PLATFORM_KEYS[platform]), [], `mqtt.${platform}: keys HA rejects`);
      assert.deepEqual(missingRequired(item, REQUIRED_KEYS[platform]), []);
      assert.equal(item.unique_id, disc.unique_id);
      assert.equal(item.default_entity_id, disc.default_entity_id);
      const shared = Object.fromEntries(Object.entries(top).filter(([k]) => SHARED_OPTIONS.has(k)));
      const effective: Json = { ...shared, ...disc };
      delete effective.platform;
      // Everything discovery configures is configured the same way here...
      for (const [k, v] of Object.entries(effective)) assert.deepEqual(item[k], v, `mqtt.${platform}.${k}`);
      // ...and the rest is only the device link and an explicit retain: false.
      for (const k of Object.keys(item).filter((k) => !(k in effective))) {
        assert.ok(k === 'device' || (k === 'retain' && item[k] === false), `mqtt.${platform}.${k} is not in discovery`);
      }
      const dev = asObject(item.device, `mqtt.${platform}.device`);
      assert.deepEqual(unknownKeys(dev, DEVICE_KEYS), []);
      assert.deepEqual(dev.identifiers, asObject(top.device, 'device').identifiers);
    });
  }

  test('button payload_press is a command the daemon accepts for camera garden', () => {
    const item = asObject(
      asArray(mqtt.button, 'mqtt.button').find((i) => asObject(i, 'button').unique_id === 'moncam_garden_capture'),
      'button',
    );
    const cmd = parseCommand(Buffer.from(String(item.payload_press)));
    assert.ok(cmd.ok, JSON.stringify(cmd));
    assert.equal(cmd.camera, 'garden');
  });

  test('covers every contract topic', () => {
    const used = new Set(strings(data).filter((s) => /^moncam\//.test(s)));
    for (const t of [
      topics.image,
      topics.imageAttributes,
      topics.lastCapture,
      topics.event,
      topics.availability,
      topics.commandAll,
      topics.timelapse,
      topics.timelapseCommand,
    ])
      assert.ok(used.has(t), `${t} is not configured`);
  });
});

describe('ha-config/automations.yaml', () => {
  const { data } = loadYaml('automations.yaml');
  const automations = asArray(data, 'automations.yaml').map((a, i) => asObject(a, `automation ${i}`));

  test('every automation has an id, an alias, triggers and actions (current syntax)', () => {
    const ids = automations.map((a) => a.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const a of automations) {
      for (const k of ['id', 'alias', 'triggers', 'actions']) assert.ok(a[k] !== undefined, `${String(a.alias)}: no ${k}`);
      for (const t of asArray(a.triggers, 'triggers')) assert.equal(typeof asObject(t, 'trigger').trigger, 'string', 'use `trigger:`, not the old `platform:`');
    }
  });

  test('notify with the new still when the event entity fires captured', () => {
    const eventId = entityId('event');
    const a = automations.find(
      (x) => mappings(x.triggers).some((t) => t.entity_id === eventId) && strings(x.conditions).some((s) => s.includes("event_type == 'captured'")),
    );
    assert.ok(a, `no automation triggers on ${eventId} with event_type captured`);
    const actions = mappings(a.actions);
    const notify = actions.find((m) => typeof m.action === 'string' && m.action.startsWith('notify.'));
    assert.ok(notify, 'no notify action');
    const extra = asObject(asObject(notify.data, 'notify data').data, 'notify data.data');
    assert.ok(typeof extra.image === 'string' || extra.attachment !== undefined, 'the notification carries no image');
    const snapshot = actions.find((m) => m.action === 'camera.snapshot');
    if (snapshot) assert.equal(asObject(snapshot.target, 'target').entity_id, entityId('camera'));
    else assert.match(String(extra.image), new RegExp(`/api/(image|camera)_proxy/(${entityId('image')}|${entityId('camera')})$`));
  });

  test('notify when the scene changed: the event entity fires changed, with the still', () => {
    const eventId = entityId('event');
    const a = automations.find(
      (x) => mappings(x.triggers).some((t) => t.entity_id === eventId) && strings(x.conditions).some((s) => s.includes("event_type == 'changed'")),
    );
    assert.ok(a, `no automation triggers on ${eventId} with event_type changed`);
    const notify = mappings(a.actions).find((m) => typeof m.action === 'string' && m.action.startsWith('notify.'));
    assert.ok(notify, 'no notify action');
    assert.match(String(asObject(asObject(notify.data, 'data').data, 'data.data').image), new RegExp(`/api/image_proxy/${entityId('image')}$`));
    assert.match(String(asObject(notify.data, 'data').message), /attributes\.change\b/);
  });

  test('take a still when a door opens: mqtt.publish to moncam/capture/set, JSON with camera and id, not retained', () => {
    const publish = automations
      .filter((x) => mappings(x.triggers).some((t) => String(t.entity_id).startsWith('binary_sensor.')))
      .flatMap((x) => mappings(x.actions))
      .find((m) => m.action === 'mqtt.publish');
    assert.ok(publish, 'no mqtt.publish action triggered by a binary sensor');
    const d = asObject(publish.data, 'mqtt.publish data');
    assert.equal(d.topic, topics.commandAll);
    assert.notEqual(d.retain, true, 'retained commands are ignored by moncam');
    const payload = String(d.payload);
    const json = JSON.parse(payload) as Json; // templates sit inside JSON strings, so the raw text is JSON
    assert.equal(json.camera, 'garden');
    assert.equal(typeof json.id, 'string');
    assert.ok(String(json.id).length > 0);
    const cmd = parseCommand(Buffer.from(payload));
    assert.ok(cmd.ok, JSON.stringify(cmd));
    assert.equal(cmd.camera, 'garden');
  });
});

describe('ha-config/dashboard-card.yaml', () => {
  const cards = mappings(loadYaml('dashboard-card.yaml').data);

  test('a picture-entity card on the image entity', () => {
    assert.ok(
      cards.some((c) => c.type === 'picture-entity' && c.entity === entityId('image')),
      `no picture-entity card on ${entityId('image')}`,
    );
  });

  test('a button card and an action pressing the button entity', () => {
    const button = entityId('button');
    assert.ok(
      cards.some((c) => c.type === 'button' && c.entity === button),
      `no button card for ${button}`,
    );
    const presses = cards.filter((c) => c.action === 'perform-action' && c.perform_action === 'button.press');
    assert.ok(
      presses.some((p) => asObject(p.target, 'target').entity_id === button),
      'no action presses the button',
    );
    // Every press targets a button of the same card's own entity, never some other entity.
    const buttons = new Set(discovered.filter((c) => c.platform === 'button').map((c) => String(c.default_entity_id)));
    for (const p of presses) assert.ok(buttons.has(String(asObject(p.target, 'target').entity_id)), JSON.stringify(p.target));
  });

  test('a card that shows the timelapse, and the scene sensors', () => {
    const image = entityId('image', 'timelapse_image');
    assert.ok(
      cards.some((c) => c.type === 'picture-entity' && c.entity === image),
      `no picture-entity card on ${image}`,
    );
    for (const key of ['brightness', 'change'])
      assert.ok(
        cards.some((c) => c.entity === entityId('sensor', key)),
        `no card for the ${key} sensor`,
      );
    assert.ok(
      cards.some((c) => c.entity === entityId('button', 'make_timelapse')),
      'no Make timelapse button',
    );
  });
});

describe('ha-config/README.md', () => {
  const text = fs.readFileSync(path.join(DIR, 'README.md'), 'utf8');

  test('lists every entity discovery creates, and no other moncam entity id', () => {
    for (const id of ENTITY_IDS) assert.ok(text.includes(`\`${id}\``), `README does not list ${id}`);
    assertKnownEntities(text, 'README.md');
  });

  test('every topic it names is one moncam uses', () => {
    const tokens = [...text.matchAll(TOPIC_TOKEN)].map((m) => m[0]);
    assert.ok(tokens.length > 0);
    for (const t of tokens) assertKnownTopic(t, 'README.md');
    assert.ok(text.includes(`\`${device.topic}\``), 'README names the discovery topic');
  });

  test('explains the broker login: port 1883, user moncam, the web password set with moncam passwd', () => {
    assert.match(text, /`1883`/);
    assert.match(text, /\*\*Username\*\*: `moncam`/);
    assert.match(text, /`moncam passwd`/);
  });
});
