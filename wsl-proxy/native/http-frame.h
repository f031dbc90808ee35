/*
 * The HTTP/1.1 the API front reads: request and response heads, message framing
 * (Content-Length, chunked, until close) and which requests pass straight to the daemon.
 * Strict: anything unusual is not guessed at but left to the Node translator, whose HTTP
 * parser answers it. Kept apart from the front's sockets so that the fuzzer and the unit
 * tests drive it alone.
 */
#ifndef BERTH_HTTP_FRAME_H
#define BERTH_HTTP_FRAME_H
#include <stddef.h>

/* Heads larger than this go to the translator (Node reads heads up to 1 MiB). */
#define HTTP_HEAD_MAX (64 << 10)

enum http_body { BODY_NONE, BODY_LENGTH, BODY_CHUNKED, BODY_UNTIL_CLOSE };

struct http_head {
  size_t head_len; /* bytes up to and including the blank line */
  /* request */
  size_t method_off, method_len, target_off, target_len;
  /* response */
  int status;
  int version_minor; /* HTTP/1.x */
  enum http_body body;
  unsigned long long content_length;
  int upgrade; /* an Upgrade header, or Connection: upgrade */
  int expect; /* an Expect header (100-continue) */
  int close; /* the connection ends after this message (Connection: close, or HTTP/1.0 without keep-alive) */
  int ambiguous; /* two lengths, a length and chunked, a folded line: not for us to frame */
};

/*
 * Parses a head at the start of buf. 1: complete (out filled), 0: incomplete (read more;
 * -1 once len reaches HTTP_HEAD_MAX), -1: malformed.
 */
int http_parse_request(const char *buf, size_t len, struct http_head *out);
int http_parse_response(const char *buf, size_t len, struct http_head *out);

/*
 * Whether a request goes straight to the daemon: one the translator would pass on
 * unchanged, named plainly (no escapes, no dot segments, no doubled slashes) so that the
 * daemon's router cannot read it as a route Berth translates. Everything else, and every
 * upgrade, goes to the translator.
 */
int http_passes_through(const char *buf, const struct http_head *h);

/* A chunked body read incrementally: how far into it we are. */
struct chunk_state {
  enum { CH_SIZE, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_TRAILER_START, CH_TRAILER, CH_TRAILER_LF, CH_END_LF, CH_DONE } at;
  unsigned long long left; /* of the current chunk */
  int digits;
};

/*
 * Consumes up to len bytes of a chunked body; returns how many belong to it (all of them,
 * or fewer when it ends inside buf: the rest is the next message), or -1 if malformed.
 * The state says CH_DONE once the body (trailers included) has ended.
 */
long long chunk_advance(struct chunk_state *s, const char *buf, size_t len);

#endif
