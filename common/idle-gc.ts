import { performance } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';

/** How often a daemon looks at whether it is idle. */
const CHECK_MS = 15_000;
/** Idle: the event loop was busy less than this share of the last CHECK_MS. */
const IDLE_BELOW = 0.01;
/** Quiet long enough for two idle checks: by then every daemon has given its garbage back (what the soak and bench wait before counting memory). */
export const IDLE_SETTLE_MS = 2 * CHECK_MS + 5_000;
/** A collection is worth it only once the heap has grown this much since the last one. */
const GROWN_BY = 1.1;

/**
 * Gives a long-lived daemon's memory back once it goes quiet. V8 collects while a process
 * allocates, and then keeps the heap it grew: an idle backend or proxy would sit on the
 * high-water mark of its last burst (measured: a heap of 72 MiB after a burst holds 8.5 MiB
 * once collected). So every CHECK_MS, if the event loop was all but idle and the heap has
 * grown since the last collection, this runs one full collection (`gc`: V8's, exposed by
 * settleAsDaemon in common/settle-daemon.ts). A busy process is never interrupted: V8's own
 * collector serves it as before.
 */
export function collectGarbageWhenIdle(o: { gc: () => void; everyMs?: number; busyShare?: () => number; heapBytes?: () => number }): () => void {
  const { gc } = o;
  const busyShare = o.busyShare ?? eventLoopBusyShare();
  const heapBytes = o.heapBytes ?? (() => getHeapStatistics().total_heap_size);
  let heapAfterLast = 0;
  const timer = setInterval(() => {
    if (busyShare() >= IDLE_BELOW || heapBytes() <= heapAfterLast * GROWN_BY) return;
    gc();
    heapAfterLast = heapBytes();
  }, o.everyMs ?? CHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/** The share of the time since its last call that the event loop was busy. */
function eventLoopBusyShare(): () => number {
  let before = performance.eventLoopUtilization();
  return () => {
    const now = performance.eventLoopUtilization();
    const share = performance.eventLoopUtilization(now, before).utilization;
    before = now;
    return share;
  };
}
