#include "boot-plan.h"

#include <stdio.h>
#include <string.h>

struct cursor {
  const char *at;
  const char *end;
};

/* The next NUL-terminated token, or NULL when the bytes end without one. */
static const char *next_token(struct cursor *c) {
  if (c->at >= c->end) return NULL;
  const char *nul = memchr(c->at, '\0', (size_t)(c->end - c->at));
  if (!nul) return NULL;
  const char *token = c->at;
  c->at = nul + 1;
  return token;
}

/* A decimal count from 0 to max, written without sign or leading zeros. */
static int parse_count(const char *s, int max) {
  if (!s || !*s || strlen(s) > 3 || (s[0] == '0' && s[1])) return -1;
  int n = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return -1;
    n = n * 10 + (*s - '0');
  }
  return n <= max ? n : -1;
}

/* LinuxKit's entry names: lower-case letters, digits, '.', '_' and '-', starting alphanumeric. */
static int valid_name(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 64) return 0;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    int alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
    if (!alnum && (i == 0 || (ch != '.' && ch != '_' && ch != '-'))) return 0;
  }
  return 1;
}

static int read_list(struct cursor *c, const char **out, int require_equals) {
  int n = parse_count(next_token(c), PLAN_MAX_LIST);
  if (n < 0) return -1;
  for (int i = 0; i < n; i++) {
    const char *t = next_token(c);
    if (!t || (require_equals && (t[0] == '=' || !strchr(t, '=')))) return -1;
    out[i] = t;
  }
  out[n] = NULL;
  return n;
}

int boot_plan_parse(const char *buf, size_t len, struct boot_plan *plan, char *why, size_t why_len) {
  struct cursor c = {buf, buf + len};
  memset(plan, 0, sizeof *plan);
  if (len > PLAN_MAX_BYTES) {
    snprintf(why, why_len, "larger than %d bytes", PLAN_MAX_BYTES);
    return -1;
  }
  const char *magic = next_token(&c);
  if (!magic || strcmp(magic, "berth-boot-plan-1") != 0) {
    snprintf(why, why_len, "not a berth boot plan (version 1)");
    return -1;
  }
  for (;;) {
    const char *kind = next_token(&c);
    if (!kind) break;
    if (strcmp(kind, "end") == 0) {
      if (c.at != c.end) break;
      return 0;
    }
    if (plan->count == PLAN_MAX_ENTRIES) {
      snprintf(why, why_len, "more than %d entries", PLAN_MAX_ENTRIES);
      return -1;
    }
    struct plan_entry *e = &plan->entries[plan->count];
    if (strcmp(kind, "onboot") != 0 && strcmp(kind, "service") != 0) {
      snprintf(why, why_len, "entry %zu: kind is neither onboot nor service", plan->count + 1);
      return -1;
    }
    e->is_service = kind[0] == 's';
    e->name = next_token(&c);
    e->cwd = next_token(&c);
    if (!e->name || !valid_name(e->name) || !e->cwd || e->cwd[0] != '/') {
      snprintf(why, why_len, "entry %zu: a bad name or working directory", plan->count + 1);
      return -1;
    }
    for (size_t i = 0; i < plan->count; i++) {
      if (strcmp(plan->entries[i].name, e->name) == 0) {
        snprintf(why, why_len, "entry %zu: its name is used twice", plan->count + 1);
        return -1;
      }
    }
    if (read_list(&c, e->env, 1) < 0 || read_list(&c, e->argv, 0) < 1 || !e->argv[0][0]) {
      snprintf(why, why_len, "entry %zu (%s): a bad environment or command", plan->count + 1, e->name);
      return -1;
    }
    plan->count++;
  }
  snprintf(why, why_len, "the plan is cut short or has bytes after its end");
  return -1;
}
