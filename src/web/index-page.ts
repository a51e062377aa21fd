// The page's HTML with the latest still already in it: the browser fetches the image while it loads the
// stylesheet and scripts (the page-load budget of `npm run bench`), and a still shows before any script
// has run. Everything else the page fills in itself from /api/state.
import fs from 'node:fs/promises';
import type { Still } from '../storage/store.ts';
import { captureJson } from './json.ts';

const IMG = '<img id="latest-img" alt="Latest still" width="480" height="360" />';
const FIGURE = '<figure id="latest" hidden>';
const LINK = '<a id="latest-link" href="#"';
const TIME = '<a id="latest-time" class="time-tag" href="#" aria-describedby="latest-note"></a>';

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export class IndexPage {
  private readonly file: string;
  private template?: Promise<string>;

  constructor(file: string) {
    this.file = file;
  }

  /** index.html (read once), with `latest` in its figure when there is one. */
  async render(latest: Still | undefined): Promise<string> {
    this.template ??= fs.readFile(this.file, 'utf8').then((html) => {
      for (const part of [IMG, FIGURE, LINK, TIME]) if (!html.includes(part)) throw new Error(`${this.file} lacks ${part}`);
      return html;
    });
    const html = await this.template.catch((err: unknown) => {
      this.template = undefined; // read again next time (an install in progress)
      throw err;
    });
    if (!latest) return html;
    const c = captureJson(latest);
    const tag = escape(c.captured_at.slice(0, 19).replace('T', ' '));
    // The same sources and sizes as the page's script sets (ui/assets/app.js showLatest).
    const img =
      `<img id="latest-img" alt="Latest still, taken ${tag}" width="480" height="360" src="${escape(c.urls.thumb)}" ` +
      `srcset="${escape(c.urls.thumb)} 480w, ${escape(c.urls.preview)} 1280w" sizes="(max-width: 520px) 100vw, 960px" />`;
    return html
      .replace(IMG, img)
      .replace(FIGURE, '<figure id="latest">')
      .replace(LINK, `<a id="latest-link" href="${escape(c.urls.full)}"`)
      .replace(TIME, `<a id="latest-time" class="time-tag" href="${escape(c.urls.full)}" aria-describedby="latest-note">${tag}</a>`);
  }
}
