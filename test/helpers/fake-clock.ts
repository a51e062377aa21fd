// A clock that moves only when told: its time and its timers, for the parts that take timing hooks
// (the health publisher). node:test's mock.timers would also stop the MQTT client's and broker's timers.
export class FakeClock {
  private t: number;
  private nextId = 1;
  private readonly pending = new Map<number, { at: number; fn: () => void }>();

  constructor(start: Date | number = Date.now()) {
    this.t = typeof start === 'number' ? start : start.getTime();
  }

  readonly now = (): Date => new Date(this.t);

  readonly timers = {
    setTimeout: (fn: () => void, ms: number): unknown => {
      const id = this.nextId++;
      this.pending.set(id, { at: this.t + Math.max(0, ms), fn });
      return id;
    },
    clearTimeout: (handle: unknown): void => {
      this.pending.delete(handle as number);
    },
  };

  /** Timers waiting. */
  get waiting(): number {
    return this.pending.size;
  }

  /** Moves time on by `ms`, running each timer that falls due, in order, at its own time. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = [...this.pending].filter(([, p]) => p.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.pending.delete(due[0]);
      this.t = Math.max(this.t, due[1].at);
      due[1].fn();
    }
    this.t = end;
  }

  advanceTo(date: Date): void {
    this.advance(Math.max(0, date.getTime() - this.t));
  }
}
