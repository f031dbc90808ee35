#include "http-frame.h"
#include <string.h>

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static int same_name(const char *a, size_t len, const char *name) {
  if (strlen(name) != len) return 0;
  for (size_t i = 0; i < len; i++)
    if (lower((unsigned char)a[i]) != name[i]) return 0;
  return 1;
}

static int is_tchar(int c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The end of the head (just past the blank line): 0 if not in buf yet. */
static size_t head_end(const char *buf, size_t len) {
  for (size_t i = 3; i < len; i++)
    if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' && buf[i - 3] == '\r') return i + 1;
  return 0;
}

/* "HTTP/1.0" or "HTTP/1.1": the minor version, or -1. */
static int version(const char *p, size_t len) {
  if (len != 8 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1')) return -1;
  return p[7] - '0';
}

/* A case-insensitive search for a token (no allocation, no locale). */
static int contains_word(const char *v, size_t len, const char *word) {
  size_t w = strlen(word);
  for (size_t i = 0; i + w <= len; i++) {
    size_t j = 0;
    while (j < w && lower((unsigned char)v[i + j]) == word[j]) j++;
    if (j == w) return 1;
  }
  return 0;
}

/*
 * The header lines from `at` to the head's end (exclusive of the blank line): fills the
 * framing fields. -1 if a line is malformed.
 */
static int parse_fields(const char *buf, size_t at, size_t end, struct http_head *h) {
  int lengths = 0, encodings = 0, keep_alive = 0;
  while (at < end - 2) {
    size_t eol = at;
    while (eol < end && buf[eol] != '\r') {
      if (buf[eol] == '\n' || buf[eol] == '\0') return -1; /* a bare LF or a NUL */
      eol++;
    }
    if (eol + 1 >= end || buf[eol + 1] != '\n') return -1;
    if (buf[at] == ' ' || buf[at] == '\t') {
      h->ambiguous = 1; /* a folded line: an old form that parsers read differently */
      at = eol + 2;
      continue;
    }
    size_t colon = at;
    while (colon < eol && is_tchar((unsigned char)buf[colon])) colon++;
    if (colon == at || colon == eol || buf[colon] != ':') return -1;
    size_t v = colon + 1, vend = eol;
    while (v < vend && (buf[v] == ' ' || buf[v] == '\t')) v++;
    while (vend > v && (buf[vend - 1] == ' ' || buf[vend - 1] == '\t')) vend--;
    const char *name = buf + at;
    size_t name_len = colon - at;
    if (same_name(name, name_len, "content-length")) {
      unsigned long long n = 0;
      if (v == vend || vend - v > 18) return -1;
      for (size_t i = v; i < vend; i++) {
        if (buf[i] < '0' || buf[i] > '9') return -1;
        n = n * 10 + (unsigned)(buf[i] - '0');
      }
      if (lengths++ && n != h->content_length) h->ambiguous = 1;
      h->content_length = n;
    } else if (same_name(name, name_len, "transfer-encoding")) {
      if (encodings++ || vend - v != 7 || !contains_word(buf + v, 7, "chunked")) h->ambiguous = 1;
    } else if (same_name(name, name_len, "upgrade")) {
      h->upgrade = 1;
    } else if (same_name(name, name_len, "connection")) {
      if (contains_word(buf + v, vend - v, "upgrade")) h->upgrade = 1;
      if (contains_word(buf + v, vend - v, "close")) h->close = 1;
      if (contains_word(buf + v, vend - v, "keep-alive")) keep_alive = 1;
    } else if (same_name(name, name_len, "expect")) {
      h->expect = 1;
    }
    at = eol + 2;
  }
  if (h->version_minor == 0 && !keep_alive) h->close = 1;
  if (lengths > 1) h->ambiguous = 1; /* even when equal: let Node's parser judge */
  if (lengths && encodings) h->ambiguous = 1;
  h->body = encodings ? BODY_CHUNKED : lengths ? BODY_LENGTH : BODY_NONE;
  return 0;
}

/* The line from `at` up to its CRLF: its end (the CR), or 0 if it is not a line. */
static size_t line_end(const char *buf, size_t at, size_t end) {
  for (size_t i = at; i + 1 < end; i++) {
    if (buf[i] == '\r') return buf[i + 1] == '\n' ? i : 0;
    if (buf[i] == '\n' || buf[i] == '\0') return 0;
  }
  return 0;
}

int http_parse_request(const char *buf, size_t len, struct http_head *out) {
  memset(out, 0, sizeof *out);
  size_t end = head_end(buf, len);
  if (!end) return len >= HTTP_HEAD_MAX ? -1 : 0;
  size_t eol = line_end(buf, 0, end);
  if (!eol) return -1;
  size_t i = 0;
  while (i < eol && buf[i] >= 'A' && buf[i] <= 'Z') i++;
  if (i == 0 || i > 15 || i >= eol || buf[i] != ' ') return -1;
  out->method_off = 0;
  out->method_len = i;
  size_t t = ++i;
  while (i < eol && (unsigned char)buf[i] > 0x20 && (unsigned char)buf[i] < 0x7f) i++;
  if (i == t || buf[t] != '/' || i >= eol || buf[i] != ' ') return -1;
  out->target_off = t;
  out->target_len = i - t;
  out->version_minor = version(buf + i + 1, eol - i - 1);
  if (out->version_minor < 0) return -1;
  if (parse_fields(buf, eol + 2, end, out) < 0) return -1;
  out->head_len = end;
  return 1;
}

int http_parse_response(const char *buf, size_t len, struct http_head *out) {
  memset(out, 0, sizeof *out);
  size_t end = head_end(buf, len);
  if (!end) return len >= HTTP_HEAD_MAX ? -1 : 0;
  size_t eol = line_end(buf, 0, end);
  if (eol < 12 || buf[8] != ' ' || (eol > 12 && buf[12] != ' ')) return -1;
  out->version_minor = version(buf, 8);
  if (out->version_minor < 0) return -1;
  for (int k = 9; k < 12; k++)
    if (buf[k] < '0' || buf[k] > '9') return -1;
  out->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
  if (out->status < 100 || out->status > 599) return -1;
  if (parse_fields(buf, eol + 2, end, out) < 0) return -1;
  if (out->status < 200 || out->status == 204 || out->status == 304) out->body = BODY_NONE;
  else if (out->body == BODY_NONE) out->body = BODY_UNTIL_CLOSE;
  out->head_len = end;
  return 1;
}

/* The route's segments after the API version prefix: how many, and whether one matches. */
static int segment_is(const char *seg, size_t len, const char *word) { return strlen(word) == len && memcmp(seg, word, len) == 0; }

int http_passes_through(const char *buf, const struct http_head *h) {
  if (h->upgrade || h->expect || h->ambiguous) return 0;
  const char *m = buf + h->method_off, *p = buf + h->target_off;
  size_t mlen = h->method_len, plen = 0;
  while (plen < h->target_len && p[plen] != '?') plen++;
  /* Named plainly: what the daemon's router decodes or cleans could be another route. */
  for (size_t i = 0; i < plen; i++) {
    if (p[i] == '%' || p[i] == '#' || p[i] == '\\') return 0;
    if (p[i] == '/' && i + 1 < plen && p[i + 1] == '/') return 0;
    if (p[i] == '/' && i + 1 < plen && p[i + 1] == '.') return 0; /* dot segments, and no route starts with a dot */
  }
  /* "/v1.41/…" → "/…" */
  if (plen > 2 && p[1] == 'v' && p[2] >= '0' && p[2] <= '9') {
    size_t i = 2;
    while (i < plen && ((p[i] >= '0' && p[i] <= '9') || p[i] == '.')) i++;
    if (i < plen && p[i] == '/') p += i, plen -= i;
  }
  /* Split into at most 8 segments; a longer route is not one of ours. */
  const char *seg[8];
  size_t seglen[8];
  int n = 0;
  for (size_t i = 1; i <= plen && n < 8;) {
    size_t j = i;
    while (j < plen && p[j] != '/') j++;
    seg[n] = p + i;
    seglen[n++] = j - i;
    i = j + 1;
  }
  if (n == 0 || n == 8) return 0;
  for (int k = 0; k < n; k++)
    if (seglen[k] == 0) return 0; /* a trailing slash: let the translator judge */
  int get = segment_is(m, mlen, "GET") || segment_is(m, mlen, "HEAD");
  if (get) {
    /* The one read the translator rewrites: a container's inspect shows the client's own paths. */
    return !(n == 3 && segment_is(seg[0], seglen[0], "containers") && segment_is(seg[2], seglen[2], "json"));
  }
  if (segment_is(m, mlen, "DELETE")) return 1;
  if (segment_is(m, mlen, "PUT")) return n == 3 && segment_is(seg[0], seglen[0], "containers") && segment_is(seg[2], seglen[2], "archive");
  if (!segment_is(m, mlen, "POST")) return 0;
  /* POSTs that carry no path of the client's and start nothing: a short list, all else is translated or checked. */
  if (n == 2 && segment_is(seg[0], seglen[0], "images")) return segment_is(seg[1], seglen[1], "load") || segment_is(seg[1], seglen[1], "create") || segment_is(seg[1], seglen[1], "prune");
  if (n >= 3 && segment_is(seg[0], seglen[0], "images")) return segment_is(seg[n - 1], seglen[n - 1], "push") || segment_is(seg[n - 1], seglen[n - 1], "tag");
  if (n == 3 && segment_is(seg[0], seglen[0], "containers")) {
    static const char *const verbs[] = {"stop", "kill", "wait", "pause", "unpause", "resize", "rename"};
    for (size_t k = 0; k < sizeof verbs / sizeof *verbs; k++)
      if (segment_is(seg[2], seglen[2], verbs[k])) return 1;
    return 0;
  }
  if (n == 3 && segment_is(seg[0], seglen[0], "exec")) return segment_is(seg[2], seglen[2], "resize");
  if (n == 2 && segment_is(seg[1], seglen[1], "prune")) return segment_is(seg[0], seglen[0], "containers") || segment_is(seg[0], seglen[0], "volumes") || segment_is(seg[0], seglen[0], "networks") || segment_is(seg[0], seglen[0], "build");
  return 0;
}

static int hex(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = lower(c);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

long long chunk_advance(struct chunk_state *s, const char *buf, size_t len) {
  size_t i = 0;
  while (i < len && s->at != CH_DONE) {
    int c = (unsigned char)buf[i];
    switch (s->at) {
      case CH_SIZE:
        if (hex(c) >= 0) {
          if (++s->digits > 15) return -1;
          s->left = s->left * 16 + (unsigned)hex(c);
        } else if (s->digits == 0) {
          return -1;
        } else if (c == '\r') {
          s->at = CH_SIZE_LF;
        } else if (c == ';' || c == ' ' || c == '\t') {
          s->at = CH_EXT;
        } else {
          return -1;
        }
        i++;
        break;
      case CH_EXT:
        if (c == '\r') s->at = CH_SIZE_LF;
        else if (c == '\n' || c == '\0') return -1;
        i++;
        break;
      case CH_SIZE_LF:
        if (c != '\n') return -1;
        s->at = s->left ? CH_DATA : CH_TRAILER_START;
        i++;
        break;
      case CH_DATA: {
        size_t take = len - i < s->left ? len - i : (size_t)s->left;
        s->left -= take;
        i += take;
        if (s->left == 0) s->at = CH_DATA_CR;
        break;
      }
      case CH_DATA_CR:
        if (c != '\r') return -1;
        s->at = CH_DATA_LF;
        i++;
        break;
      case CH_DATA_LF:
        if (c != '\n') return -1;
        s->at = CH_SIZE;
        s->digits = 0;
        i++;
        break;
      case CH_TRAILER_START:
        s->at = c == '\r' ? CH_END_LF : CH_TRAILER;
        if (c == '\n' || c == '\0') return -1;
        i++;
        break;
      case CH_TRAILER:
        if (c == '\r') s->at = CH_TRAILER_LF;
        else if (c == '\n' || c == '\0') return -1;
        i++;
        break;
      case CH_TRAILER_LF:
        if (c != '\n') return -1;
        s->at = CH_TRAILER_START;
        i++;
        break;
      case CH_END_LF:
        if (c != '\n') return -1;
        s->at = CH_DONE;
        i++;
        break;
      case CH_DONE:
        break;
    }
  }
  return (long long)i;
}
