// ha-config/: every YAML file against Home Assistant's automation and blueprint schema rules
// (ha-automation-schema.ts), and the "notify with the new still" blueprint against what moncam publishes.
// The last block breaks copies of the blueprint to prove each rule fails.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parseDocument } from 'yaml';
import { TRIGGERS } from '../../src/capture/service.ts';
import { deviceDiscovery, type DiscoveryContext } from '../../src/mqtt/discovery.ts';
import { mqttTopics } from '../../src/mqtt/topics.ts';
import { checkAutomation, checkBlueprint, inputRefs, inputTag, InputRef } from './ha-automation-schema.ts';

type Json = Record<string, any>;

const DIR = path.resolve(import.meta.dirname, '..', '..', 'ha-config');
const BLUEPRINT = 'blueprint-notify-still.yaml';

function load(file: string): unknown {
  const doc = parseDocument(fs.readFileSync(path.join(DIR, file), 'utf8'), { uniqueKeys: true, customTags: [inputTag] });
  assert.deepEqual(
    [...doc.errors, ...doc.warnings].map((e) => e.message),
    [],
    `${file} does not parse cleanly`,
  );
  return doc.toJS({ maxAliasCount: 100 });
}

const files = fs
  .readdirSync(DIR)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort();
const isBlueprint = (data: unknown) => Boolean(data && typeof data === 'object' && 'blueprint' in data);

const topics = mqttTopics({ baseTopic: 'moncam', cameraId: 'garden', discoveryPrefix: 'homeassistant' });
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
const components = Object.values((deviceDiscovery(ctx).payload as Json).components as Record<string, Json>);
const domainOf = (platform: string) => String(components.find((c) => c.platform === platform)!.default_entity_id).split('.')[0];

describe('ha-config/*.yaml: Home Assistant schema rules', () => {
  test('a blueprint is there', () => assert.ok(files.includes(BLUEPRINT)));

  for (const file of files) {
    test(file, () => {
      const data = load(file);
      if (isBlueprint(data)) return assert.deepEqual(checkBlueprint(data, file), []);
      assert.deepEqual(
        inputRefs(data).map((r) => r.name),
        [],
        `${file}: !input is only valid in a blueprint`,
      );
      // Automations: a list of them (automations.yaml). Cards and MQTT YAML have their own tests.
      if (Array.isArray(data) && data.some((a) => a && typeof a === 'object' && 'triggers' in a)) {
        assert.deepEqual(
          data.flatMap((a, i) => checkAutomation(a, `${file}[${i}]`)),
          [],
        );
      }
    });
  }
});

describe(`ha-config/${BLUEPRINT}: notify with the new still`, () => {
  const bp = load(BLUEPRINT) as Json;
  const inputs = new Map<string, Json>(Object.values(bp.blueprint.input as Json).flatMap((s: Json) => Object.entries(s.input as Json)));
  const ref = (v: unknown) => (v instanceof InputRef ? v.name : undefined);
  const actions = bp.actions as Json[];

  test('triggers on the event entity, fires on captured only, for the chosen triggers', () => {
    const [trigger] = bp.triggers as Json[];
    assert.equal(trigger!.trigger, 'state');
    assert.equal(ref(trigger!.entity_id), 'capture_event');
    assert.deepEqual(inputs.get('capture_event')!.selector.entity.filter, [{ integration: 'mqtt', domain: domainOf('event') }]);
    const template = String((bp.conditions as Json[])[0]!.value_template);
    assert.match(template, /attributes\.event_type == 'captured'/);
    assert.match(template, /attributes\.trigger in still_triggers/);
    assert.equal(ref(bp.variables.still_triggers), 'still_triggers');
  });

  test('the trigger filter offers every trigger moncam publishes; default: schedule and commands, not page visits', () => {
    const sel = inputs.get('still_triggers')!.selector.select;
    assert.equal(sel.multiple, true);
    assert.deepEqual(sel.options.map((o: Json) => o.value).sort(), [...TRIGGERS].sort());
    assert.deepEqual(inputs.get('still_triggers')!.default, ['schedule', 'mqtt']);
  });

  test('saves the still under /media with image.snapshot or camera.snapshot, and attaches /media/local/<same file>', () => {
    const domains = inputs.get('still_entity')!.selector.entity.filter[0].domain as string[];
    assert.deepEqual([...domains].sort(), [domainOf('camera'), domainOf('image')].sort());
    assert.equal(ref(bp.variables.still_entity), 'still_entity');
    const snapshot = actions.find((a) => typeof a.action === 'string' && a.action.includes('.snapshot'))!;
    assert.equal(snapshot.action, "{{ still_entity.split('.')[0] }}.snapshot", 'image.snapshot / camera.snapshot by the entity domain');
    assert.equal(snapshot.target.entity_id, '{{ still_entity }}');
    assert.equal(snapshot.data.filename, '/media/{{ file }}');
    assert.ok(actions.indexOf(snapshot) > actions.findIndex((a) => a.variables?.file), 'file is set before the snapshot');
    const notify = actions.find((a) => a.domain === 'mobile_app' && a.type === 'notify')!;
    assert.ok(actions.indexOf(notify) > actions.indexOf(snapshot), 'the notification comes after the file exists');
    assert.equal(ref(notify.device_id), 'notify_device');
    assert.deepEqual(inputs.get('notify_device')!.selector.device.filter, [{ integration: 'mobile_app' }]);
    assert.equal(notify.data.image, '/media/local/{{ file }}');
  });

  test('every event attribute it reads is one the README documents for the event entity', () => {
    const readme = fs.readFileSync(path.join(DIR, 'README.md'), 'utf8');
    const row = readme.split('\n').find((l) => l.includes('`event.moncam_garden_capture_event`'))!;
    const used = new Set([...JSON.stringify(bp).matchAll(/attributes\.(\w+)/g)].map((m) => m[1]!));
    assert.ok(used.size >= 3);
    for (const a of used) assert.ok(a === 'event_type' || new RegExp(`\\b${a}\\b`).test(row), `attribute ${a} is not documented`);
  });
});

describe('the rules fail a broken blueprint', () => {
  const text = fs.readFileSync(path.join(DIR, BLUEPRINT), 'utf8');
  const broken = (from: string | RegExp, to: string) => {
    const changed = text.replace(from, to);
    assert.notEqual(changed, text, `the mutation ${String(from)} did not apply`);
    const doc = parseDocument(changed, { customTags: [inputTag] });
    return checkBlueprint(doc.toJS(), 'broken');
  };
  const cases: Array<[string, string | RegExp, string, RegExp]> = [
    ['an undefined !input', 'entity_id: !input capture_event', 'entity_id: !input capture_evnt', /!input capture_evnt is not defined/],
    ['an unused input', 'title: !input title', 'title: moncam', /input title is never used/],
    ['an unknown blueprint key', '  domain: automation', '  domain: automation\n  version: 1', /blueprint has no key version/],
    ['a missing name', '  name: "moncam: notify with the new still"', '  nam: x', /blueprint.name is required/],
    ['an unknown selector type', '            select:\n', '            choice:\n', /unknown selector type choice/],
    [
      'an unknown entity filter key',
      '                - integration: mqtt\n                  domain: event',
      '                - integration: mqtt\n                  domains: event',
      /filter\[0\] has no key domains/,
    ],
    ['the old platform: trigger', '  - trigger: state', '  - platform: state', /use `trigger:`, not the old `platform:`|unknown trigger/],
    ['the old service: key', 'action: "{{ still_entity', 'service: "{{ still_entity', /use `action:`, not the old `service:`/],
    ['a field beside data:', '    data:\n      filename:', '    filename:', /an action call has no key filename/],
    ['an unknown automation key', 'max_exceeded: silent', 'max_exceeded: silent\nretries: 3', /unknown automation key retries/],
    ['a bad mode', 'mode: queued', 'mode: sometimes', /mode sometimes/],
    ['from and not_from together', '    not_from: unavailable', '    not_from: unavailable\n    from: "on"', /from and not_from exclude each other/],
    ['a duplicate input key across sections', '        folder:', '        capture_event:', /duplicate use of input key capture_event/],
    ['a notification without message', '    message: >-', '    msg: >-', /mobile_app notify needs message|has no key msg/],
  ];
  for (const [what, from, to, expected] of cases) {
    test(what, () => {
      const problems = broken(from, to);
      assert.ok(
        problems.some((p) => expected.test(p)),
        `expected ${String(expected)}, got ${JSON.stringify(problems)}`,
      );
    });
  }
});
