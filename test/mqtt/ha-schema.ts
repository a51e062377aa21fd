// The configuration keys Home Assistant's MQTT integration accepts, per platform moncam uses, plus the
// keys of `device`, `origin` and the top level of a device-based discovery message. A literal table, so
// that a misspelled or invented key in discovery.ts or in ha-config/ fails a test instead of being
// dropped silently by HA.
//
// Sources (read 2026; "dev" = the default branch at that time):
// - HA core, homeassistant/components/mqtt/schemas.py (dev, probatio era):
//   SHARED_OPTIONS, MQTT_ENTITY_COMMON_SCHEMA (with default_entity_id, entity_picture,
//   message_expiry_interval, visible_by_default), MQTT_ENTITY_DEVICE_INFO_SCHEMA, MQTT_ORIGIN_INFO_SCHEMA,
//   _COMPONENT_CONFIG_SCHEMA (platform + unique_id required for entity components), DEVICE_DISCOVERY_SCHEMA.
//   https://github.com/home-assistant/core/blob/dev/homeassistant/components/mqtt/schemas.py
//   Older versions compared: commit c6ca7f5f4164 (common schema before default_entity_id) and commit
//   0f5c1b547043 (first DEVICE_DISCOVERY_SCHEMA; SHARED_OPTIONS without qos/encoding).
// - HA core, homeassistant/components/mqtt/config.py (commit 459c79f295fd): SCHEMA_BASE = qos, encoding,
//   group; MQTT_RO_SCHEMA adds state_topic (required), value_template; MQTT_RW_SCHEMA (not used here).
// - HA core, homeassistant/components/mqtt/image.py (commit 02e6124621fb), event.py (commit 03ffd74c83de),
//   button.py (commit 05fd736fa9e7); modern camera.py, button.py and sensor.py as vendored in
//   openhab/openhab-addons bundles/org.openhab.binding.mqtt.homeassistant/src/main/python/homeassistant/
//   components/mqtt/{camera,button,sensor}.py (copies of HA core's platform schemas).
// - HA core, homeassistant/components/mqtt/discovery.py (dev): _parse_device_payload validates the whole
//   device message with DEVICE_DISCOVERY_SCHEMA (unknown top-level, device or origin keys reject the WHOLE
//   message); components are validated with each platform's DISCOVERY_SCHEMA (extra=REMOVE_EXTRA: unknown
//   component keys are dropped silently); _merge_common_device_options copies SHARED_OPTIONS into components.
// - HA core, homeassistant/components/mqtt/const.py (dev): CONF_DEFAULT_ENTITY_ID = "default_entity_id",
//   CONF_IMAGE_TOPIC, CONF_CONTENT_TYPE, CONF_VISIBLE_BY_DEFAULT, CONF_MESSAGE_EXPIRY_INTERVAL, ...
// - home-assistant.io docs (home-assistant/home-assistant.io source/_integrations/*.mqtt.markdown):
//   https://www.home-assistant.io/integrations/image.mqtt/, /camera.mqtt/, /button.mqtt/, /event.mqtt/,
//   /sensor.mqtt/, /mqtt/ (device discovery payload; `platform` "only allowed and required in device messages").
// - default_entity_id replaces object_id: home-assistant/core PR #151775 (HA 2025.10; object_id stops
//   working in 2026.4), docs PR home-assistant/home-assistant.io#40749. The value carries the domain:
//   "button.foobar" (home-assistant/core#155819: without it HA creates unnamed_device_N).
// - Shared qos not applied to components in device discovery up to HA 2026.5.x:
//   home-assistant/core issue #170166, fixed by PR #170195.
//
// - HA core, homeassistant/components/mqtt/select.py (commit 20dc1b2cd44b): PLATFORM_SCHEMA_MODERN =
//   MQTT_RW_SCHEMA + command_template, name, optimistic, options (required), value_template + common.
//   switch.py and number.py (dev) likewise on MQTT_RW_SCHEMA: switch adds command_template, device_class,
//   name, optimistic, payload_off, payload_on, state_off, state_on, value_template; number adds
//   command_template, device_class, max, min, mode, name, optimistic, payload_reset, step,
//   unit_of_measurement, value_template (home-assistant.io source/_integrations/{switch,select,number}.mqtt.markdown).
// - HA core, homeassistant/components/mqtt/config.py: MQTT_RW_SCHEMA = SCHEMA_BASE + command_topic
//   (required), retain, state_topic (optional).
//
// Left out on purpose: object_id (deprecated; must not be used), via_hub (deprecated alias of via_device),
// abbreviations (p, uniq_id, cmps, dev, o, ...: moncam publishes full names only), migrate_discovery
// (a one-off migration request, handled before validation), and message_expiry_interval at the top level
// (only the newest HA accepts it there; older versions would reject the whole device message).

export const PLATFORMS = ['image', 'camera', 'button', 'event', 'sensor', 'binary_sensor', 'switch', 'select', 'number'] as const;
export type Platform = (typeof PLATFORMS)[number];

/** config.py SCHEMA_BASE: every platform here extends MQTT_BASE_SCHEMA (directly or via MQTT_RO_SCHEMA). */
const BASE = ['qos', 'encoding', 'group'] as const;

/** schemas.py availability schemas (single topic form + list form). */
export const AVAILABILITY_KEYS = [
  'availability',
  'availability_mode',
  'availability_template',
  'availability_topic',
  'payload_available',
  'payload_not_available',
] as const;

/** schemas.py MQTT_ENTITY_COMMON_SCHEMA (dev), without the availability keys. */
const ENTITY_COMMON = [
  'default_entity_id', // HA >= 2025.10
  'device',
  'enabled_by_default',
  'entity_category',
  'entity_picture',
  'icon',
  'json_attributes_template',
  'json_attributes_topic',
  'message_expiry_interval', // newest HA only
  'origin',
  'unique_id',
  'visible_by_default', // newest HA only
] as const;

/** MQTT_RO_SCHEMA (config.py) additions. */
const READ_ONLY = ['state_topic', 'value_template'] as const;

/** MQTT_RW_SCHEMA (config.py) additions: the controls. */
const READ_WRITE = ['command_topic', 'retain', 'state_topic'] as const;

/** What each platform adds to the shared keys (its PLATFORM_SCHEMA_BASE / PLATFORM_SCHEMA_MODERN). */
const PLATFORM_OWN: Record<Platform, readonly string[]> = {
  // image.py: MQTT_BASE_SCHEMA + these + common. One of image_topic / url_topic (exclusive), content_type not with url_topic.
  image: ['content_type', 'image_encoding', 'image_topic', 'name', 'url_template', 'url_topic'],
  // camera.py: MQTT_BASE_SCHEMA + these + common.
  camera: ['image_encoding', 'name', 'topic'],
  // button.py: MQTT_BASE_SCHEMA + these + common.
  button: ['command_template', 'command_topic', 'device_class', 'name', 'payload_press', 'retain'],
  // event.py: MQTT_RO_SCHEMA + these + common.
  event: [...READ_ONLY, 'device_class', 'event_types', 'name'],
  // sensor.py: MQTT_RO_SCHEMA + these + common.
  sensor: [
    ...READ_ONLY,
    'device_class',
    'expire_after',
    'force_update',
    'last_reset_value_template',
    'name',
    'options',
    'state_class',
    'suggested_display_precision',
    'unit_of_measurement',
  ],
  // binary_sensor.py (openhab-addons' vendored copy of HA core's): MQTT_RO_SCHEMA + these + common.
  binary_sensor: [...READ_ONLY, 'device_class', 'expire_after', 'force_update', 'name', 'off_delay', 'payload_off', 'payload_on'],
  // switch.py, select.py, number.py: MQTT_RW_SCHEMA + these + common.
  switch: [...READ_WRITE, 'command_template', 'device_class', 'name', 'optimistic', 'payload_off', 'payload_on', 'state_off', 'state_on', 'value_template'],
  select: [...READ_WRITE, 'command_template', 'name', 'optimistic', 'options', 'value_template'],
  number: [
    ...READ_WRITE,
    'command_template',
    'device_class',
    'max',
    'min',
    'mode',
    'name',
    'optimistic',
    'payload_reset',
    'step',
    'unit_of_measurement',
    'value_template',
  ],
};

function perPlatform(keys: (p: Platform) => ReadonlySet<string>): Record<Platform, ReadonlySet<string>> {
  return Object.fromEntries(PLATFORMS.map((p) => [p, keys(p)])) as Record<Platform, ReadonlySet<string>>;
}

/**
 * Keys a platform accepts in a single-component discovery payload and in manual YAML
 * (`mqtt: <platform>: - {...}`). `platform` is not among them: it is allowed only inside `components`.
 */
export const PLATFORM_KEYS: Record<Platform, ReadonlySet<string>> = perPlatform(
  (p) => new Set([...BASE, ...AVAILABILITY_KEYS, ...ENTITY_COMMON, ...PLATFORM_OWN[p]]),
);

/** Keys a component of a device-based discovery message accepts: the platform's keys plus `platform`. */
export const COMPONENT_KEYS: Record<Platform, ReadonlySet<string>> = perPlatform((p) => new Set([...PLATFORM_KEYS[p], 'platform']));

/** Required per platform; an array entry means "one of these". */
export const REQUIRED_KEYS: Record<Platform, ReadonlyArray<string | readonly string[]>> = {
  image: [['image_topic', 'url_topic']],
  camera: ['topic'],
  button: ['command_topic'],
  event: ['state_topic', 'event_types'],
  sensor: ['state_topic'],
  binary_sensor: ['state_topic'],
  switch: ['command_topic'],
  select: ['command_topic', 'options'],
  number: ['command_topic'],
};

/** homeassistant/const.py EntityCategory. */
export const ENTITY_CATEGORIES: ReadonlySet<string> = new Set(['config', 'diagnostic']);

/**
 * Units HA accepts per sensor device class (sensor/const.py DEVICE_CLASS_UNITS), for the classes moncam
 * uses; an empty set: no unit. data_size: homeassistant/const.py UnitOfInformation.
 */
export const SENSOR_DEVICE_CLASS_UNITS: Readonly<Record<string, ReadonlySet<string>>> = {
  timestamp: new Set(),
  data_size: new Set([
    'bit',
    'kbit',
    'Mbit',
    'Gbit',
    'B',
    'kB',
    'MB',
    'GB',
    'TB',
    'PB',
    'EB',
    'ZB',
    'YB',
    'KiB',
    'MiB',
    'GiB',
    'TiB',
    'PiB',
    'EiB',
    'ZiB',
    'YiB',
  ]),
};

/** sensor/const.py SensorStateClass. */
export const STATE_CLASSES: ReadonlySet<string> = new Set(['measurement', 'measurement_angle', 'total', 'total_increasing']);

/** binary_sensor/__init__.py BinarySensorDeviceClass, the ones a camera's health could use. */
export const BINARY_SENSOR_DEVICE_CLASSES: ReadonlySet<string> = new Set(['problem', 'connectivity', 'running', 'update', 'safety']);

/** Inside `components`, entity platforms also need these (schemas.py _COMPONENT_CONFIG_SCHEMA / check_unique_id). */
export const COMPONENT_REQUIRED_KEYS = ['platform', 'unique_id'] as const;

/** schemas.py MQTT_ENTITY_DEVICE_INFO_SCHEMA (no extra keys allowed; identifiers or connections required). */
export const DEVICE_KEYS: ReadonlySet<string> = new Set([
  'configuration_url',
  'connections',
  'hw_version',
  'identifiers',
  'manufacturer',
  'model',
  'model_id',
  'name',
  'serial_number',
  'suggested_area',
  'sw_version',
  'via_device',
]);

/** schemas.py MQTT_ORIGIN_INFO_SCHEMA (no extra keys allowed; name required). */
export const ORIGIN_KEYS: ReadonlySet<string> = new Set(['name', 'support_url', 'sw_version']);
export const ORIGIN_REQUIRED_KEYS = ['name'] as const;

/**
 * schemas.py DEVICE_DISCOVERY_SCHEMA: the top level of `<prefix>/device/<id>/config`. Unknown keys make
 * HA reject the whole message ("Invalid MQTT device discovery payload").
 */
export const DEVICE_DISCOVERY_KEYS: ReadonlySet<string> = new Set([
  ...AVAILABILITY_KEYS,
  'command_topic',
  'components',
  'device',
  'encoding',
  'origin',
  'qos',
  'state_topic',
]);
export const DEVICE_DISCOVERY_REQUIRED_KEYS = ['device', 'origin', 'components'] as const;

/**
 * Top-level options HA copies into every component that does not set them itself (SHARED_OPTIONS,
 * availability ones since 2024.11). qos and encoding are listed there too, but HA up to 2026.5.x did
 * not apply them (core#170166), so moncam repeats qos per component.
 */
export const SHARED_OPTIONS: ReadonlySet<string> = new Set([...AVAILABILITY_KEYS, 'command_topic', 'state_topic']);

/** Keys that must never appear: deprecated by HA. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['object_id', 'via_hub']);

/** HA entity ids: `<domain>.<object_id>`, lower-case letters, digits and underscores. */
export const ENTITY_ID = /^[a-z0-9_]+\.[a-z0-9_]+$/;

export function isPlatform(value: unknown): value is Platform {
  return typeof value === 'string' && (PLATFORMS as readonly string[]).includes(value);
}

/** Keys of `object` that `allowed` does not know, sorted, for readable assertion messages. */
export function unknownKeys(object: Record<string, unknown>, allowed: ReadonlySet<string>): string[] {
  return Object.keys(object)
    .filter((k) => !allowed.has(k))
    .sort();
}

/** Required keys of `platform` that `config` lacks (an "one of" group counts as one entry). */
export function missingRequired(config: Record<string, unknown>, required: ReadonlyArray<string | readonly string[]>): string[] {
  return required.flatMap((r) => {
    const group = typeof r === 'string' ? [r] : r;
    return group.some((k) => config[k] !== undefined) ? [] : [group.join(' or ')];
  });
}
