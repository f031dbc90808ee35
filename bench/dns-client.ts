/**
 * The DNS client of the network benchmark, run on each side (the host; a container's network
 * namespace via nsenter). Prints one JSON line with the median ms.
 *   query SERVER NAME N   N raw A queries over UDP to SERVER:53 (the container's resolver)
 *   lookup NAME N         N getaddrinfo calls (the host resolving the same name)
 */
import { createSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import dnsPacket from 'dns-packet';

function query(server: string, name: string, id: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => reject(new Error(`no answer from ${server}`)), 5000);
    s.once('message', () => {
      clearTimeout(timer);
      s.close();
      resolve();
    });
    s.send(dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name }] }), 53, server);
  });
}

const [mode, ...args] = process.argv.slice(2);
const times: number[] = [];
const n = Number(mode === 'query' ? args[2] : args[1]);
for (let i = 0; i < n; i++) {
  const t0 = process.hrtime.bigint();
  if (mode === 'query') await query(args[0]!, args[1]!, i + 1);
  else await lookup(args[0]!, { family: 4 });
  times.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
times.sort((a, b) => a - b);
console.log(JSON.stringify({ ms: times[Math.floor(times.length / 2)] }));
