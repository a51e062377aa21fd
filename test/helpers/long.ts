// Long and short forms of the same test. `npm test` runs the short form of every long test (a 1-minute
// soak, a short broker outage, a dozen power cuts) so the everyday loop stays within minutes;
// `npm run test:long` (CI runs both) sets MONCAM_TEST_LONG=1 and runs those files in their full length.
export const LONG = process.env.MONCAM_TEST_LONG === '1';

/** `short` in `npm test`, `long` in `npm run test:long`; an explicit `envName` variable wins over both. */
export function longOr(short: number, long: number, envName?: string): number {
  const explicit = envName ? process.env[envName] : undefined;
  if (explicit !== undefined && explicit !== '') {
    const n = Number(explicit);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${envName} must be a positive number, got ${explicit}`);
    return n;
  }
  return LONG ? long : short;
}
