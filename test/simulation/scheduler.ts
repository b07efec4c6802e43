/**
 * Virtual time for the deterministic simulations: events run one at a time in (time, insertion) order,
 * and every promise chain an event starts settles before the next event (the next event waits for
 * setImmediate, which runs only once every pending microtask and nextTick callback has run, however long
 * the chain and whatever else queued ticks), so a seed always replays the same execution.
 */
export class Scheduler {
  time = 0;
  private sequence = 0;
  private readonly events: Array<{ time: number; sequence: number; run: () => void }> = [];

  at(delay: number, run: () => void): void {
    const event = { time: this.time + delay, sequence: this.sequence++, run };
    // Keep the queue sorted by (time, sequence): insert after every event that runs no later.
    let low = 0;
    let high = this.events.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.events[middle]!.time <= event.time) low = middle + 1;
      else high = middle;
    }
    this.events.splice(low, 0, event);
  }

  async run(maxEvents: number): Promise<void> {
    for (let count = 0; count < maxEvents && this.events.length > 0; count++) {
      const event = this.events.shift()!;
      this.time = event.time;
      event.run();
      // Let every promise chain the event started settle before the next event.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Runs events until `done()` holds (checked after each event), the queue empties or `maxEvents` ran. */
  async runUntil(done: () => boolean, maxEvents: number): Promise<boolean> {
    for (let count = 0; count < maxEvents && this.events.length > 0; count++) {
      if (done()) return true;
      const event = this.events.shift()!;
      this.time = event.time;
      event.run();
      await new Promise((resolve) => setImmediate(resolve));
    }
    return done();
  }

  /** A promise that resolves `ms` of virtual time from now (at least 1). */
  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => this.at(Math.max(1, Math.round(ms)), resolve));
  }
}
