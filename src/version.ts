// The package version, for MQTT discovery's sw_version and `moncam --version`.
import { createRequire } from 'node:module';

/** Works from src/ (tsx) and dist/ alike: both sit one level below package.json. */
export function version(): string {
  return (createRequire(import.meta.url)('../package.json') as { version: string }).version;
}
