// Every MQTT topic moncam uses is built here, from the base topic, the camera id and the discovery prefix.

export interface TopicConfig {
  baseTopic: string;
  cameraId: string;
  discoveryPrefix: string;
}

export type Topics = ReturnType<typeof mqttTopics>;

export function mqttTopics({ baseTopic, cameraId, discoveryPrefix }: TopicConfig) {
  const cam = `${baseTopic}/${cameraId}`;
  return {
    /** Obeyed by every camera on this base topic unless the payload names another. */
    commandAll: `${baseTopic}/capture/set`,
    /** This camera only. */
    command: `${cam}/capture/set`,
    availability: `${cam}/availability`,
    image: `${cam}/image`,
    imageAttributes: `${cam}/image/attributes`,
    lastCapture: `${cam}/last_capture`,
    event: `${cam}/event`,
    /** The latest day timelapse: retained JSON with its URL path. */
    timelapse: `${cam}/timelapse`,
    /** Build a timelapse now: empty/PRESS (today), `YYYY-MM-DD`, or JSON {"day", "id"}. */
    timelapseCommand: `${cam}/timelapse/set`,
    /** The camera's status (src/health/status.ts CameraStatus): retained JSON for the Stale and diagnostic sensors. */
    health: `${cam}/health`,
    // Settings Home Assistant can change (src/mqtt/controls.ts): retained state, and a `/set` command each.
    /** Scheduled stills on/off: `ON` / `OFF`. */
    schedule: `${cam}/schedule`,
    scheduleCommand: `${cam}/schedule/set`,
    /** Interval of scheduled stills: an option of the select (off, 5 min, ..., daily; custom). */
    interval: `${cam}/interval`,
    intervalCommand: `${cam}/interval/set`,
    /** Night exposure of scheduled stills: off, auto, always (custom). */
    nightExposure: `${cam}/night_exposure`,
    nightExposureCommand: `${cam}/night_exposure/set`,
    /** JPEG quality of stills, 1..100. */
    quality: `${cam}/quality`,
    qualityCommand: `${cam}/quality/set`,
    /** HA >= 2024.11 device-based discovery: one message for all components. */
    deviceDiscovery: `${discoveryPrefix}/device/moncam_${cameraId}/config`,
    /** Per-entity discovery for older HA (`mqtt.legacy_discovery`). */
    entityDiscovery: (platform: string, component: string) => `${discoveryPrefix}/${platform}/moncam_${cameraId}/${component}/config`,
    /** HA's birth/will topic. */
    haStatus: `${discoveryPrefix}/status`,
  };
}

/** The per-camera setting commands (`<base>/<cam>/<setting>/set`), as in mqttTopics().settings. */
const SETTING_COMMANDS = ['/schedule/set', '/interval/set', '/night_exposure/set', '/quality/set'];

/** Whether `topic` is a moncam command topic of any camera on `baseTopic` (the embedded broker guards these). */
export function isCommandTopic(baseTopic: string, topic: string): boolean {
  if (!topic.startsWith(baseTopic + '/')) return false;
  for (const command of ['/capture/set', '/timelapse/set', ...SETTING_COMMANDS]) {
    if (!topic.endsWith(command)) continue;
    const middle = topic.slice(baseTopic.length + 1, -command.length);
    if (middle === '') return command === '/capture/set' && topic === `${baseTopic}/capture/set`;
    return !middle.includes('/');
  }
  return false;
}
