// berth-agent start --hold: the manager's word to go, on stdin.

/**
 * `--hold`: the manager starts this command as soon as it knows a start will come, so that
 * Node loads while the manager writes berth-data's files and mounts its store. "go" on stdin
 * starts the engine; the end of stdin (the manager gave up, or ended), or any other line,
 * starts nothing, and says so.
 */
export async function toldToGo(): Promise<boolean> {
  const go = await new Promise<boolean>((resolve) => {
    let line = '';
    const settle = (told: boolean) => {
      process.stdin.off('data', onData).off('end', onEnd).pause();
      resolve(told);
    };
    const onData = (d: Buffer) => {
      line += d.toString();
      const end = line.indexOf('\n');
      if (end >= 0 || line.length > 64) settle(end >= 0 && line.slice(0, end).trim() === 'go');
    };
    const onEnd = () => settle(false);
    process.stdin.on('data', onData).once('end', onEnd);
  });
  if (!go) process.stderr.write('berth-agent: not told to go; nothing was started\n');
  return go;
}
