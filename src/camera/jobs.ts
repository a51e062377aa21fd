// Camera runs one at a time, in order. A request equal to one already waiting or running joins it
// instead of queueing another run (a burst of equal requests costs one still), and a run is aborted
// only when every caller that joined it has given up.

interface Entry<T> {
  key: string;
  controller: AbortController;
  /** Callers that can still use the result (Infinity once one joined without a signal). */
  waiting: number;
  promise: Promise<T>;
}

export class JoinedQueue<T> {
  private readonly entries: Entry<T>[] = [];
  private chain: Promise<unknown> = Promise.resolve();
  private readonly abortError: (signal: AbortSignal) => Error;

  constructor(abortError: (signal: AbortSignal) => Error) {
    this.abortError = abortError;
  }

  /** `work` runs (once, after the runs queued before it) unless an equal `key` is already queued or running. */
  run(key: string, signal: AbortSignal | undefined, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (signal?.aborted) return Promise.reject(this.abortError(signal));
    let entry = this.entries.find((e) => e.key === key && !e.controller.signal.aborted);
    if (!entry) {
      const controller = new AbortController();
      const created: Entry<T> = { key, controller, waiting: 0, promise: undefined as unknown as Promise<T> };
      created.promise = this.chain.then(() => work(controller.signal)).finally(() => this.entries.splice(this.entries.indexOf(created), 1));
      this.chain = created.promise.catch(() => undefined);
      this.entries.push(created);
      entry = created;
    }
    return this.attach(entry, signal);
  }

  /** A caller's view of an entry: its own abort rejects it at once; the run stops when nobody waits any more. */
  private attach(entry: Entry<T>, signal?: AbortSignal): Promise<T> {
    if (!signal) {
      entry.waiting = Infinity;
      return entry.promise;
    }
    entry.waiting++;
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        reject(this.abortError(signal));
        if (--entry.waiting <= 0) entry.controller.abort(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      entry.promise.then(
        (value) => {
          signal.removeEventListener('abort', onAbort);
          resolve(value);
        },
        (err: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      );
    });
  }
}
