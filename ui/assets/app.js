// The page: the latest still with its time and status line, the day's stills, the day's timelapse,
// live updates. Each part is its own module; this one starts them and follows the server's events.
import { dayState, initDayNav, loadDay, loadDays } from './day.js';
import { showStatus } from './status.js';
import { initTimelapse, showTimelapse } from './timelapse.js';
import { $, api, openStill, session, timeTag } from './util.js';

let latest = null;

function notice(text, kind = '') {
  const n = $('notice');
  n.textContent = text;
  n.className = `notice ${kind}`;
  n.hidden = !text;
}

function showLatest(c) {
  latest = c;
  $('latest').hidden = !c;
  $('empty').hidden = Boolean(c);
  if (!c) return;
  const img = $('latest-img');
  // The thumbnail on a phone, the 1280 px preview on a wide screen (both carry the time tag).
  // The same as the server renders into the HTML (src/web/index-page.ts).
  img.srcset = `${c.urls.thumb} 480w, ${c.urls.preview} 1280w`;
  img.sizes = '(max-width: 520px) 100vw, 960px';
  img.src = c.urls.thumb;
  img.alt = `Latest still, taken ${timeTag(c.captured_at)}`;
  $('latest-link').href = c.urls.full;
  $('latest-time').href = c.urls.full;
  $('latest-time').textContent = timeTag(c.captured_at);
  $('latest-note').textContent = c.filed === false ? '· now (a visit still, not kept in the day)' : c.trigger ? `· ${c.trigger}` : '';
}

/** The latest still in the viewer: among its day's stills when that day is shown, else alone. */
function openLatest(e) {
  if (!latest || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
  e.preventDefault();
  const stills = dayState.day === latest.day ? [...dayState.stills] : [];
  let i = stills.findIndex((s) => s.id === latest.id);
  if (i < 0) i = stills.push(latest) - 1;
  openStill(stills, i);
}

/** The local day a still id (a UTC instant) may be filed under: its UTC date or the day either side. */
function daysOf(id) {
  const utc = Date.UTC(Number(id.slice(0, 4)), Number(id.slice(4, 6)) - 1, Number(id.slice(6, 8)));
  return [0, -1, 1].map((d) => new Date(utc + d * 86_400_000).toISOString().slice(0, 10));
}

/** A shared `#still=<id>` link: the viewer at that still, on its day (today's, or found by its id). */
async function restoreViewer() {
  if (!location.hash.startsWith('#still=') || document.querySelector('dialog[open]')) return;
  const id = decodeURIComponent(location.hash.slice(7));
  const shown = () => {
    const all = [...dayState.stills];
    if (latest && latest.day === dayState.day && !all.some((s) => s.id === latest.id)) all.push(latest);
    return all;
  };
  try {
    if (!shown().some((s) => s.id === id) && /^\d{8}T/.test(id)) {
      for (const day of daysOf(id)) {
        if (!dayState.days.includes(day)) continue;
        await loadDay(day);
        if (dayState.stills.some((s) => s.id === id)) break;
      }
    }
    const viewer = await import('./viewer.js');
    viewer.restoreFromUrl(shown());
  } catch {
    // no viewer, or no such still: the page alone
  }
}

async function refreshState() {
  const s = await api('/api/state');
  showStatus(s);
  return s;
}

async function takeStill() {
  $('take').disabled = true;
  notice('Taking a still…', 'busy');
  try {
    await api('/api/capture', { method: 'POST' });
    notice('');
  } catch (err) {
    notice(`Capture failed: ${err.message}`, 'error');
  } finally {
    $('take').disabled = false;
  }
}

function listen() {
  const events = new EventSource('/api/events');
  events.addEventListener('captured', (e) => {
    const c = JSON.parse(e.data);
    showLatest(c);
    notice('');
    refreshState().catch(() => undefined);
    // A visit still is in no day: the strip stays as it is.
    if (c.filed !== false && dayState.day === c.day) loadDay(c.day);
    if (c.filed !== false && !dayState.days.includes(c.day)) loadDays().catch(() => undefined);
  });
  events.addEventListener('timelapse', (e) => {
    const t = JSON.parse(e.data);
    if (dayState.day === t.day) showTimelapse(t.day, t, true);
  });
  events.addEventListener('failed', (e) => {
    const f = JSON.parse(e.data);
    notice(`Capture failed (${f.error}): ${f.message}`, 'error');
    refreshState().catch(() => undefined);
  });
}

async function main() {
  const s = await api('/api/state');
  session.csrf = s.csrf;
  document.title = `${s.camera.name} · moncam`;
  $('camera-name').textContent = s.camera.name;
  showLatest(s.latest);
  showStatus(s);
  $('take').addEventListener('click', takeStill);
  $('latest-link').addEventListener('click', openLatest);
  $('latest-time').addEventListener('click', openLatest);
  initTimelapse();
  initDayNav(s.today);
  dayState.onLoaded = (data) =>
    showTimelapse(
      data.day,
      data.timelapse,
      data.hours.some((h) => h.captures.length),
    );
  listen();
  // The status turns on its own too (a still becomes overdue, a pause ends).
  setInterval(() => refreshState().catch(() => undefined), 60_000);
  await Promise.all([loadDays().catch(() => undefined), loadDay(s.today)]);
  document.documentElement.dataset.ready = 'true'; // tests and the bench wait for this
  restoreViewer();
  if (s.fresh_on_visit) {
    // The page already shows the latest still; a fresh one replaces it when it arrives (SSE).
    const r = await api('/api/visit', { method: 'POST' }).catch(() => ({}));
    if (r.fresh) notice('Taking a fresh still…', 'busy');
  }
}

main().catch((err) => notice(`Could not load the page: ${err.message}`, 'error'));
