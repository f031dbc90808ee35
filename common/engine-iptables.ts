/*
 * Which iptables backend the engine's namespace uses. dockerd rewrites its rules at every
 * start (after a crash or on kept data it restores, deletes and remakes its default bridge
 * and every rule of it), and with nf_tables each deleted rule waits ~15 ms on the kernel;
 * the legacy x_tables backend does the same work in ~1 ms. Measured here, a bare dockerd:
 * on kept data 385-430 ms with nf_tables against 211-263 ms legacy, back after SIGKILL
 * 475-533 against 213-226 ms. WSL's 5.10 and 5.15 kernels have legacy and lack parts of
 * nf_tables (which is why guides for dockerd in WSL set iptables-legacy); newer kernels can
 * be built without legacy. Such a kernel gets nf_tables: the engine's onboot action
 * `iptables` (berth.yml) and every writer of the engine's rules probe the same way and so agree.
 *
 * Only the engine's namespace: WSL's VM namespace, which the user's distros share, keeps
 * nf_tables as their own iptables has it, so no rule of Berth's there sits in a second backend.
 *
 * One lock for every writer of the engine's rules. A legacy write replaces a whole table
 * (read, change, write back), and the kernel refuses the write back with EAGAIN when the
 * table changed meanwhile: dockerd would fail a container's start ("driver failed
 * programming external connectivity") if Berth's port rules went in at that moment, as in
 * `docker compose up`. iptables' -w lock serializes writers that share its file, and
 * dockerd's (the engine root's /run), the agent's (the berth distro) and the backend's (the
 * host) are three different /run: so all three name one file in the engine's data store,
 * which each of them reaches, with XTABLES_LOCKFILE. nf_tables needs none of this (each
 * change is its own transaction), but takes the lock all the same.
 */

/** The system image's two multi-call binaries: the engine's first choice, and nf_tables (its fallback, and the VM namespace's). */
export const LEGACY_XTABLES = 'xtables-legacy-multi';
export const NFT_XTABLES = 'xtables-nft-multi';

/**
 * The probe for the legacy backend, after the tool's name: listing a table, which fails on a
 * kernel without it. berth.yml's onboot action, the agent's wrapper, the backend's link rules
 * and the tests all ask this one question (the test of the onboot action holds berth.yml to it).
 */
export const LEGACY_PROBE_ARGS = ['-w', '-t', 'filter', '-n', '-L'] as const;

/** The names the image links to LEGACY_XTABLES (the onboot action relinks them to NFT_XTABLES). */
export const IPTABLES_TOOLS = ['iptables', 'iptables-save', 'iptables-restore', 'ip6tables', 'ip6tables-save', 'ip6tables-restore'] as const;

/** The lock's path in the engine's data store (/var/lib inside the engine; berth.yml's dockerd env names it). */
export const ENGINE_XTABLES_LOCK = 'berth/xtables.lock';
