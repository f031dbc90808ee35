/* libFuzzer target for berth-engine-init's boot plan parser. Invariants: a parsed plan's
 * strings all lie inside the input, and every entry has a command. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../boot-plan.h"

static void inside(const char *s, const uint8_t *data, size_t size) {
  if (!s || (const uint8_t *)s < data || (const uint8_t *)s + strlen(s) >= data + size) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct boot_plan plan;
  char why[128];
  if (boot_plan_parse((const char *)data, size, &plan, why, sizeof why) != 0) return 0;
  for (size_t i = 0; i < plan.count; i++) {
    const struct plan_entry *e = &plan.entries[i];
    inside(e->name, data, size);
    inside(e->cwd, data, size);
    if (!e->argv[0]) abort();
    for (const char *const *p = e->argv; *p; p++) inside(*p, data, size);
    for (const char *const *p = e->env; *p; p++) inside(*p, data, size);
  }
  return 0;
}
