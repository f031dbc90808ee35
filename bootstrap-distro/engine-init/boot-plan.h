/* The engine's boot plan: the LinuxKit root's onboot actions and services, compiled by the
 * agent from the LinuxKit YAML (bootstrap-distro/agent/boot-plan.ts), read by
 * berth-engine-init. A file of NUL-terminated tokens:
 *   "berth-boot-plan-1"
 *   then per entry: kind ("onboot" or "service"), name, cwd, env count, env…, argc, argv…
 *   then "end".
 * The parser checks every count and bound: a plan that breaks them is refused whole. */
#ifndef BERTH_BOOT_PLAN_H
#define BERTH_BOOT_PLAN_H

#include <stddef.h>

#define PLAN_MAX_BYTES (256 * 1024)
#define PLAN_MAX_ENTRIES 32
#define PLAN_MAX_LIST 128

struct plan_entry {
  int is_service;
  const char *name;
  const char *cwd;
  /* NULL-terminated, pointing into the plan's buffer. */
  const char *env[PLAN_MAX_LIST + 1];
  const char *argv[PLAN_MAX_LIST + 1];
};

struct boot_plan {
  size_t count;
  struct plan_entry entries[PLAN_MAX_ENTRIES];
};

/* Parses `len` bytes at `buf` (kept: the entries point into it). 0 on success; else -1 with
 * a reason in `why` (at most `why_len` bytes). */
int boot_plan_parse(const char *buf, size_t len, struct boot_plan *plan, char *why, size_t why_len);

#endif
