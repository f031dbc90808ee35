/*
 * Which iptables backend the engine's namespace uses. dockerd rewrites its rules at every
 * start (after a crash or on kept data it restores, deletes and remakes its default bridge
 * and every rule of it), and with nf_tables each deleted rule waits ~15 ms on the kernel;
 * the legacy x_tables backend does the same work in ~1 ms. Measured here, a bare dockerd:
 * on kept data 385-430 ms with nf_tables against 211-263 ms legacy, back after SIGKILL
 * 475-533 against 213-226 ms. WSL's kernels carry both backends (older ones lack parts of
 * nf_tables, which is why Docker's own WSL guides set iptables-legacy). A kernel built
 * without legacy gets nf_tables: the engine's onboot action `iptables` (berth.yml) and
 * every writer of the engine's rules probe the same way and so agree.
 *
 * Only the engine's namespace: WSL's VM namespace, which the user's distros share, keeps
 * nf_tables as their own iptables has it, so no rule of Berth's there sits in a second backend.
 */

/** The system image's two multi-call binaries: the engine's first choice, and nf_tables (its fallback, and the VM namespace's). */
export const LEGACY_XTABLES = 'xtables-legacy-multi';
export const NFT_XTABLES = 'xtables-nft-multi';

/** The names the image links to LEGACY_XTABLES (the onboot action relinks them to NFT_XTABLES). */
export const IPTABLES_TOOLS = ['iptables', 'iptables-save', 'iptables-restore', 'ip6tables', 'ip6tables-save', 'ip6tables-restore'] as const;
