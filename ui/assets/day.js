// The day: a compact strip of the stills that exist (uniform thumbnails, the stills of one hour side by
// side, runs of empty hours collapsed to one line), scene changes marked, and the day navigation.
import { $, api, clock, el, openStill } from './util.js';

export const dayState = { day: '', today: '', stills: [], days: [], onLoaded: () => {} };

const hh = (h) => `${String(h).padStart(2, '0')}:00`;

/** A run of hours without stills, collapsed: `02–05 h`, or one hour `03:00`. */
function gap(from, to) {
  const li = el('li', 'gap');
  const hours = from === to ? hh(from) : `${String(from).padStart(2, '0')}–${String(to).padStart(2, '0')} h`;
  li.setAttribute('aria-label', from === to ? `No stills at ${hh(from)}` : `No stills from ${hh(from)} to ${String(to).padStart(2, '0')}:59`);
  li.append(el('span', 'gap-hours', hours), el('span', 'muted', 'none'));
  return li;
}

function thumb(c, index) {
  const li = el('li');
  const a = el('a', c.changed ? 'thumb changed' : 'thumb');
  a.href = c.urls.full;
  a.dataset.index = String(index);
  a.tabIndex = -1; // one tab stop for the strip; arrow keys move within it (roving focus)
  const time = clock(c.captured_at);
  const img = el('img');
  img.src = c.urls.thumb;
  img.alt = '';
  img.loading = 'lazy';
  img.decoding = 'async';
  img.width = 160;
  img.height = 120;
  a.append(img, el('span', 'thumb-time', time));
  if (c.changed) {
    const badge = el('span', 'badge', `Δ ${Math.round(c.change)} %`);
    badge.prepend(el('span', 'visually-hidden', ', scene changed '));
    a.append(badge);
  }
  li.append(a);
  return li;
}

/** The strip's items: hours with stills, and collapsed runs of empty hours between and around them. */
function stripItems(hours, day, today) {
  const items = [];
  const stills = [];
  const last = day === today ? Math.max(-1, ...hours.filter((h) => h.captures.length).map((h) => h.hour)) : 23;
  let emptyFrom = -1;
  for (const { hour, captures } of hours) {
    if (!captures.length) {
      if (emptyFrom < 0) emptyFrom = hour;
      continue;
    }
    if (emptyFrom >= 0) items.push(gap(emptyFrom, hour - 1));
    emptyFrom = -1;
    const li = el('li', 'hour');
    li.append(el('span', 'hour-label', hh(hour)));
    const list = el('ol', 'thumbs');
    for (const c of captures) list.append(thumb(c, stills.push(c) - 1));
    li.append(list);
    items.push(li);
  }
  // Hours still to come today are not "empty".
  if (emptyFrom >= 0 && emptyFrom <= last) items.push(gap(emptyFrom, 23));
  return { items, stills };
}

function dayTitle(day, today) {
  if (day === today) return `Today · ${day}`;
  const date = new Date(`${day}T12:00:00Z`);
  const weekday = date.toLocaleDateString('en', { weekday: 'long', timeZone: 'UTC' });
  return `${weekday} · ${day}`;
}

export function renderDay(data) {
  const { day } = data;
  const strip = $('strip');
  const { items, stills } = stripItems(data.hours, day, dayState.today);
  dayState.stills = stills;
  $('day-title').textContent = dayTitle(day, dayState.today);
  const changes = stills.filter((c) => c.changed).length;
  $('day-summary').textContent = stills.length
    ? `${stills.length} ${stills.length === 1 ? 'still' : 'stills'}${changes ? ` · ${changes} with a scene change (Δ)` : ''}`
    : day === dayState.today
      ? 'No stills yet today.'
      : 'No stills on this day.';
  // Rendered again (a new still today, the same day fetched twice): a keyboard user keeps their place,
  // the strip's tab stop and, if it was there, the focus stay on the same still.
  const again = strip.dataset.day === day;
  const stop = again ? strip.querySelector('.thumb[tabindex="0"]')?.getAttribute('href') : undefined;
  const focused = again && strip.contains(document.activeElement);
  strip.replaceChildren(...items);
  strip.dataset.day = day;
  strip.hidden = !stills.length;
  const thumbs = [...strip.querySelectorAll('.thumb')];
  const current = thumbs.find((a) => a.getAttribute('href') === stop) ?? thumbs[0];
  if (current) {
    current.tabIndex = 0;
    if (focused) current.focus({ preventScroll: true });
  }
  $('day').min = data.oldest_allowed || '';
  $('prev-day').disabled = !data.prev;
  $('next-day').disabled = !data.next && day >= dayState.today;
  $('prev-day').dataset.day = data.prev || '';
  $('next-day').dataset.day = data.next || (day < dayState.today ? dayState.today : '');
}

export async function loadDay(day) {
  dayState.day = day;
  $('day').value = day;
  const strip = $('strip');
  strip.setAttribute('aria-busy', 'true');
  try {
    const data = await api(`/api/days/${day}`);
    if (dayState.day !== day) return; // the user moved on while this loaded
    renderDay(data);
    dayState.onLoaded(data);
  } catch (err) {
    $('day-summary').textContent = `Could not load ${day}: ${err.message}`;
  } finally {
    strip.removeAttribute('aria-busy');
  }
}

/** Days with stills, offered by the date picker. */
export async function loadDays() {
  const { days } = await api('/api/days');
  dayState.days = days;
  $('days-with-stills').replaceChildren(...days.map((d) => Object.assign(el('option'), { value: d })));
  if (days.length) $('day').min = days[0];
}

/** Roving focus: the strip is one tab stop; arrows, Home and End move between its thumbnails. */
function onStripKey(e) {
  const thumbs = [...$('strip').querySelectorAll('.thumb')];
  const i = thumbs.indexOf(document.activeElement);
  if (i < 0) return;
  const next = { ArrowRight: i + 1, ArrowDown: i + 1, ArrowLeft: i - 1, ArrowUp: i - 1, Home: 0, End: thumbs.length - 1 }[e.key];
  if (next === undefined || !thumbs[next]) return;
  e.preventDefault();
  thumbs[i].tabIndex = -1;
  thumbs[next].tabIndex = 0;
  thumbs[next].focus();
}

function onStripClick(e) {
  const a = e.target.closest('.thumb');
  if (!a || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
  e.preventDefault();
  openStill(dayState.stills, Number(a.dataset.index));
}

export function initDayNav(today) {
  dayState.today = today;
  $('day').max = today;
  $('prev-day').addEventListener('click', () => $('prev-day').dataset.day && loadDay($('prev-day').dataset.day));
  $('next-day').addEventListener('click', () => $('next-day').dataset.day && loadDay($('next-day').dataset.day));
  $('day').addEventListener('change', () => $('day').value && loadDay($('day').value));
  $('strip').addEventListener('keydown', onStripKey);
  $('strip').addEventListener('click', onStripClick);
}
