#define _GNU_SOURCE
#include "relay-proto.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* Splits `line` at single spaces into at most `max` words; the count, or -1 if malformed. */
static int split(char *line, char **words, int max) {
  int n = 0;
  char *p = line;
  while (*p) {
    if (n == max || *p == ' ') return -1; /* too many words, or an empty one */
    words[n++] = p;
    char *space = strchr(p, ' ');
    if (!space) break;
    *space = '\0';
    p = space + 1;
    if (!*p) return -1; /* a trailing space */
  }
  return n;
}

static int parse_number(const char *text, unsigned max, unsigned *out) {
  if (!*text || strlen(text) > 10 || (text[0] == '0' && text[1])) return -1;
  unsigned long v = 0;
  for (const char *p = text; *p; p++) {
    if (*p < '0' || *p > '9') return -1;
    v = v * 10 + (unsigned long)(*p - '0');
  }
  if (v > max) return -1;
  *out = (unsigned)v;
  return 0;
}

/* Keys are what Node makes of a port: "127.0.0.1:8080/tcp", "::1:8080/tcp". */
static int valid_key(const char *key) {
  size_t len = strlen(key);
  if (len == 0 || len > KEY_MAX) return 0;
  for (const char *p = key; *p; p++) {
    int alnum = (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z');
    if (!alnum && !strchr(".:/[]-_", *p)) return 0;
  }
  return 1;
}

static int parse_address(const char *ip, const char *port, struct relay_target *out) {
  memset(out, 0, sizeof *out);
  if (strlen(ip) >= 46) return -1;
  if (inet_pton(AF_INET, ip, out->addr) == 1) out->family = AF_INET;
  else if (inet_pton(AF_INET6, ip, out->addr) == 1) out->family = AF_INET6;
  else return -1;
  if (parse_number(port, 65535, &out->port) != 0 || out->port == 0) return -1;
  return 0;
}

int relay_parse_command(const char *line, struct relay_command *out) {
  char copy[512];
  if (strlen(line) >= sizeof copy) return -1;
  strcpy(copy, line);
  char *w[4];
  int n = split(copy, w, 4);
  if (n < 2) return -1;
  memset(out, 0, sizeof *out);
  if (strcmp(w[0], "allow") == 0 || strcmp(w[0], "deny") == 0) {
    out->op = w[0][0] == 'a' ? OP_ALLOW : OP_DENY;
    return n == 2 && parse_number(w[1], 0xffffffffu, &out->id) == 0 ? 0 : -1;
  }
  if (!valid_key(w[1])) return -1;
  snprintf(out->key, sizeof out->key, "%s", w[1]);
  if (strcmp(w[0], "close") == 0) {
    out->op = OP_CLOSE;
    return n == 2 ? 0 : -1;
  }
  if (strcmp(w[0], "listen") == 0) out->op = OP_LISTEN;
  else if (strcmp(w[0], "target") == 0) out->op = OP_TARGET;
  else return -1;
  return n == 4 ? parse_address(w[2], w[3], &out->target) : -1;
}

int relay_parse_head(const char *head, struct relay_target *out) {
  char copy[256];
  if (strlen(head) >= sizeof copy) return -1;
  strcpy(copy, head);
  char *w[3];
  if (split(copy, w, 3) != 3 || strcmp(w[0], "tcp") != 0) return -1;
  return parse_address(w[1], w[2], out);
}

int relay_format_target(const struct relay_target *t, char *buf, size_t size) {
  char ip[INET6_ADDRSTRLEN];
  if (!inet_ntop(t->family, t->addr, ip, sizeof ip)) return -1;
  int n = snprintf(buf, size, "%s %u", ip, t->port);
  return n > 0 && (size_t)n < size ? n : -1;
}

int relay_format_head(const struct relay_target *t, char *buf, size_t size) {
  char where[RELAY_ADDR_TEXT];
  if (relay_format_target(t, where, sizeof where) < 0) return -1;
  int n = snprintf(buf, size, "tcp %s\n", where);
  return n > 0 && (size_t)n < size ? n : -1;
}

socklen_t relay_sockaddr(const struct relay_target *t, struct sockaddr_storage *out) {
  memset(out, 0, sizeof *out);
  if (t->family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)out;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((unsigned short)t->port);
    memcpy(&a->sin6_addr, t->addr, 16);
    return sizeof *a;
  }
  struct sockaddr_in *a = (struct sockaddr_in *)out;
  a->sin_family = AF_INET;
  a->sin_port = htons((unsigned short)t->port);
  memcpy(&a->sin_addr, t->addr, 4);
  return sizeof *a;
}
