/*
 * libFuzzer target for berth-relay's parsers: the command lines Node sends and the head each
 * forwarder connection starts with (what root in any distro can write to the forwarder
 * socket). Anything parsed must format back to text that parses to the same value.
 * Built and run by test/unit/native-fuzz.test.ts (clang -fsanitize=fuzzer,address,undefined).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../relay-proto.h"

static void same_after_round_trip(const struct relay_target *t) {
  char head[256];
  int n = relay_format_head(t, head, sizeof head);
  if (n <= 0 || head[n - 1] != '\n') abort();
  head[n - 1] = '\0';
  struct relay_target again;
  if (relay_parse_head(head, &again) != 0 || memcmp(t, &again, sizeof again) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  struct relay_command cmd;
  if (relay_parse_command(text, &cmd) == 0) {
    if (cmd.key[0] == '\0' && cmd.op != OP_ALLOW && cmd.op != OP_DENY) abort();
    if (cmd.op == OP_LISTEN || cmd.op == OP_TARGET) same_after_round_trip(&cmd.target);
  }
  struct relay_target t;
  if (relay_parse_head(text, &t) == 0) same_after_round_trip(&t);
  free(text);
  return 0;
}
