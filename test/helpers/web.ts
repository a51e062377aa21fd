// A tiny HTTP client with a cookie jar, for testing the web app as a browser would (without rendering).
import http from 'node:http';

export class WebClient {
  readonly base: string;
  private cookies = new Map<string, string>();
  csrf = '';
  constructor(base: string) {
    this.base = base;
  }
  get cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
  /** Raw Set-Cookie lines of the last response that had any. */
  lastSetCookie: string[] = [];
  async request(path: string, init: RequestInit & { headers?: Record<string, string> } = {}): Promise<Response> {
    const headers: Record<string, string> = { ...(init.headers ?? {}) };
    if (this.cookies.size && !('cookie' in headers)) headers.cookie = this.cookieHeader;
    const res = await fetch(this.base + path, { redirect: 'manual', ...init, headers });
    const set = res.headers.getSetCookie();
    if (set.length) this.lastSetCookie = set;
    for (const line of set) {
      const [pair] = line.split(';');
      const i = pair!.indexOf('=');
      const name = pair!.slice(0, i).trim();
      const value = pair!.slice(i + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(line) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }
  get(path: string, headers: Record<string, string> = {}): Promise<Response> {
    return this.request(path, { headers });
  }
  post(path: string, body?: string, headers: Record<string, string> = {}): Promise<Response> {
    return this.request(path, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin', ...headers },
    });
  }
  async login(password: string): Promise<Response> {
    const res = await this.post('/login', `password=${encodeURIComponent(password)}`);
    if (res.headers.get('location') === '/') {
      const state = (await (await this.get('/api/state')).json()) as { csrf: string };
      this.csrf = state.csrf;
    }
    return res;
  }
  /** An authenticated API POST as the page makes it. */
  api(path: string, body = ''): Promise<Response> {
    return this.post(path, body, { 'x-csrf-token': this.csrf, 'content-type': 'application/json' });
  }
}

/** Opens an SSE stream and collects events until closed. */
export function openEvents(base: string, cookie: string): Promise<{ status: number; events: Array<{ event: string; data: string }>; close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}/api/events`, { headers: { cookie, accept: 'text/event-stream' } }, (res) => {
      const events: Array<{ event: string; data: string }> = [];
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) events.push({ event, data });
        }
      });
      res.on('error', () => undefined);
      resolve({ status: res.statusCode ?? 0, events, close: () => req.destroy() });
    });
    req.on('error', reject);
  });
}
