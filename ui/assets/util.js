// Shared by the page's modules: element lookup, the API call, times as the camera wrote them.
export const $ = (id) => document.getElementById(id);

/** The session's CSRF token, set once /api/state has answered. */
export const session = { csrf: '' };

/** `2026-12-05 14:05:09`: captured_at carries the camera's local offset; the camera's wall clock, not the browser's. */
export function timeTag(iso) {
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)/.exec(iso || '');
  return m ? `${m[1]} ${m[2]}` : iso || '';
}

/** `14:05` of a captured_at. */
export function clock(iso) {
  return timeTag(iso).slice(11, 16);
}

export async function api(path, options = {}) {
  const res = await fetch(path, { credentials: 'same-origin', ...options, headers: { 'X-CSRF-Token': session.csrf, ...(options.headers || {}) } });
  if (res.status === 401) {
    location.href = '/login';
    throw new Error('logged out');
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw Object.assign(new Error(body.message || res.statusText), { code: body.error });
  return body;
}

/** Element with a class and text, the page's most common piece. */
export function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

/**
 * Opens the in-page viewer (viewer.js) at `index`; when it cannot load, the still's full resolution
 * opens as a plain page, as links do without script.
 */
export async function openStill(stills, index) {
  try {
    const viewer = await import('./viewer.js');
    viewer.openViewer(stills, index, {});
  } catch {
    location.href = stills[index].urls.full;
  }
}
