// The page: latest still with its time, full resolution on click, hour-by-hour history, live updates.
const $ = (id) => document.getElementById(id);
let state = { csrf: '', today: '', day: '', latestId: '' };

function timeTag(iso) {
  // captured_at carries the camera's local offset; show that wall-clock time, not the browser's.
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)/.exec(iso);
  return m ? `${m[1]} ${m[2]}` : iso;
}

function setStatus(text, kind = '') {
  const el = $('status');
  el.textContent = text;
  el.className = `status ${kind}`;
  el.hidden = !text;
}

function showLatest(c) {
  if (!c) {
    $('latest').hidden = true;
    $('empty').hidden = false;
    return;
  }
  state.latestId = c.id;
  $('empty').hidden = true;
  $('latest').hidden = false;
  // The thumbnail on a phone, the 1280 px preview on a wide screen (both carry the time tag).
  $('latest-img').srcset = `${c.urls.thumb} 480w, ${c.urls.preview} 1280w`;
  $('latest-img').sizes = '(max-width: 520px) 100vw, 960px';
  $('latest-img').src = c.urls.thumb;
  $('latest-img').alt = `Still taken ${timeTag(c.captured_at)}`;
  $('latest-link').href = c.urls.full;
  $('latest-time').href = c.urls.full;
  $('latest-time').textContent = timeTag(c.captured_at);
  $('latest-trigger').textContent = c.trigger ? `· ${c.trigger}` : '';
}

async function api(path, options = {}) {
  const res = await fetch(path, { credentials: 'same-origin', ...options, headers: { 'X-CSRF-Token': state.csrf, ...(options.headers || {}) } });
  if (res.status === 401) {
    location.href = '/login';
    throw new Error('logged out');
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw Object.assign(new Error(body.message || res.statusText), { code: body.error });
  return body;
}

/** The day's timelapse (an animated WebP the browser plays by itself), or the button to make one. */
function showTimelapse(t) {
  $('timelapse').hidden = !t;
  $('make-timelapse').textContent = t ? 'Update timelapse' : 'Make timelapse';
  if (!t) return;
  if ($('timelapse-img').getAttribute('src') !== t.url) $('timelapse-img').src = t.url;
  $('timelapse-img').width = t.width || 480;
  $('timelapse-img').height = t.height || 360;
  $('timelapse-caption').textContent =
    `Timelapse · ${t.frames} stills · ${((t.frames * t.frame_ms) / 1000).toFixed(1)} s · made ${timeTag(t.created_at || '')}`;
}

async function makeTimelapse() {
  const day = state.day;
  $('make-timelapse').disabled = true;
  $('timelapse-status').textContent = 'Making the timelapse…';
  try {
    const t = await api('/api/timelapse', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ day }) });
    if (state.day === day) showTimelapse(t);
    $('timelapse-status').textContent = '';
  } catch (err) {
    $('timelapse-status').textContent = `No timelapse: ${err.message}`;
  } finally {
    $('make-timelapse').disabled = false;
  }
}

async function loadDay(day) {
  state.day = day;
  $('day').value = day;
  const list = $('hours');
  list.setAttribute('aria-busy', 'true');
  try {
    const data = await api(`/api/days/${day}`);
    if (state.day !== day) return; // the user moved on while this loaded
    showTimelapse(data.timelapse);
    $('make-timelapse').hidden = !data.hours.some((h) => h.captures.length);
    $('timelapse-status').textContent = '';
    $('day').min = data.oldest_allowed || '';
    $('prev-day').disabled = !data.prev;
    $('next-day').disabled = !data.next && day >= state.today;
    $('prev-day').dataset.day = data.prev || '';
    $('next-day').dataset.day = data.next || '';
    list.replaceChildren(
      ...data.hours.map(({ hour, captures }) => {
        const li = document.createElement('li');
        li.className = captures.length ? 'hour' : 'hour empty';
        const label = document.createElement('span');
        label.className = 'hour-label';
        label.textContent = `${String(hour).padStart(2, '0')}:00`;
        li.append(label);
        if (!captures.length) {
          const none = document.createElement('span');
          none.className = 'muted';
          none.textContent = '—';
          li.append(none);
        }
        for (const c of captures) {
          const a = document.createElement('a');
          a.href = c.urls.full;
          a.title = `Open ${timeTag(c.captured_at)} at full resolution`;
          const img = document.createElement('img');
          img.src = c.urls.thumb;
          img.alt = `Still ${timeTag(c.captured_at)}`;
          img.loading = 'lazy';
          img.width = 160;
          img.height = 120;
          const t = document.createElement('span');
          t.textContent = timeTag(c.captured_at).slice(11);
          a.append(img, t);
          li.append(a);
        }
        return li;
      }),
    );
  } catch (err) {
    list.replaceChildren(Object.assign(document.createElement('li'), { className: 'error', textContent: `Could not load ${day}: ${err.message}` }));
  } finally {
    list.removeAttribute('aria-busy');
  }
}

async function takeStill() {
  $('take').disabled = true;
  setStatus('Taking a still…', 'busy');
  try {
    await api('/api/capture', { method: 'POST' });
  } catch (err) {
    setStatus(`Capture failed: ${err.message}`, 'error');
  } finally {
    $('take').disabled = false;
  }
}

function listen() {
  const events = new EventSource('/api/events');
  events.addEventListener('captured', (e) => {
    const c = JSON.parse(e.data);
    showLatest(c);
    setStatus('');
    if (state.day === c.day) loadDay(c.day);
  });
  events.addEventListener('timelapse', (e) => {
    const t = JSON.parse(e.data);
    if (state.day === t.day) showTimelapse(t);
  });
  events.addEventListener('failed', (e) => {
    const f = JSON.parse(e.data);
    setStatus(`Capture failed (${f.error}): ${f.message}`, 'error');
  });
}

/** The camera's trouble in one line: what failed last, how often in a row, and when it is retried. */
function healthText(h) {
  if (!h || h.ok || !h.last_failure) return '';
  const f = h.last_failure;
  const retry = h.paused_until ? ` Captures are paused until ${new Date(h.paused_until).toLocaleTimeString()}.` : '';
  return `Capture failed (${f.code}): ${f.message} — ${h.consecutive_failures} in a row.${retry}`;
}

async function main() {
  const s = await api('/api/state');
  state.csrf = s.csrf;
  state.today = s.today;
  document.title = `${s.camera.name} · moncam`;
  $('camera-name').textContent = s.camera.name;
  showLatest(s.latest);
  setStatus(healthText(s.health), 'error');
  listen();
  $('take').addEventListener('click', takeStill);
  $('make-timelapse').addEventListener('click', makeTimelapse);
  $('prev-day').addEventListener('click', () => $('prev-day').dataset.day && loadDay($('prev-day').dataset.day));
  $('next-day').addEventListener('click', () => loadDay($('next-day').dataset.day || state.today));
  $('day').max = s.today;
  $('day').addEventListener('change', () => $('day').value && loadDay($('day').value));
  await loadDay(s.today);
  if (s.fresh_on_visit) {
    // The page is already showing the latest still; a fresh one replaces it when it arrives (SSE).
    const r = await api('/api/visit', { method: 'POST' }).catch(() => ({}));
    if (r.fresh) setStatus('Taking a fresh still…', 'busy');
  }
}

main().catch((err) => setStatus(`Could not load the page: ${err.message}`, 'error'));
