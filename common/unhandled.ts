/**
 * For Berth's long-lived processes: a promise rejection or exception that nothing handled is
 * logged with its stack and the process keeps serving. On Node 20 an unhandled rejection ends
 * the process, and a stray one in a helper must not take a distro's proxy or the backend down;
 * the code around each promise is still expected to handle its own (this is the last line).
 */
export function logUnhandled(log: (line: string) => void, processName: string): void {
  process.on('unhandledRejection', (reason) => {
    log(`${processName}: a promise failed and nothing handled it (a bug; kept serving): ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`);
  });
}
