/** Progress of a multi-step build: a live line on a terminal, one line per step elsewhere. */
export interface Progress {
  step(index: number, total: number, label: string): void;
  update(done: number, total: number): void;
  done(summary: string): void;
}

export function consoleProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
  let current = '';
  let lastPercent = -1;
  return {
    step(index, total, label) {
      current = `[${index}/${total}] ${label}`;
      lastPercent = -1;
      if (!stream.isTTY) stream.write(`${current}…\n`);
    },
    update(done, total) {
      const percent = total ? Math.floor((done / total) * 100) : 0;
      if (!stream.isTTY || percent === lastPercent) return;
      lastPercent = percent;
      const width = 24;
      const filled = Math.round((percent / 100) * width);
      stream.write(`\r${current} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${percent}%`);
    },
    done(summary) {
      stream.write(stream.isTTY ? `\r\x1b[K${current}: ${summary}\n` : `${current}: ${summary}\n`);
    },
  };
}

export const silentProgress: Progress = { step() {}, update() {}, done() {} };
