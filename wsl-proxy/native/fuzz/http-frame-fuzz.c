/*
 * libFuzzer target for the API front's HTTP framing (what any user of a distro can send to
 * its docker.sock, and what the daemon answers). A parsed head must lie inside the input;
 * a chunked body read in two pieces must end where it ends read in one.
 * Built and run by test/unit/native-fuzz.test.ts (clang -fsanitize=fuzzer,address,undefined).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../http-frame.h"

static void chunks_split_anywhere(const char *text, size_t size) {
  struct chunk_state whole = {0}, parts = {0};
  long long all = chunk_advance(&whole, text, size);
  size_t cut = size ? (unsigned char)text[0] % (size + 1) : 0;
  long long first = chunk_advance(&parts, text, cut);
  if (first < 0) {
    if (all >= 0 && (size_t)all >= cut) abort(); /* the whole read went past where the piece failed */
    return;
  }
  if ((size_t)first < cut) {
    /* it ended inside the first piece */
    if (all != first || parts.at != CH_DONE) abort();
    return;
  }
  long long second = chunk_advance(&parts, text + cut, size - cut);
  if ((second < 0) != (all < 0)) abort();
  if (all >= 0 && (first + second != all || parts.at != whole.at)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size ? size : 1);
  if (!text) return 0;
  memcpy(text, data, size);
  struct http_head h;
  if (http_parse_request(text, size, &h) == 1) {
    if (h.head_len > size || h.head_len < 4 || h.method_off + h.method_len > h.head_len || h.target_off + h.target_len > h.head_len) abort();
    if (h.target_len == 0 || text[h.target_off] != '/') abort();
    int passes = http_passes_through(text, &h);
    if (passes && (h.upgrade || h.ambiguous || h.expect)) abort();
    if (passes && memchr(text + h.target_off, '%', h.target_len) && !memchr(text + h.target_off, '?', h.target_len)) abort();
    if (h.body == BODY_CHUNKED) chunks_split_anywhere(text + h.head_len, size - h.head_len);
  }
  if (http_parse_response(text, size, &h) == 1) {
    if (h.head_len > size || h.status < 100 || h.status > 599) abort();
    if (h.body == BODY_CHUNKED) chunks_split_anywhere(text + h.head_len, size - h.head_len);
  }
  chunks_split_anywhere(text, size);
  free(text);
  return 0;
}
