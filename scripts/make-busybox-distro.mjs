// Usage: node scripts/make-busybox-distro.mjs WORKDIR NAME → prints the path of NAME.tar.gz
import { makeRootfsTarball } from '../dist/test/helpers/busybox-distro.js';

const [workDir, name] = process.argv.slice(2);
if (!workDir || !name) {
  console.error('usage: make-busybox-distro.mjs WORKDIR NAME');
  process.exit(2);
}
console.log(await makeRootfsTarball(workDir, name));
