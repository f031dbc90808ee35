import type { DistroInfo } from '../../wsl-host/host.js';

/**
 * WSL's distro list for the page, which must not wait on WSL: `wsl -l` queues behind an
 * import (minutes, while the checkbox's first start imports berth). Each call starts one
 * refresh if none is under way and waits for it at most `waitMs`; meanwhile the page
 * shows the list it last got.
 */
export class DistroCache {
  private last: DistroInfo[] = [];
  private refreshing: Promise<DistroInfo[]> | undefined;

  constructor(private readonly list: () => Promise<DistroInfo[]>) {}

  async get(waitMs: number): Promise<DistroInfo[]> {
    this.refreshing ??= this.list()
      .then((l) => (this.last = l))
      .finally(() => (this.refreshing = undefined));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<DistroInfo[]>((resolve) => (timer = setTimeout(() => resolve(this.last), waitMs)));
    try {
      return await Promise.race([this.refreshing.catch(() => this.last), late]);
    } finally {
      clearTimeout(timer);
    }
  }
}
