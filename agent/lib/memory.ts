/**
 * A full garbage collection, when node runs with `--expose-gc` (the systemd unit starts the
 * daemon so). V8 collects its old generation only as it grows, and after an apply or a backup
 * the agent sits idle for minutes at a time: that work's garbage would stay resident until the
 * next large allocation. One collection then costs a few milliseconds. Without the flag: nothing.
 */
export function releaseMemory(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc === 'function') gc();
}
