#!/usr/bin/env node
// The Linux WSL host: wsl.exe's command line over Linux namespaces (see wsl-host/). bin/berth-wsl
// (the native entry, wsl-host/native/wsl-entry.c) runs this for anything but a fast --exec.
import { main } from '../dist/host/berth-wsl.mjs';

main(process.argv.slice(2)).then(
  // Exit once stdout has drained (a pipe is written asynchronously).
  (code) => process.stdout.write('', () => process.exit(code)),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
