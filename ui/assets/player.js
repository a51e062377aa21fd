// The day's timelapse as a player: play/pause, a scrubber, speed, and the time of the frame shown. An animated
// WebP in an <img> plays by itself and cannot be stepped, so frames are decoded one at a time into a canvas:
// with WebCodecs' ImageDecoder where the browser has it (secure contexts: HTTPS or this machine), else by
// splitting moncam's own WebP (every frame a whole key frame covering the canvas) into still WebPs that
// createImageBitmap decodes. At most a few decoded frames are held. Failing both, a plain <img> with a note.
import { el, linkStyles, timeTag } from './viewer.js';

const SPEEDS = [0.5, 1, 2, 4];
/** Decoded frames kept (the one shown and the next); each is width x height x 4 bytes. */
const KEEP = 3;

export function mountPlayer(container, timelapse) {
  linkStyles();
  const t = timelapse;
  let n = Math.max(1, t.frames || 1);
  let times = Array.isArray(t.frame_times) && t.frame_times.length === n ? t.frame_times : undefined;
  const label = `Timelapse of ${t.day || timeTag(t.last_captured_at).slice(0, 10)}`;
  const titleId = `mcp-${Math.random().toString(36).slice(2)}`;
  const canvas = el('canvas', { className: 'mcp-screen', width: t.width || 480, height: t.height || 360, role: 'img', 'aria-label': label });
  const play = el('button', { type: 'button', className: 'mcp-play', 'aria-label': 'Play', onclick: () => (timer ? pause() : start()) }, '▶');
  const seek = el('input', {
    type: 'range',
    className: 'mcp-seek',
    min: 0,
    max: n - 1,
    step: 1,
    value: 0,
    'aria-label': 'Frame',
    oninput: () => seekTo(+seek.value),
  });
  const speed = el(
    'select',
    { className: 'mcp-speed', 'aria-label': 'Speed' }, // read at every frame: a change applies from the next one
    ...SPEEDS.map((s) => el('option', { value: s, selected: s === 1 }, `${s}×`)),
  );
  const time = el('p', { className: 'mcp-time', 'aria-live': 'polite', 'aria-atomic': 'true' });
  const note = el('p', { className: 'mcp-note', hidden: true });
  const controls = el('div', { className: 'mcp-controls' }, play, seek, speed, time);
  const root = el(
    'figure',
    { className: 'mcp', role: 'group', 'aria-labelledby': titleId },
    el('figcaption', { className: 'mcp-title', id: titleId }, `${label} · ${n} ${n === 1 ? 'still' : 'stills'}`),
    canvas,
    controls,
    note,
  );
  container.append(root);

  const ctx = canvas.getContext('2d');
  const abort = new AbortController();
  const cache = new Map(); // frame index -> Promise of a decoded frame (VideoFrame or ImageBitmap)
  let source; // { count, decode(i) } once loaded
  let frame = 0;
  let timer = 0;
  let runs = 0;
  let due = 0;
  let drawn = Promise.resolve();
  let destroyed = false;

  const interval = () => (t.frame_ms || 250) / +speed.value;

  function showTime(i) {
    const text = times ? timeTag(times[i]) : `Frame ${i + 1} of ${n}`;
    time.textContent = text;
    seek.setAttribute('aria-valuetext', text);
  }

  function decoded(i) {
    if (!cache.has(i)) cache.set(i, source.decode(i));
    for (const k of cache.keys()) {
      if (cache.size <= KEEP) break;
      if (k !== i) dropFrame(k);
    }
    return cache.get(i);
  }

  function dropFrame(k) {
    const p = cache.get(k);
    cache.delete(k);
    p.then(
      (f) => f.close(),
      () => undefined,
    );
  }

  /** Shows frame i; draws stay in order, and a later request wins. */
  function seekTo(i) {
    frame = i;
    seek.value = i;
    showTime(i);
    root.dataset.frame = i;
    if (!source) return drawn;
    drawn = drawn.then(async () => {
      if (destroyed || frame !== i) return;
      const image = await decoded(i).catch(() => undefined);
      if (destroyed || frame !== i || !image) return;
      ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
      root.dataset.shown = i;
      dropFrame(i); // shown: its pixels live in the canvas now
      if (n > 1) decoded((i + 1) % n); // the next one decodes while this one shows
    });
    return drawn;
  }

  function start() {
    if (!source || timer) return;
    play.textContent = '❚❚';
    play.setAttribute('aria-label', 'Pause');
    time.setAttribute('aria-live', 'off'); // no announcement per frame while playing; a pause announces the time
    root.dataset.playing = 'true';
    const run = ++runs;
    // Each frame is due one interval after the last was due, so decoding time does not slow the playback.
    due = performance.now() + interval();
    const tick = () => {
      seekTo((frame + 1) % n).then(() => {
        if (run !== runs || !timer) return;
        due = Math.max(due + interval(), performance.now());
        timer = setTimeout(tick, due - performance.now());
      });
    };
    timer = setTimeout(tick, interval());
  }

  function pause() {
    clearTimeout(timer);
    timer = 0;
    play.textContent = '▶';
    play.setAttribute('aria-label', 'Play');
    time.setAttribute('aria-live', 'polite');
    root.dataset.playing = 'false';
    showTime(frame);
  }

  function fallback(err) {
    if (destroyed) return;
    canvas.replaceWith(el('img', { className: 'mcp-screen', src: t.url, alt: label, width: t.width || 480, height: t.height || 360 }));
    controls.hidden = true;
    note.hidden = false;
    note.textContent = 'This browser plays the timelapse by itself here: it cannot be paused or scrubbed.';
    root.dataset.reason = err?.message || String(err);
    root.dataset.mode = 'img';
  }

  showTime(0);
  root.dataset.playing = 'false';
  play.disabled = seek.disabled = speed.disabled = true;
  load(t.url, abort.signal).then(
    (s) => {
      if (destroyed) return s.close();
      source = s;
      root.dataset.mode = s.mode;
      if (s.count !== n) {
        n = Math.max(1, s.count);
        times = undefined; // they describe other frames
        seek.max = n - 1;
      }
      seek.disabled = speed.disabled = false;
      play.disabled = n < 2;
      seekTo(0);
    },
    (err) => fallback(err),
  );

  return {
    element: root,
    destroy() {
      destroyed = true;
      clearTimeout(timer);
      timer = 0;
      abort.abort();
      for (const k of [...cache.keys()]) dropFrame(k);
      source?.close();
      root.remove();
    },
  };
}

async function load(url, signal) {
  const res = await fetch(url, { credentials: 'same-origin', signal });
  if (!res.ok) throw new Error(`the timelapse could not be loaded (HTTP ${res.status})`);
  if (typeof ImageDecoder === 'function' && (await ImageDecoder.isTypeSupported('image/webp'))) {
    const decoder = new ImageDecoder({ data: res.body, type: 'image/webp' });
    await decoder.completed;
    return {
      mode: 'decoder',
      count: decoder.tracks.selectedTrack.frameCount,
      decode: async (i) => (await decoder.decode({ frameIndex: i })).image,
      close: () => decoder.close(),
    };
  }
  const buf = await res.arrayBuffer();
  const frames = splitWebp(buf);
  if (!frames || typeof createImageBitmap !== 'function') throw new Error('this browser cannot step through the frames');
  return {
    mode: 'frames',
    count: frames.length,
    decode: (i) => createImageBitmap(stillWebp(buf, frames[i])),
    close: () => undefined,
  };
}

const fourcc = (d, at) => String.fromCharCode(d.getUint8(at), d.getUint8(at + 1), d.getUint8(at + 2), d.getUint8(at + 3));
const u24 = (d, at) => d.getUint16(at, true) | (d.getUint8(at + 2) << 16);

/**
 * The image data of each ANMF frame of an animated WebP ({at, size} of its VP8/VP8L chunk), or undefined when a
 * frame does not cover the whole canvas, has alpha, or the file is not as moncam writes it.
 */
export function splitWebp(buf) {
  const d = new DataView(buf);
  if (d.byteLength < 30 || fourcc(d, 0) !== 'RIFF' || fourcc(d, 8) !== 'WEBP' || fourcc(d, 12) !== 'VP8X') return undefined;
  const width = u24(d, 24) + 1;
  const height = u24(d, 27) + 1;
  const frames = [];
  for (let at = 12; at + 8 <= d.byteLength;) {
    const size = d.getUint32(at + 4, true);
    const end = at + 8 + size + (size & 1);
    if (end > d.byteLength + (size & 1)) return undefined;
    if (fourcc(d, at) === 'ANMF') {
      const x = u24(d, at + 8);
      const y = u24(d, at + 11);
      if (x || y || u24(d, at + 14) + 1 !== width || u24(d, at + 17) + 1 !== height || size < 24) return undefined;
      const sub = at + 24;
      const kind = fourcc(d, sub);
      if (kind !== 'VP8 ' && kind !== 'VP8L') return undefined;
      frames.push({ at: sub, size: 8 + d.getUint32(sub + 4, true) });
    }
    at = end;
  }
  return frames.length ? frames : undefined;
}

/** A still WebP file around one frame's image chunk. */
function stillWebp(buf, f) {
  const head = new DataView(new ArrayBuffer(12));
  [82, 73, 70, 70].forEach((c, i) => head.setUint8(i, c)); // RIFF
  head.setUint32(4, 4 + f.size + (f.size & 1), true);
  [87, 69, 66, 80].forEach((c, i) => head.setUint8(8 + i, c)); // WEBP
  return new Blob([head, new Uint8Array(buf, f.at, Math.min(f.size + (f.size & 1), buf.byteLength - f.at))], { type: 'image/webp' });
}
