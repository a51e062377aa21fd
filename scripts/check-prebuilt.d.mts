// Types for the tests that import check-prebuilt.mjs (scripts stay plain JS: they run before any build).
export function napiOf(version: string): number;
export function oldestAllowed(range: string): string;
export function builtNapiVersion(file: string): number | null;
export interface NativePackage {
  name: string;
  version: string;
  napi: number;
  binaries: string[];
}
export function checkPrebuilt(
  modulesDir: string,
  enginesNode: string,
): { problems: string[]; natives: NativePackage[]; oldest: string; provided: number; skipped: string[] };
