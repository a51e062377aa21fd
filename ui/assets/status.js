// The status line under the still: the camera and its health (a synthetic or failing camera said plainly,
// with the reason and what to do), the latest still's age, the next scheduled still, free space.
// From `status` of GET /api/state; the old `health` snapshot when a daemon sends no `status`.
import { $ } from './util.js';

/** `3 min ago`, `2 h ago`, `just now`. */
export function age(fromMs, nowMs) {
  const s = Math.max(0, Math.round((nowMs - fromMs) / 1000));
  if (s < 45) return 'just now';
  if (s < 90 * 60) return `${Math.max(1, Math.round(s / 60))} min ago`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

/** `in 12 min`, `at 14:00` (the browser's clock: only ever shown with a relative part). */
export function until(atMs, nowMs) {
  const s = Math.round((atMs - nowMs) / 1000);
  if (s <= 30) return 'due now';
  if (s < 90 * 60) return `in ${Math.max(1, Math.round(s / 60))} min`;
  return `in ${Math.round(s / 3600)} h`;
}

export function bytes(n) {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)} GB`;
  if (n >= 1e6) return `${Math.round(n / 1e6)} MB`;
  return `${Math.round(n / 1e3)} kB`;
}

const HEADLINE = {
  ok: 'Camera OK',
  stale: 'Camera late',
  failing: 'Camera failing',
  paused: 'Captures paused',
  no_stills: 'No stills yet',
};

/** The line's parts and its kind (ok, warn, error) for a `status` object. */
export function describeStatus(st, nowMs) {
  const kind = st.synthetic || st.state === 'stale' || st.state === 'no_stills' ? 'warn' : st.state === 'failing' || st.state === 'paused' ? 'error' : 'ok';
  const head = st.synthetic && st.state === 'ok' ? 'Synthetic camera (test pictures, no real camera)' : `${HEADLINE[st.state] || st.state}`;
  const parts = [`${head} · ${st.backend}`];
  if (st.latest_at) parts.push(`latest ${age(Date.parse(st.latest_at), nowMs)}`);
  if (st.next_at) parts.push(`next ${until(Date.parse(st.next_at), nowMs)}`);
  if (typeof st.free_bytes === 'number') parts.push(`${bytes(st.free_bytes)} free`);
  // The reason names the failure already; the last error only when there is no reason to show.
  const error = !st.reason && st.last_error && st.state !== 'ok' ? `Last error (${st.last_error.code}): ${st.last_error.message}` : '';
  const advice = st.advice || (st.synthetic ? 'These are test pictures: set camera.backend (or auto) for the Pi camera, then restart moncam.' : '');
  const why = [st.reason, error, advice].filter(Boolean).join(' ');
  return { kind, line: parts.join(' · '), advice: why };
}

/** What the old health snapshot says, for a daemon without `status`. */
function fromHealth(h) {
  if (!h || h.ok || !h.last_failure) return undefined;
  const f = h.last_failure;
  const retry = h.paused_until ? ` Captures are paused until ${new Date(h.paused_until).toLocaleTimeString()}.` : '';
  return { kind: 'error', line: `Capture failed (${f.code}): ${f.message}`, advice: `${h.consecutive_failures} in a row.${retry}` };
}

let last; // the state answer shown, re-rendered each minute so the ages move on
let timer;

export function showStatus(state) {
  last = state;
  render();
  clearInterval(timer);
  timer = setInterval(render, 30_000);
}

function render() {
  const d = last?.status ? describeStatus(last.status, Date.now()) : fromHealth(last?.health);
  const box = $('camera-status');
  box.hidden = !d;
  if (!d) {
    $('status-line').textContent = '';
    $('status-advice').textContent = '';
    return;
  }
  box.className = `camera-status ${d.kind}`;
  $('status-line').textContent = d.line;
  $('status-advice').textContent = d.advice;
  $('status-advice').hidden = !d.advice;
}
