/*
 * libFuzzer target for berth-runc's spec reader and editor: the config.json that containerd
 * and BuildKit write, in any shape. Whatever scans must, once edited, scan again with the
 * added entries counted and every other finding unchanged.
 * Built and run by test/unit/runtime-fuzz.test.ts (clang -fsanitize=fuzzer,address,undefined).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../spec-edit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct spec_scan before, after;
  if (spec_scan((const char *)data, size, &before) != 0) return 0;
  const char *env = "\"NODE_EXTRA_CA_CERTS=/dev/berth/ca-certificates.crt\",\"SSL_CERT_FILE=/x\"";
  const char *mounts = "{\"destination\":\"/dev/berth/ca-certificates.crt\",\"type\":\"bind\",\"source\":\"/b/x\",\"options\":[\"rbind\",\"ro\"]}";
  size_t len;
  char *edited = spec_insert((const char *)data, size, &before, env, mounts, &len);
  if (edited == NULL) return 0;
  if (spec_scan(edited, len, &after) != 0) abort();
  if (after.has_env != before.has_env || after.has_mounts != before.has_mounts) abort();
  if (before.has_env && (after.env_count != before.env_count + 2 || (after.env_has_var & 3u) != 3u)) abort();
  if (before.has_mounts && after.mounts_count != before.mounts_count + 1) abort();
  if (after.dev_is_tmpfs != before.dev_is_tmpfs || after.choice != before.choice) abort();
  if (memcmp(after.covered, before.covered, sizeof after.covered) != 0) abort();
  if (after.has_root_path != before.has_root_path || strcmp(after.root_path, before.root_path) != 0) abort();
  /* Nothing but the insertions changed: the bytes before the first one are the input's. */
  size_t first = before.has_env ? before.env_close : len;
  if (before.has_mounts && before.mounts_close < first) first = before.mounts_close;
  if (first > size || memcmp(edited, data, first) != 0) abort();
  free(edited);
  return 0;
}
