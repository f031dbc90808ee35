/**
 * Runs the tasks handed to it one at a time, in the order they came. A task that fails
 * rejects its own promise only: the ones queued after it still run.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
