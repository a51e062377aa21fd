// The in-page still viewer: full resolution over the page with its time, previous/next (buttons, arrow keys,
// swipe), zoom and pan (pinch, double-tap, double-click, wheel, + and - keys), download of the original, and
// close (Escape, the close button, the browser's back button). Opening pushes `#still=<id>`, so back closes
// it and the URL can be shared within the session. Self-contained: it links its own stylesheet.
const MAX_SCALE = 8;
const TAP_ZOOM = 2.5;
const SWIPE_PX = 50;
const DOUBLE_TAP_MS = 300;

/** The open viewer, or undefined. */
let v;
/** The last list opened, so the forward button can reopen a still. */
let lastStills = [];
let lastOnClose;

/** The camera's wall-clock time, as the page's time tags show it (captured_at carries the camera's offset). */
export function timeTag(iso) {
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)/.exec(iso || '');
  return m ? `${m[1]} ${m[2]}` : String(iso || '');
}

/** Links viewer.css (beside this module) once, unless the page already did. */
export function linkStyles() {
  const href = new URL('viewer.css', import.meta.url).href;
  if ([...document.querySelectorAll('link[rel=stylesheet]')].some((l) => l.href === href)) return;
  document.head.append(el('link', { rel: 'stylesheet', href }));
}

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, val] of Object.entries(props)) {
    if (k.startsWith('on')) node.addEventListener(k.slice(2), val);
    else if (k in node && !k.includes('-')) node[k] = val;
    else node.setAttribute(k, val);
  }
  node.append(...children);
  return node;
}

const stillId = () => /^#still=(.+)$/.exec(location.hash)?.[1];

export function openViewer(stills, index, { onClose } = {}) {
  open(stills, index, onClose, 'push');
}

/** Opens the still named by `#still=<id>` when it is in `stills`; true when it did. */
export function restoreFromUrl(stills) {
  const id = stillId() && decodeURIComponent(stillId());
  const index = stills.findIndex((s) => s.id === id);
  if (index < 0) return false;
  // An entry this viewer pushed (reload keeps history.state): back leads to the page, as before the reload.
  open(stills, index, undefined, history.state?.moncamStill ? 'entry' : 'replace');
  return true;
}

let listening = false;

function open(stills, index, onClose, how) {
  if (!stills.length) return;
  index = Math.max(0, Math.min(stills.length - 1, Math.trunc(index) || 0));
  lastStills = stills;
  if (!listening) addEventListener('popstate', onPopState); // kept: the forward button reopens a closed still
  listening = true;
  if (v?.pushed) how = 'entry'; // already on the viewer's own history entry: reused, not pushed again
  if (v) teardown(false);
  lastOnClose = onClose;
  linkStyles();
  const button = (cls, label, text, onclick) => el('button', { type: 'button', className: cls, 'aria-label': label, title: label, onclick }, text);
  const time = el('time', { className: 'mcv-time' });
  const count = el('span', { className: 'mcv-count' });
  const img = el('img', { className: 'mcv-img', alt: '', draggable: false });
  const stage = el('div', { className: 'mcv-stage' }, img);
  const prev = button('mcv-prev', 'Previous still', '‹', () => step(-1));
  const next = button('mcv-next', 'Next still', '›', () => step(1));
  const download = el('a', { className: 'mcv-download', download: '' }, 'Download');
  const dialog = el(
    'dialog',
    { className: 'mcv', 'aria-label': 'Still viewer' },
    el(
      'div',
      { className: 'mcv-top' },
      el('p', { className: 'mcv-title', 'aria-live': 'polite', 'aria-atomic': 'true' }, time, ' ', count),
      button('mcv-close', 'Close viewer', '×', () => close()),
    ),
    stage,
    el(
      'div',
      { className: 'mcv-bar' },
      prev,
      button('mcv-zoom-out', 'Zoom out', '−', () => zoomBy(1 / 1.5)),
      button('mcv-zoom-in', 'Zoom in', '+', () => zoomBy(1.5)),
      download,
      next,
    ),
  );
  v = { stills, index, onClose, dialog, stage, img, time, count, prev, next, download, scale: 1, tx: 0, ty: 0, pushed: how !== 'replace' };
  v.returnFocus = document.activeElement;
  v.pointers = new Map();
  dialog.addEventListener('keydown', onKey);
  // Escape is handled in onKey; a dialog closed any other way (the browser's own close request) closes the viewer.
  dialog.addEventListener('cancel', (e) => (e.preventDefault(), close()));
  dialog.addEventListener('close', () => v?.dialog === dialog && close());
  stage.addEventListener('pointerdown', onDown);
  stage.addEventListener('pointermove', onMove);
  stage.addEventListener('pointerup', onUp);
  stage.addEventListener('pointercancel', onUp);
  stage.addEventListener('wheel', onWheel, { passive: false });
  // Touch double-taps are handled in onUp (Chromium also sends a dblclick for them; Safari does not).
  stage.addEventListener('dblclick', (e) => v.lastType === 'mouse' && toggleZoom(e.clientX, e.clientY));
  document.body.append(dialog);
  dialog.showModal();
  const id = stills[index].id;
  if (how === 'push') history.pushState({ moncamStill: id }, '', `#still=${encodeURIComponent(id)}`);
  show(index);
  dialog.querySelector('.mcv-close').focus();
}

function show(index) {
  const s = v.stills[index];
  v.index = index;
  const tag = timeTag(s.captured_at);
  v.time.textContent = tag;
  v.time.dateTime = s.captured_at;
  v.count.textContent = `(${index + 1} of ${v.stills.length})`;
  v.img.alt = `Still taken ${tag}`;
  v.img.src = s.urls.preview;
  v.dialog.dataset.id = s.id;
  v.dialog.dataset.loaded = 'preview';
  v.download.href = s.urls.full; // full.jpg is the stored original, byte for byte
  v.download.download = `moncam-${s.id}.jpg`;
  v.download.setAttribute('aria-label', `Download the original of ${tag}`);
  // A focused button that becomes disabled loses focus at once in current Chromium (keys would then miss
  // the dialog): remember it first and hand focus to the other direction.
  const had = document.activeElement;
  v.prev.disabled = index === 0;
  v.next.disabled = index === v.stills.length - 1;
  if ((had === v.prev || had === v.next) && had.disabled) (index === 0 ? v.next : v.prev).focus();
  if (v.pushed || stillId()) history.replaceState({ moncamStill: s.id }, '', `#still=${encodeURIComponent(s.id)}`);
  resetZoom();
  const full = new Image();
  full.src = s.urls.full;
  full.decode().then(
    () => {
      if (v?.index !== index || v.stills[index] !== s) return;
      v.img.src = s.urls.full;
      v.dialog.dataset.loaded = 'full';
    },
    () => undefined, // the preview stays; the download link still offers the original
  );
  for (const n of [index - 1, index + 1]) if (v.stills[n]) new Image().src = v.stills[n].urls.preview;
}

function step(delta) {
  const n = v.index + delta;
  if (n >= 0 && n < v.stills.length) show(n);
}

/** Closes from the page (button, Escape): the history entry opening pushed is popped. */
function close() {
  if (!v) return;
  const pushed = v.pushed;
  teardown(true);
  if (pushed) history.back();
  else history.replaceState(null, '', location.pathname + location.search);
}

function teardown(notify) {
  const { dialog, returnFocus, onClose } = v;
  v = undefined;
  if (dialog.open) dialog.close();
  dialog.remove();
  if (returnFocus?.isConnected) returnFocus.focus();
  if (notify) onClose?.();
}

function onPopState() {
  const id = stillId() && decodeURIComponent(stillId());
  if (v && v.stills[v.index].id !== id) return teardown(true); // back button: the entry is gone already
  if (!v && id && history.state?.moncamStill) {
    const index = lastStills.findIndex((s) => s.id === id);
    if (index >= 0) open(lastStills, index, lastOnClose, 'entry'); // forward button
  }
}

/** Moves a zoomed still by a tenth of the screen, as if the view moved (dx, dy); nothing when not zoomed. */
function pan(dx, dy) {
  if (v.scale <= 1) return;
  const r = v.stage.getBoundingClientRect();
  v.tx -= (dx * r.width) / 10;
  v.ty -= (dy * r.height) / 10;
  apply();
}

function onKey(e) {
  // ← and → change the still; Shift+← / Shift+→ and ↑ ↓ move a zoomed one.
  const arrows = e.shiftKey ? { ArrowLeft: () => pan(-1, 0), ArrowRight: () => pan(1, 0) } : { ArrowLeft: () => step(-1), ArrowRight: () => step(1) };
  const keys = {
    ...arrows,
    ArrowUp: () => pan(0, -1),
    ArrowDown: () => pan(0, 1),
    Escape: close,
    '+': () => zoomBy(1.5),
    '=': () => zoomBy(1.5),
    '-': () => zoomBy(1 / 1.5),
    0: resetZoom,
  };
  if (e.key === 'Tab') return trapTab(e);
  const act = !e.altKey && !e.ctrlKey && !e.metaKey && keys[e.key];
  if (!act) return;
  e.preventDefault();
  e.stopPropagation(); // the page's own keys wait until the viewer is closed
  act();
}

/** Tab and Shift+Tab cycle through the viewer's controls (showModal makes the page inert; this keeps focus off the browser UI too). */
function trapTab(e) {
  const items = [...v.dialog.querySelectorAll('button:not(:disabled), a[href]')];
  const first = items[0];
  const last = items.at(-1);
  const to = e.shiftKey ? document.activeElement === first && last : document.activeElement === last && first;
  if (!to) return;
  e.preventDefault();
  to.focus();
}

function apply() {
  const r = v.stage.getBoundingClientRect();
  const maxX = ((v.scale - 1) * r.width) / 2;
  const maxY = ((v.scale - 1) * r.height) / 2;
  v.tx = Math.max(-maxX, Math.min(maxX, v.tx));
  v.ty = Math.max(-maxY, Math.min(maxY, v.ty));
  v.img.style.transform = `translate(${v.tx}px, ${v.ty}px) scale(${v.scale})`;
  v.dialog.dataset.scale = v.scale.toFixed(2);
  v.stage.classList.toggle('zoomed', v.scale > 1);
}

/** Zooms to `scale` keeping the point under (x, y) (client coordinates; default the centre) where it is. */
function zoomTo(scale, x, y) {
  const r = v.stage.getBoundingClientRect();
  const px = (x ?? r.left + r.width / 2) - (r.left + r.width / 2);
  const py = (y ?? r.top + r.height / 2) - (r.top + r.height / 2);
  const s = Math.max(1, Math.min(MAX_SCALE, scale));
  v.tx = px - ((px - v.tx) * s) / v.scale;
  v.ty = py - ((py - v.ty) * s) / v.scale;
  v.scale = s;
  apply();
}

const zoomBy = (f, x, y) => zoomTo(v.scale * f, x, y);
const toggleZoom = (x, y) => (v.scale > 1 ? resetZoom() : zoomTo(TAP_ZOOM, x, y));

function resetZoom() {
  v.scale = 1;
  v.tx = v.ty = 0;
  apply();
}

function onWheel(e) {
  e.preventDefault();
  zoomBy(Math.exp(-e.deltaY / 300), e.clientX, e.clientY);
}

const spread = (a, b) => Math.hypot(a.x - b.x, a.y - b.y);

function onDown(e) {
  v.lastType = e.pointerType;
  v.stage.setPointerCapture(e.pointerId);
  v.pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
  const [a, b] = [...v.pointers.values()];
  if (b) v.gesture = { pinch: true, dist: spread(a, b) || 1, scale: v.scale, mx: (a.x + b.x) / 2, my: (a.y + b.y) / 2 };
  else v.gesture = { x: e.clientX, y: e.clientY, tx: v.tx, ty: v.ty, scale: v.scale, at: e.timeStamp };
}

function onMove(e) {
  if (!v.pointers.has(e.pointerId)) return;
  v.pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
  const g = v.gesture;
  const [a, b] = [...v.pointers.values()];
  if (g.pinch && b) {
    const mx = (a.x + b.x) / 2;
    const my = (a.y + b.y) / 2;
    v.tx += mx - g.mx;
    v.ty += my - g.my;
    g.mx = mx;
    g.my = my;
    zoomTo((g.scale * spread(a, b)) / g.dist, mx, my);
  } else if (!g.pinch && g.scale > 1) {
    v.tx = g.tx + e.clientX - g.x;
    v.ty = g.ty + e.clientY - g.y;
    apply();
  } else if (!g.pinch) {
    v.img.style.transform = `translateX(${e.clientX - g.x}px)`; // the still follows the swiping finger
  }
}

function onUp(e) {
  if (!v.pointers.delete(e.pointerId)) return;
  const g = v.gesture;
  if (g.pinch || v.pointers.size) return; // a pinch ends when its last finger lifts; no swipe or tap from it
  const dx = e.clientX - g.x;
  const dy = e.clientY - g.y;
  if (g.scale === 1) apply(); // back in place (or the next still, centred)
  if (e.type === 'pointerup' && g.scale === 1 && Math.abs(dx) > SWIPE_PX && Math.abs(dx) > Math.abs(dy)) step(dx < 0 ? 1 : -1);
  else if (e.pointerType !== 'mouse' && Math.hypot(dx, dy) < 10) {
    // A tap; two in quick succession zoom in there, or back out (a mouse double-clicks instead).
    if (v.lastTap && e.timeStamp - v.lastTap < DOUBLE_TAP_MS) {
      v.lastTap = 0;
      toggleZoom(e.clientX, e.clientY);
    } else v.lastTap = e.timeStamp;
  }
}
