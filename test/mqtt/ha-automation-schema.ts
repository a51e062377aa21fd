// Home Assistant's automation and blueprint schema rules as literal tables, so that ha-config/'s YAML (the
// example automations and the blueprint) fails a test on a key, shape or `!input` HA would refuse.
//
// Sources (read 2026, home-assistant/core dev):
// - components/automation/config.py PLATFORM_SCHEMA: id, alias, description, trace, initial_state, triggers,
//   conditions, variables, trigger_variables, actions (trigger/condition/action are the old names, renamed by
//   _backward_compat_schema), plus script.make_script_schema: mode, max, max_exceeded.
// - components/blueprint/schemas.py BLUEPRINT_SCHEMA: blueprint.{name (required), description, domain (required),
//   source_url, author, homeassistant.min_version, input}; BLUEPRINT_INPUT_SCHEMA {name, description, default,
//   selector}; BLUEPRINT_INPUT_SECTION_SCHEMA {name, icon, description, collapsed, input}; unique_input_validator
//   (an input key may appear once across sections). util/yaml/objects.py Input: `!input <name>`.
// - helpers/selector.py: validate_selector (one key; unknown kinds "Unknown selector type"; null config allowed),
//   ENTITY_FILTER_SELECTOR_CONFIG_SCHEMA {integration, domain, device_class, supported_features},
//   DEVICE_FILTER_SELECTOR_CONFIG_SCHEMA {integration, manufacturer, model, model_id, entity}; the SELECTORS
//   registry for the kinds below.
// - helpers/config_validation.py: trigger `trigger:` key (2024.10, `platform:` before), STATE_CONDITION,
//   TEMPLATE_CONDITION, SERVICE_SCHEMA (action/service, target, data, response_variable, ...), action kinds
//   (determine_script_action), DEVICE_ACTION_BASE_SCHEMA {device_id, domain}; components/mobile_app/
//   device_action.py: type notify with message, title, data. components/homeassistant/triggers/state.py:
//   from/not_from and to/not_to exclusive.
import { Scalar, type ScalarTag } from 'yaml';

type Json = Record<string, unknown>;

/** `!input name` as parsed: a reference, never a value. */
export class InputRef {
  constructor(readonly name: string) {}
}

export const inputTag: ScalarTag = {
  tag: '!input',
  identify: (v) => v instanceof InputRef,
  resolve: (s) => new InputRef(s),
  stringify: (item) => String((item as Scalar<InputRef>).value.name),
};

export const AUTOMATION_KEYS = [
  'id',
  'alias',
  'description',
  'trace',
  'initial_state',
  'triggers',
  'conditions',
  'variables',
  'trigger_variables',
  'actions',
  'mode',
  'max',
  'max_exceeded',
];
const MODES = ['single', 'restart', 'queued', 'parallel'];
const LOG_LEVELS = ['silent', 'critical', 'fatal', 'error', 'warning', 'warn', 'info', 'debug', 'notset'];

const BLUEPRINT_KEYS = ['name', 'description', 'domain', 'source_url', 'author', 'homeassistant', 'input'];
const INPUT_KEYS = ['name', 'description', 'default', 'selector'];
const SECTION_KEYS = ['name', 'icon', 'description', 'collapsed', 'input'];

export const SELECTOR_KINDS = [
  'action',
  'addon',
  'area',
  'assist_pipeline',
  'attribute',
  'backup_location',
  'boolean',
  'color_rgb',
  'color_temp',
  'condition',
  'config_entry',
  'constant',
  'conversation_agent',
  'country',
  'date',
  'datetime',
  'device',
  'duration',
  'entity',
  'file',
  'floor',
  'icon',
  'label',
  'language',
  'location',
  'media',
  'navigation',
  'number',
  'object',
  'qr_code',
  'select',
  'selector',
  'state',
  'statistic',
  'stt',
  'target',
  'template',
  'text',
  'theme',
  'time',
  'trigger',
  'tts',
  'ui_action',
  'ui_color',
];
/** Config keys of the selectors whose options are checked (the ones ha-config uses and their neighbours). */
const SELECTOR_KEYS: Record<string, string[]> = {
  entity: ['read_only', 'filter', 'multiple', 'exclude_entities', 'include_entities', 'reorder', 'integration', 'domain', 'device_class'],
  device: ['read_only', 'filter', 'multiple', 'entity', 'integration', 'manufacturer', 'model'],
  select: ['read_only', 'options', 'multiple', 'custom_value', 'mode', 'translation_key', 'sort'],
  text: ['read_only', 'multiline', 'prefix', 'suffix', 'type', 'autocomplete', 'multiple'],
  boolean: ['read_only'],
  number: ['read_only', 'min', 'max', 'step', 'unit_of_measurement', 'mode', 'translation_key'],
};
const ENTITY_FILTER_KEYS = ['integration', 'domain', 'device_class', 'supported_features'];
const DEVICE_FILTER_KEYS = ['integration', 'manufacturer', 'model', 'model_id', 'entity'];

const TRIGGER_KINDS = [
  'state',
  'event',
  'mqtt',
  'time',
  'time_pattern',
  'numeric_state',
  'template',
  'homeassistant',
  'sun',
  'zone',
  'webhook',
  'device',
  'tag',
  'calendar',
  'conversation',
  'geo_location',
  'persistent_notification',
];
const TRIGGER_COMMON = ['trigger', 'id', 'variables', 'enabled', 'alias'];
const TRIGGER_KEYS: Record<string, string[]> = {
  state: ['entity_id', 'attribute', 'from', 'to', 'not_from', 'not_to', 'for', 'match'],
  mqtt: ['topic', 'payload', 'value_template', 'encoding', 'qos'],
  event: ['event_type', 'event_data', 'context'],
};
const TRIGGER_REQUIRED: Record<string, string[]> = { state: ['entity_id'], mqtt: ['topic'], event: ['event_type'] };

const CONDITION_KINDS = ['and', 'or', 'not', 'state', 'numeric_state', 'template', 'time', 'sun', 'zone', 'device', 'trigger'];
const CONDITION_REQUIRED: Record<string, string[]> = {
  template: ['value_template'],
  state: ['entity_id', 'state'],
  trigger: ['id'],
  and: ['conditions'],
  or: ['conditions'],
  not: ['conditions'],
};

/** The key that names an action's kind (config_validation determine_script_action); device actions have device_id. */
const ACTION_KINDS = [
  'action',
  'service',
  'device_id',
  'variables',
  'delay',
  'wait_template',
  'wait_for_trigger',
  'condition',
  'choose',
  'if',
  'repeat',
  'event',
  'scene',
  'stop',
  'parallel',
  'sequence',
  'set_conversation_response',
];
const SERVICE_ACTION_KEYS = ['action', 'alias', 'enabled', 'continue_on_error', 'target', 'data', 'response_variable', 'metadata'];
const TARGET_KEYS = ['entity_id', 'device_id', 'area_id', 'floor_id', 'label_id'];
const DEVICE_ACTION_KEYS: Record<string, string[]> = {
  'mobile_app:notify': ['device_id', 'domain', 'type', 'message', 'title', 'data', 'alias', 'enabled', 'continue_on_error'],
};
const SERVICE_NAME = /^[a-z0-9_]+\.[a-z0-9_]+$/;
const TEMPLATE = /\{\{|\{%/;

const isMap = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof InputRef);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);
const extra = (m: Json, allowed: readonly string[]) => Object.keys(m).filter((k) => !allowed.includes(k));

/** Every `!input` in a parsed document. */
export function inputRefs(value: unknown, out: InputRef[] = []): InputRef[] {
  if (value instanceof InputRef) out.push(value);
  else if (Array.isArray(value)) value.forEach((v) => inputRefs(v, out));
  else if (value && typeof value === 'object') Object.values(value).forEach((v) => inputRefs(v, out));
  return out;
}

function checkTrigger(t: unknown, where: string, p: string[]): void {
  if (!isMap(t)) return void p.push(`${where}: a trigger must be a mapping`);
  if ('platform' in t) p.push(`${where}: use \`trigger:\`, not the old \`platform:\``);
  const kind = t.trigger;
  if (typeof kind !== 'string' || !TRIGGER_KINDS.includes(kind)) return void p.push(`${where}: unknown trigger ${JSON.stringify(kind)}`);
  const own = TRIGGER_KEYS[kind];
  if (own) for (const k of extra(t, [...TRIGGER_COMMON, ...own])) p.push(`${where}: ${kind} trigger has no key ${k}`);
  for (const k of TRIGGER_REQUIRED[kind] ?? []) if (t[k] === undefined) p.push(`${where}: ${kind} trigger needs ${k}`);
  if (kind === 'state')
    for (const [a, b] of [
      ['from', 'not_from'],
      ['to', 'not_to'],
    ])
      if (a! in t && b! in t) p.push(`${where}: ${a} and ${b} exclude each other`);
}

function checkCondition(c: unknown, where: string, p: string[]): void {
  if (typeof c === 'string') return void (TEMPLATE.test(c) || p.push(`${where}: a condition string must be a template`));
  if (!isMap(c)) return void p.push(`${where}: a condition must be a mapping or a template`);
  const kind = c.condition;
  if (typeof kind !== 'string' || !CONDITION_KINDS.includes(kind)) return void p.push(`${where}: unknown condition ${JSON.stringify(kind)}`);
  for (const k of CONDITION_REQUIRED[kind] ?? []) if (c[k] === undefined) p.push(`${where}: ${kind} condition needs ${k}`);
  if (kind === 'template' && typeof c.value_template === 'string' && !TEMPLATE.test(c.value_template)) p.push(`${where}: value_template is not a template`);
  if (['and', 'or', 'not'].includes(kind)) list(c.conditions).forEach((x, i) => checkCondition(x, `${where}.conditions[${i}]`, p));
}

function checkActions(actions: unknown, where: string, p: string[]): void {
  list(actions).forEach((a, i) => checkAction(a, `${where}[${i}]`, p));
}

function checkAction(a: unknown, where: string, p: string[]): void {
  if (!isMap(a)) return void p.push(`${where}: an action must be a mapping`);
  const kinds = ACTION_KINDS.filter((k) => k in a);
  if (kinds.length !== 1) return void p.push(`${where}: an action needs exactly one of ${ACTION_KINDS.join(', ')} (found ${kinds.join(', ') || 'none'})`);
  const kind = kinds[0]!;
  if (kind === 'service') return void p.push(`${where}: use \`action:\`, not the old \`service:\``);
  if (kind === 'action') {
    const name = a.action;
    if (typeof name !== 'string' || !(SERVICE_NAME.test(name) || TEMPLATE.test(name)))
      p.push(`${where}: action ${JSON.stringify(name)} is not domain.service or a template`);
    for (const k of extra(a, SERVICE_ACTION_KEYS)) p.push(`${where}: an action call has no key ${k} (put fields under data:)`);
    if (a.data !== undefined && !isMap(a.data)) p.push(`${where}: data must be a mapping`);
    if (a.target !== undefined) {
      if (!isMap(a.target)) p.push(`${where}: target must be a mapping`);
      else for (const k of extra(a.target, TARGET_KEYS)) p.push(`${where}: target has no key ${k}`);
    }
  } else if (kind === 'device_id') {
    for (const k of ['domain', 'type']) if (typeof a[k] !== 'string') p.push(`${where}: a device action needs ${k}`);
    const allowed = DEVICE_ACTION_KEYS[`${String(a.domain)}:${String(a.type)}`];
    if (allowed) for (const k of extra(a, allowed)) p.push(`${where}: ${String(a.domain)} ${String(a.type)} has no key ${k}`);
    if (a.domain === 'mobile_app' && a.type === 'notify' && a.message === undefined) p.push(`${where}: mobile_app notify needs message`);
  } else if (kind === 'condition') checkCondition(a, where, p);
  else if (kind === 'variables' && !isMap(a.variables)) p.push(`${where}: variables must be a mapping`);
  else if (kind === 'if') {
    list(a.if).forEach((c, i) => checkCondition(c, `${where}.if[${i}]`, p));
    if (a.then === undefined) p.push(`${where}: if needs then`);
    checkActions(a.then, `${where}.then`, p);
    if (a.else !== undefined) checkActions(a.else, `${where}.else`, p);
  } else if (kind === 'choose') {
    list(a.choose).forEach((o, i) => {
      if (!isMap(o)) return void p.push(`${where}.choose[${i}]: an option must be a mapping`);
      list(o.conditions).forEach((c, j) => checkCondition(c, `${where}.choose[${i}].conditions[${j}]`, p));
      checkActions(o.sequence, `${where}.choose[${i}].sequence`, p);
    });
    if (a.default !== undefined) checkActions(a.default, `${where}.default`, p);
  } else if (kind === 'sequence' || kind === 'parallel') checkActions(a[kind], `${where}.${kind}`, p);
  else if (kind === 'repeat' && isMap(a.repeat)) checkActions(a.repeat.sequence, `${where}.repeat.sequence`, p);
}

/** Problems HA would report for one automation (the body of a blueprint included). */
export function checkAutomation(a: unknown, where: string, extraKeys: readonly string[] = []): string[] {
  const p: string[] = [];
  if (!isMap(a)) return [`${where}: an automation must be a mapping`];
  for (const old of ['trigger', 'condition', 'action']) if (old in a) p.push(`${where}: use ${old}s:, not the old ${old}:`);
  for (const k of extra(a, [...AUTOMATION_KEYS, ...extraKeys, 'trigger', 'condition', 'action'])) p.push(`${where}: unknown automation key ${k}`);
  for (const k of ['triggers', 'actions']) if (a[k] === undefined) p.push(`${where}: no ${k}`);
  if (a.mode !== undefined && !MODES.includes(String(a.mode))) p.push(`${where}: mode ${String(a.mode)} is not one of ${MODES.join(', ')}`);
  if (a.max !== undefined && !(Number.isInteger(a.max) && (a.max as number) > 0)) p.push(`${where}: max must be a positive integer`);
  if (a.max_exceeded !== undefined && !LOG_LEVELS.includes(String(a.max_exceeded)))
    p.push(`${where}: max_exceeded ${String(a.max_exceeded)} is not a log level`);
  for (const k of ['variables', 'trigger_variables']) if (a[k] !== undefined && !isMap(a[k])) p.push(`${where}: ${k} must be a mapping`);
  list(a.triggers ?? []).forEach((t, i) => checkTrigger(t, `${where}.triggers[${i}]`, p));
  list(a.conditions ?? []).forEach((c, i) => checkCondition(c, `${where}.conditions[${i}]`, p));
  checkActions(a.actions ?? [], `${where}.actions`, p);
  return p;
}

function checkSelector(sel: unknown, where: string, p: string[]): void {
  if (!isMap(sel) || Object.keys(sel).length !== 1) return void p.push(`${where}: a selector has exactly one kind`);
  const [kind, config] = Object.entries(sel)[0]!;
  if (!SELECTOR_KINDS.includes(kind)) return void p.push(`${where}: unknown selector type ${kind}`);
  if (config === null) return;
  if (!isMap(config)) return void p.push(`${where}: ${kind} selector config must be a mapping or empty`);
  const allowed = SELECTOR_KEYS[kind];
  if (allowed) for (const k of extra(config, allowed)) p.push(`${where}: ${kind} selector has no option ${k}`);
  const filterKeys = kind === 'entity' ? ENTITY_FILTER_KEYS : kind === 'device' ? DEVICE_FILTER_KEYS : undefined;
  if (filterKeys && config.filter !== undefined)
    list(config.filter).forEach((f, i) =>
      isMap(f) ? extra(f, filterKeys).forEach((k) => p.push(`${where}: filter[${i}] has no key ${k}`)) : p.push(`${where}: filter[${i}] must be a mapping`),
    );
  if (kind === 'select') {
    const options = Array.isArray(config.options) ? config.options : [];
    if (!options.length) p.push(`${where}: select needs options`);
    for (const o of options)
      if (!(typeof o === 'string' || (isMap(o) && typeof o.value === 'string' && typeof o.label === 'string' && !extra(o, ['value', 'label']).length)))
        p.push(`${where}: select option ${JSON.stringify(o)} is not a string or {value, label}`);
  }
}

/** The inputs a blueprint defines (sections flattened), checked against the input and section schemas. */
export function blueprintInputs(input: unknown, where: string, p: string[]): Map<string, Json> {
  const out = new Map<string, Json>();
  if (input === undefined) return out;
  if (!isMap(input)) return (void p.push(`${where}: input must be a mapping`), out);
  const add = (key: string, def: unknown, at: string) => {
    if (out.has(key)) p.push(`${at}: duplicate use of input key ${key}`);
    if (def === null) return void out.set(key, {});
    if (!isMap(def)) return void p.push(`${at}: an input must be a mapping`);
    for (const k of extra(def, INPUT_KEYS)) p.push(`${at}: an input has no key ${k}`);
    if (def.selector !== undefined) checkSelector(def.selector, `${at}.selector`, p);
    out.set(key, def);
  };
  for (const [key, def] of Object.entries(input)) {
    if (isMap(def) && 'input' in def) {
      for (const k of extra(def, SECTION_KEYS)) p.push(`${where}.${key}: a section has no key ${k}`);
      if (!isMap(def.input)) p.push(`${where}.${key}.input must be a mapping`);
      else for (const [k, d] of Object.entries(def.input)) add(k, d, `${where}.${key}.input.${k}`);
    } else add(key, def, `${where}.${key}`);
  }
  return out;
}

/** Problems HA would report for a blueprint file (schema, `!input` references, the automation body). */
export function checkBlueprint(doc: unknown, where: string): string[] {
  const p: string[] = [];
  if (!isMap(doc) || !isMap(doc.blueprint)) return [`${where}: no blueprint: mapping`];
  const bp = doc.blueprint;
  for (const k of extra(bp, BLUEPRINT_KEYS)) p.push(`${where}: blueprint has no key ${k}`);
  for (const k of ['name', 'domain']) if (typeof bp[k] !== 'string' || !bp[k]) p.push(`${where}: blueprint.${k} is required`);
  if (bp.domain !== 'automation' && bp.domain !== 'script') p.push(`${where}: blueprint.domain must be automation or script`);
  if (bp.source_url !== undefined && !/^https?:\/\/\S+$/.test(String(bp.source_url))) p.push(`${where}: blueprint.source_url is not a URL`);
  if (bp.homeassistant !== undefined) {
    if (!isMap(bp.homeassistant) || extra(bp.homeassistant, ['min_version']).length) p.push(`${where}: blueprint.homeassistant holds only min_version`);
    else if (bp.homeassistant.min_version !== undefined && !/^\d+\.\d+(\.\d+)?$/.test(String(bp.homeassistant.min_version)))
      p.push(`${where}: min_version is not a version`);
  }
  const inputs = blueprintInputs(bp.input, `${where}: blueprint.input`, p);
  const body = Object.fromEntries(Object.entries(doc).filter(([k]) => k !== 'blueprint'));
  const used = new Set(inputRefs(body).map((r) => r.name));
  for (const name of used) if (!inputs.has(name)) p.push(`${where}: !input ${name} is not defined in blueprint.input`);
  for (const name of inputs.keys()) if (!used.has(name)) p.push(`${where}: input ${name} is never used`);
  if (inputRefs(bp).length) p.push(`${where}: !input inside blueprint: is not resolved`);
  if (bp.domain === 'automation') p.push(...checkAutomation(body, where));
  return p;
}
