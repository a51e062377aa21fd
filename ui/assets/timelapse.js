// The day's timelapse, labelled with its day: the player (player.js) when it loads, else the animated
// WebP as a plain image; and the button that makes or updates it.
import { $, api, timeTag } from './util.js';

let mounted; // { destroy() } of the player shown, and the url it shows
let shownUrl = '';
let waiting; // the IntersectionObserver holding back the mount until #player is near the screen

/** A plain animated image: the browser plays it by itself (no controls). */
function plainPlayer(container, t) {
  const img = document.createElement('img');
  img.src = t.url;
  img.alt = `Timelapse of ${t.day}`;
  img.width = t.width || 480;
  img.height = t.height || 360;
  container.replaceChildren(img);
  return { destroy: () => container.replaceChildren() };
}

async function mount(container, t) {
  try {
    const { mountPlayer } = await import('./player.js');
    return mountPlayer(container, t);
  } catch {
    return plainPlayer(container, t);
  }
}

export async function showTimelapse(day, t, hasStills) {
  $('timelapse-title').textContent = `Timelapse of ${day}`;
  $('make-timelapse').textContent = t ? 'Update timelapse' : 'Make timelapse';
  $('make-timelapse').hidden = !hasStills;
  $('make-timelapse').dataset.day = day;
  $('timelapse-status').textContent = t
    ? `${t.frames} stills · ${((t.frames * t.frame_ms) / 1000).toFixed(1)} s · made ${timeTag(t.created_at)}`
    : hasStills
      ? 'No timelapse of this day yet.'
      : 'No stills, no timelapse.';
  // The GIF (made for phone notifications) is what messengers and phones take when shared.
  $('timelapse-share').hidden = !t?.gif_url;
  if (t?.gif_url) {
    $('timelapse-gif').href = t.gif_url;
    $('timelapse-gif').download = `timelapse-${day}.gif`;
    $('timelapse-gif').textContent = `Download as GIF (${(t.gif_bytes / 1e6).toFixed(1)} MB)`;
  }
  if (t && t.url === shownUrl) return;
  mounted?.destroy();
  mounted = undefined;
  waiting?.disconnect();
  waiting = undefined;
  shownUrl = t ? t.url : '';
  $('player').hidden = !t;
  if (!t) return;
  // The player fetches the whole timelapse (MBs): only once it is within a screen of being seen, so a
  // chosen day paints its strip first and a phone that never scrolls down fetches nothing.
  waiting = whenNear($('player'), () => {
    if (shownUrl !== t.url) return;
    mount($('player'), t).then((player) => {
      if (shownUrl === t.url && !mounted) mounted = player;
      else player.destroy(); // another day was chosen meanwhile
    });
  });
}

/** Runs `run` once `element` is within a screen of the viewport; returns the observer (to disconnect). */
function whenNear(element, run) {
  if (typeof IntersectionObserver !== 'function') return void run();
  const observer = new IntersectionObserver(
    (entries) => {
      if (!entries.some((e) => e.isIntersecting)) return;
      observer.disconnect();
      run();
    },
    { rootMargin: '100% 0px' },
  );
  observer.observe(element);
  return observer;
}

async function makeTimelapse() {
  const button = $('make-timelapse');
  const day = button.dataset.day;
  button.disabled = true;
  $('timelapse-status').textContent = 'Making the timelapse…';
  try {
    const t = await api('/api/timelapse', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ day }) });
    if (button.dataset.day === day) await showTimelapse(day, t, true);
  } catch (err) {
    $('timelapse-status').textContent = `No timelapse: ${err.message}`;
  } finally {
    button.disabled = false;
  }
}

export function initTimelapse() {
  $('make-timelapse').addEventListener('click', makeTimelapse);
}
