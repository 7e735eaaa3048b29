// What the benchmarks in Node share for their numbers: the median, and a timestamped progress line.

/** The median of `values` (the mean of the two middle ones for an even count; NaN for none). */
export const median = (values) => {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};

/** A progress line on stderr, with the seconds since the process started. */
export const phase = (what) => console.error(`[${(performance.now() / 1000).toFixed(1)} s] ${what}`);
