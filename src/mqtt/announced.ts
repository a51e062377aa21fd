// What this camera last announced (camera id, state topics, discovery topics), kept in a file so that
// after a change of `camera.id` or the topics the old device is removed from HA instead of lingering
// unavailable.
import fs from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Topics } from './topics.ts';

export interface Announced {
  cameraId: string;
  topics: Pick<Topics, 'availability' | 'image' | 'imageAttributes' | 'lastCapture' | 'timelapse'> &
    Partial<Pick<Topics, 'health' | 'schedule' | 'interval' | 'nightExposure' | 'quality'>>;
  discoveryTopics: string[];
}

export function announcedNow(cameraId: string, topics: Topics, discoveryTopics: string[]): Announced {
  return {
    cameraId,
    topics: {
      availability: topics.availability,
      image: topics.image,
      imageAttributes: topics.imageAttributes,
      lastCapture: topics.lastCapture,
      timelapse: topics.timelapse,
      health: topics.health,
      // The retained state of the settings controls (files written before they existed lack these).
      schedule: topics.schedule,
      interval: topics.interval,
      nightExposure: topics.nightExposure,
      quality: topics.quality,
    },
    discoveryTopics,
  };
}

/** Empty retained payloads (through `clear`) on what an earlier identity left behind; then remembers `current`. */
export async function forgetPreviousIdentity(file: string, current: Announced, clear: (topic: string) => Promise<void>, logger: Logger): Promise<void> {
  let previous: Announced | undefined;
  try {
    previous = JSON.parse(await fs.readFile(file, 'utf8')) as Announced;
  } catch {
    previous = undefined; // first run, or unreadable: nothing to clean up
  }
  if (previous && Array.isArray(previous.discoveryTopics) && previous.topics) {
    const stale = [...previous.discoveryTopics, ...Object.values(previous.topics)].filter(
      (t) => typeof t === 'string' && !current.discoveryTopics.includes(t) && !Object.values(current.topics).includes(t),
    );
    if (stale.length) {
      logger.info({ previous: previous.cameraId, topics: stale.length }, 'camera id or topics changed: removing the old device from Home Assistant');
      await Promise.all(stale.map(clear));
    }
  }
  if (JSON.stringify(previous) !== JSON.stringify(current)) await fs.writeFile(file, JSON.stringify(current, null, 2) + '\n');
}
