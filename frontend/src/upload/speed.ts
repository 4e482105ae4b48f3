// Upload speed: bytes per second over the last ten seconds of the server's `received`.

const SPEED_WINDOW_MS = 10_000;
/** Samples closer together than this say nothing useful. */
const MIN_SPAN_MS = 200;

export class SpeedMeter {
  private samples: Array<[number, number]> = [];

  /** Forget the samples (a jump back, a retry or a pause makes them meaningless). */
  reset(): void {
    this.samples = [];
  }

  /** The server had `bytes` at time `t` (ms). */
  add(t: number, bytes: number): void {
    this.samples.push([t, bytes]);
    while (this.samples.length > 2 && t - this.samples[0][0] > SPEED_WINDOW_MS) this.samples.shift();
  }

  /** Bytes per second, null until measurable. */
  bytesPerSecond(): number | null {
    if (this.samples.length < 2) return null;
    const [t0, b0] = this.samples[0];
    const [t1, b1] = this.samples[this.samples.length - 1];
    return t1 - t0 >= MIN_SPAN_MS && b1 >= b0 ? ((b1 - b0) * 1000) / (t1 - t0) : null;
  }
}
