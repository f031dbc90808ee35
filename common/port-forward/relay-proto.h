/*
 * The text berth-relay reads from Node and from the forwarder socket, parsed strictly:
 * anything that does not fit exactly is refused, never half-acted on. Kept apart from the
 * relay's event loop so that the fuzzer and the unit tests drive it alone.
 */
#ifndef BERTH_RELAY_PROTO_H
#define BERTH_RELAY_PROTO_H
#include <stddef.h>
#include <sys/socket.h>

#define KEY_MAX 128
/* "[ffff:…]:65535" and a little more */
#define RELAY_ADDR_TEXT 64

struct relay_target {
  int family; /* AF_INET or AF_INET6 */
  unsigned char addr[16];
  unsigned port;
};

enum relay_op { OP_LISTEN, OP_TARGET, OP_CLOSE, OP_ALLOW, OP_DENY };

struct relay_command {
  enum relay_op op;
  char key[KEY_MAX + 1];
  struct relay_target target; /* listen, target */
  unsigned id; /* allow, deny */
};

/* "listen KEY ADDR PORT", "target KEY IP PORT", "close KEY", "allow ID", "deny ID". 0 if valid. */
int relay_parse_command(const char *line, struct relay_command *out);
/* "tcp IP PORT" (without the newline). 0 if valid. */
int relay_parse_head(const char *head, struct relay_target *out);
/* "tcp IP PORT\n"; the length written, or -1. */
int relay_format_head(const struct relay_target *t, char *buf, size_t size);
/* "IP PORT"; the length written, or -1. */
int relay_format_target(const struct relay_target *t, char *buf, size_t size);
socklen_t relay_sockaddr(const struct relay_target *t, struct sockaddr_storage *out);

#endif
