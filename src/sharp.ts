// sharp (libvips) is loaded on first use, not at start: it adds ~25 MB of RSS, and an idle daemon that has
// not taken a still yet does not need it. The settings of runtime.ts are applied once, when it loads.
import type sharpModule from 'sharp';
import { SHARP_CONCURRENCY } from './runtime.ts';

type Sharp = typeof sharpModule;
let loading: Promise<Sharp> | undefined;

/** sharp with moncam's settings: no operation cache (each still is new), one libvips thread. */
export function loadSharp(): Promise<Sharp> {
  loading ??= import('sharp').then(({ default: sharp }) => {
    sharp.cache(false);
    sharp.concurrency(SHARP_CONCURRENCY);
    return sharp;
  });
  return loading;
}
