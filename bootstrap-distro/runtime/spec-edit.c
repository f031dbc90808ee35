#include "spec-edit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const char *const spec_ca_bundles[SPEC_CA_BUNDLES] = {
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
};

const char *const spec_ca_vars[SPEC_CA_VARS] = {"SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE"};

#define BAD SIZE_MAX
/* Deeper nesting than this is refused: a spec is a few levels deep, and the scanner recurses. */
#define MAX_DEPTH 64

struct text {
    const char *s;
    size_t n;
};

static size_t skip_ws(struct text t, size_t i) {
    while (i < t.n && (t.s[i] == ' ' || t.s[i] == '\t' || t.s[i] == '\n' || t.s[i] == '\r')) i++;
    return i;
}

/* At the opening quote: the index after the closing one. *escaped tells whether it had a '\'. */
static size_t skip_string(struct text t, size_t i, int *escaped) {
    if (i >= t.n || t.s[i] != '"') return BAD;
    *escaped = 0;
    for (i++; i < t.n; i++) {
        unsigned char c = (unsigned char)t.s[i];
        if (c == '"') return i + 1;
        if (c < 0x20) return BAD;
        if (c == '\\') {
            *escaped = 1;
            i++;
        }
    }
    return BAD;
}

static size_t skip_value(struct text t, size_t i, int depth);

/* Calls visit for each member of the object at t.s[i] == '{'; the index after its '}'. */
typedef int (*member_fn)(struct text t, const char *key, size_t key_len, int key_escaped, size_t value, size_t value_end, int depth, void *ctx);
/* Calls visit for each element of the array at t.s[i] == '['; *close gets the ']' index. */
typedef int (*element_fn)(struct text t, size_t value, size_t value_end, int depth, void *ctx);

static size_t walk_object(struct text t, size_t i, int depth, member_fn visit, void *ctx) {
    if (depth > MAX_DEPTH || i >= t.n || t.s[i] != '{') return BAD;
    i = skip_ws(t, i + 1);
    if (i < t.n && t.s[i] == '}') return i + 1;
    for (;;) {
        int escaped;
        size_t key = i, key_end = skip_string(t, i, &escaped);
        if (key_end == BAD) return BAD;
        i = skip_ws(t, key_end);
        if (i >= t.n || t.s[i] != ':') return BAD;
        size_t value = skip_ws(t, i + 1);
        size_t value_end = skip_value(t, value, depth + 1);
        if (value_end == BAD) return BAD;
        if (visit && visit(t, t.s + key + 1, key_end - key - 2, escaped, value, value_end, depth + 1, ctx) != 0) return BAD;
        i = skip_ws(t, value_end);
        if (i >= t.n) return BAD;
        if (t.s[i] == '}') return i + 1;
        if (t.s[i] != ',') return BAD;
        i = skip_ws(t, i + 1);
    }
}

static size_t walk_array(struct text t, size_t i, int depth, element_fn visit, void *ctx, size_t *close, int *count) {
    if (depth > MAX_DEPTH || i >= t.n || t.s[i] != '[') return BAD;
    *count = 0;
    i = skip_ws(t, i + 1);
    if (i < t.n && t.s[i] == ']') {
        *close = i;
        return i + 1;
    }
    for (;;) {
        size_t value_end = skip_value(t, i, depth + 1);
        if (value_end == BAD) return BAD;
        if (visit && visit(t, i, value_end, depth + 1, ctx) != 0) return BAD;
        (*count)++;
        i = skip_ws(t, value_end);
        if (i >= t.n) return BAD;
        if (t.s[i] == ']') {
            *close = i;
            return i + 1;
        }
        if (t.s[i] != ',') return BAD;
        i = skip_ws(t, i + 1);
    }
}

static size_t skip_value(struct text t, size_t i, int depth) {
    if (depth > MAX_DEPTH || i >= t.n) return BAD;
    int escaped, count;
    size_t close;
    switch (t.s[i]) {
    case '"':
        return skip_string(t, i, &escaped);
    case '{':
        return walk_object(t, i, depth, NULL, NULL);
    case '[':
        return walk_array(t, i, depth, NULL, NULL, &close, &count);
    default: {
        /* true, false, null or a number: a run of their characters. */
        size_t start = i;
        while (i < t.n && strchr("+-.0123456789eEaflnrstu", t.s[i]) != NULL && t.s[i] != '\0') i++;
        return i > start ? i : BAD;
    }
    }
}

static int key_is(const char *key, size_t len, int escaped, const char *want) {
    return !escaped && len == strlen(want) && memcmp(key, want, len) == 0;
}

/* The raw bytes of a string value without its quotes, when it has no escapes. */
static int plain_string(struct text t, size_t value, size_t value_end, const char **s, size_t *len) {
    int escaped;
    if (value >= t.n || t.s[value] != '"' || skip_string(t, value, &escaped) != value_end || escaped) return 0;
    *s = t.s + value + 1;
    *len = value_end - value - 2;
    return 1;
}

static int on_root_member(struct text t, const char *key, size_t key_len, int key_escaped, size_t value, size_t value_end, int depth, void *ctx) {
    (void)depth;
    struct spec_scan *scan = ctx;
    const char *s;
    size_t len;
    if (!key_is(key, key_len, key_escaped, "path")) return 0;
    scan->has_root_path = 0;
    if (plain_string(t, value, value_end, &s, &len) && len > 0 && len < sizeof scan->root_path && memchr(s, '\0', len) == NULL) {
        memcpy(scan->root_path, s, len);
        scan->root_path[len] = '\0';
        scan->has_root_path = 1;
    }
    return 0;
}

static int on_env_element(struct text t, size_t value, size_t value_end, int depth, void *ctx) {
    (void)depth;
    struct spec_scan *scan = ctx;
    const char *s;
    size_t len;
    if (!plain_string(t, value, value_end, &s, &len)) return 0;
    for (int k = 0; k < SPEC_CA_VARS; k++) {
        size_t n = strlen(spec_ca_vars[k]);
        if (len > n && memcmp(s, spec_ca_vars[k], n) == 0 && s[n] == '=') scan->env_has_var |= 1u << k;
    }
    const char off[] = SPEC_CHOICE_VAR "=off", env[] = SPEC_CHOICE_VAR "=env";
    if (len == sizeof off - 1 && memcmp(s, off, len) == 0) scan->choice = SPEC_CHOICE_OFF;
    if (len == sizeof env - 1 && memcmp(s, env, len) == 0) scan->choice = SPEC_CHOICE_ENV;
    return 0;
}

static int on_process_member(struct text t, const char *key, size_t key_len, int key_escaped, size_t value, size_t value_end, int depth, void *ctx) {
    (void)value_end;
    struct spec_scan *scan = ctx;
    if (!key_is(key, key_len, key_escaped, "env") || t.s[value] != '[') return 0;
    scan->env_has_var = 0;
    scan->choice = SPEC_CHOICE_ALL;
    if (walk_array(t, value, depth, on_env_element, scan, &scan->env_close, &scan->env_count) == BAD) return -1;
    scan->has_env = 1;
    return 0;
}

struct mount_fields {
    const char *destination, *type;
    size_t destination_len, type_len;
};

static int on_mount_member(struct text t, const char *key, size_t key_len, int key_escaped, size_t value, size_t value_end, int depth, void *ctx) {
    (void)depth;
    struct mount_fields *m = ctx;
    if (key_is(key, key_len, key_escaped, "destination") && !plain_string(t, value, value_end, &m->destination, &m->destination_len)) m->destination = NULL;
    if (key_is(key, key_len, key_escaped, "type") && !plain_string(t, value, value_end, &m->type, &m->type_len)) m->type = NULL;
    return 0;
}

/* `dest` is `path` or one of its parents ("/etc/ssl" covers "/etc/ssl/certs/x"). */
static int covers(const char *dest, size_t dest_len, const char *path) {
    while (dest_len > 1 && dest[dest_len - 1] == '/') dest_len--;
    if (dest_len == 1 && dest[0] == '/') return 1;
    size_t n = strlen(path);
    return dest_len <= n && memcmp(dest, path, dest_len) == 0 && (dest_len == n || path[dest_len] == '/');
}

static int on_mount_element(struct text t, size_t value, size_t value_end, int depth, void *ctx) {
    (void)value_end;
    struct spec_scan *scan = ctx;
    struct mount_fields m = {0};
    if (t.s[value] != '{') return 0;
    if (walk_object(t, value, depth, on_mount_member, &m) == BAD) return -1;
    if (m.destination == NULL) {
        /* A mount whose destination cannot be read could cover anything: leave the bundles. */
        for (int k = 0; k < SPEC_CA_BUNDLES; k++) scan->covered[k] = 1;
        return 0;
    }
    int is_dev = m.destination_len == 4 && memcmp(m.destination, "/dev", 4) == 0;
    if (is_dev) scan->dev_is_tmpfs = m.type != NULL && m.type_len == 5 && memcmp(m.type, "tmpfs", 5) == 0;
    for (int k = 0; k < SPEC_CA_BUNDLES; k++) {
        if (covers(m.destination, m.destination_len, spec_ca_bundles[k])) scan->covered[k] = 1;
    }
    return 0;
}

static int on_top_member(struct text t, const char *key, size_t key_len, int key_escaped, size_t value, size_t value_end, int depth, void *ctx) {
    (void)value_end;
    struct spec_scan *scan = ctx;
    if (key_is(key, key_len, key_escaped, "root") && t.s[value] == '{') {
        if (walk_object(t, value, depth, on_root_member, scan) == BAD) return -1;
    } else if (key_is(key, key_len, key_escaped, "process") && t.s[value] == '{') {
        scan->has_env = 0;
        if (walk_object(t, value, depth, on_process_member, scan) == BAD) return -1;
    } else if (key_is(key, key_len, key_escaped, "mounts") && t.s[value] == '[') {
        /* A later "mounts" wins, as it does for the runtime's own decoder. */
        scan->dev_is_tmpfs = 0;
        memset(scan->covered, 0, sizeof scan->covered);
        if (walk_array(t, value, depth, on_mount_element, scan, &scan->mounts_close, &scan->mounts_count) == BAD) return -1;
        scan->has_mounts = 1;
    }
    return 0;
}

int spec_scan(const char *text, size_t len, struct spec_scan *scan) {
    memset(scan, 0, sizeof *scan);
    struct text t = {text, len};
    size_t i = skip_ws(t, 0);
    size_t end = walk_object(t, i, 0, on_top_member, scan);
    if (end == BAD || skip_ws(t, end) != len) {
        memset(scan, 0, sizeof *scan);
        return -1;
    }
    return 0;
}

struct insertion {
    size_t at;
    const char *items;
    int needs_comma;
};

char *spec_insert(const char *text, size_t len, const struct spec_scan *scan, const char *env_items, const char *mount_items, size_t *out_len) {
    struct insertion ins[2];
    int n = 0;
    if (scan->has_env && env_items[0] != '\0') ins[n++] = (struct insertion){scan->env_close, env_items, scan->env_count > 0};
    if (scan->has_mounts && mount_items[0] != '\0') ins[n++] = (struct insertion){scan->mounts_close, mount_items, scan->mounts_count > 0};
    if (n == 2 && ins[0].at > ins[1].at) {
        struct insertion first = ins[1];
        ins[1] = ins[0];
        ins[0] = first;
    }
    size_t total = len + 1;
    for (int k = 0; k < n; k++) total += strlen(ins[k].items) + 1;
    char *out = malloc(total);
    if (out == NULL) return NULL;
    size_t o = 0, from = 0;
    for (int k = 0; k < n; k++) {
        memcpy(out + o, text + from, ins[k].at - from);
        o += ins[k].at - from;
        if (ins[k].needs_comma) out[o++] = ',';
        size_t m = strlen(ins[k].items);
        memcpy(out + o, ins[k].items, m);
        o += m;
        from = ins[k].at;
    }
    memcpy(out + o, text + from, len - from);
    o += len - from;
    out[o] = '\0';
    *out_len = o;
    return out;
}

int spec_json_string(char *dst, size_t cap, const char *s) {
    size_t o = strlen(dst);
    const char *hex = "0123456789abcdef";
#define PUT(c)                       \
    do {                             \
        if (o + 1 >= cap) return -1; \
        dst[o++] = (c);              \
    } while (0)
    PUT('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            PUT('\\');
            PUT((char)*p);
        } else if (*p < 0x20) {
            PUT('\\');
            PUT('u');
            PUT('0');
            PUT('0');
            PUT(hex[*p >> 4]);
            PUT(hex[*p & 15]);
        } else {
            PUT((char)*p);
        }
    }
    PUT('"');
#undef PUT
    dst[o] = '\0';
    return 0;
}
