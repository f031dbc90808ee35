/* berth-runc: the engine's `runc`, first on the PATH that dockerd, containerd's shims and
 * BuildKit search. On `create` (a container) and `run` (a BuildKit build step) it gives the
 * container the CAs the host trusts, then execs the real runc with the same arguments.
 *
 * - Each image bundle found (spec-edit.h lists where images keep one) gets a merged copy,
 *   its own certificates then the host's, bind-mounted read-only over it: the file the
 *   image's TLS libraries already read. Only for containers: a build step's
 *   `update-ca-certificates` renames a new bundle over that file, which a mount point
 *   refuses (EBUSY), so build steps get the variables only.
 * - /dev/berth/ca-certificates.crt (on the container's own /dev tmpfs, so nothing lands in
 *   the image or the container's layer) holds the same merged bundle, or the host's alone;
 *   NODE_EXTRA_CA_CERTS and REQUESTS_CA_BUNDLE point at it always (Node and Python's
 *   requests carry their own bundles), SSL_CERT_FILE when no bundle was mounted.
 * - A variable the container sets itself wins. BERTH_HOST_CAS=env gives a container what a
 *   build step gets; BERTH_HOST_CAS=off leaves it all out.
 *
 * The manager turns it on (containersTrustHostCAs) by writing a flag file beside the
 * host's bundle; both are read at each create, so changes reach new containers at once.
 * It fails open: on any problem it says so on stderr and runs the container unchanged. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "spec-edit.h"

/* In the engine's root: the data store under /var/lib and the version pack's runc. */
#define DEFAULT_STATE_DIR "/var/lib/berth"
#define DEFAULT_REAL_RUNC "/usr/bin/runc"
#define HOST_BUNDLE "ca-certificates.crt"
#define ENABLED_FLAG "containers-trust-host-cas"
#define IN_CONTAINER "/dev/berth/ca-certificates.crt"
/* Bigger than any real bundle or spec; larger files are left alone. */
#define MAX_FILE (16u << 20)

static const char *state_dir(void) {
    const char *d = getenv("BERTH_RUNC_STATE_DIR");
    return d && *d ? d : DEFAULT_STATE_DIR;
}

static void warn(const char *what, const char *detail) {
    fprintf(stderr, "berth-runc: %s%s%s; the container starts without the host's CAs\n", what, detail ? ": " : "", detail ? detail : "");
}

struct blob {
    char *data;
    size_t len;
};

static int read_fd(int fd, struct blob *b) {
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0 || (size_t)st.st_size > MAX_FILE) return -1;
    b->data = malloc((size_t)st.st_size + 1);
    if (b->data == NULL) return -1;
    b->len = 0;
    for (;;) {
        ssize_t n = read(fd, b->data + b->len, (size_t)st.st_size - b->len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        if (n == 0 || b->len + (size_t)n == (size_t)st.st_size) {
            b->len += (size_t)n;
            break;
        }
        b->len += (size_t)n;
    }
    b->data[b->len] = '\0';
    return 0;
}

static int read_file_at(int dir, const char *path, struct blob *b) {
    int fd = openat(dir, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int r = read_fd(fd, b);
    close(fd);
    return r;
}

/* A file in the image's root, its symlinks resolved inside that root (never out of it). */
static int read_in_root(int root, const char *path, struct blob *b) {
    struct open_how how = {.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
    int fd = (int)syscall(SYS_openat2, root, path, &how, sizeof how);
    if (fd < 0) return -1;
    int r = read_fd(fd, b);
    close(fd);
    return r;
}

/* Writes `parts` to dir/name through a temporary file and a rename, with `mode`. */
static int write_file_at(int dir, const char *name, mode_t mode, const struct blob *parts, int nparts) {
    char tmp[256];
    snprintf(tmp, sizeof tmp, ".%s.berth-tmp", name);
    unlinkat(dir, tmp, 0);
    int fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return -1;
    int ok = fchmod(fd, mode) == 0;
    for (int k = 0; ok && k < nparts; k++) {
        size_t off = 0;
        while (ok && off < parts[k].len) {
            ssize_t n = write(fd, parts[k].data + off, parts[k].len - off);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) ok = 0;
            else off += (size_t)n;
        }
    }
    if (close(fd) != 0) ok = 0;
    if (ok && renameat(dir, tmp, dir, name) == 0) return 0;
    unlinkat(dir, tmp, 0);
    return -1;
}

/* The subcommand's index, skipping runc's global options (and the values some take). */
static int subcommand_index(int argc, char **argv) {
    static const char *const with_value[] = {"--root", "--log", "--log-format", "--criu", "--rootless"};
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] != '-') return i;
        for (size_t k = 0; k < sizeof with_value / sizeof *with_value; k++) {
            if (strcmp(argv[i], with_value[k]) == 0) {
                i++;
                break;
            }
        }
    }
    return -1;
}

static const char *bundle_arg(int from, int argc, char **argv) {
    for (int i = from; i < argc; i++) {
        if ((strcmp(argv[i], "--bundle") == 0 || strcmp(argv[i], "-b") == 0) && i + 1 < argc) return argv[i + 1];
        if (strncmp(argv[i], "--bundle=", 9) == 0) return argv[i] + 9;
        if (strncmp(argv[i], "-b=", 3) == 0) return argv[i] + 3;
    }
    return ".";
}

struct items {
    char text[4 * SPEC_PATH_MAX + 1024];
};

static int add_item(struct items *list, const char *item) {
    size_t used = strlen(list->text), n = strlen(item);
    if (used + n + 2 > sizeof list->text) return -1;
    if (used) list->text[used++] = ',';
    memcpy(list->text + used, item, n + 1);
    return 0;
}

static int add_mount(struct items *list, const char *destination, const char *source) {
    char item[3 * SPEC_PATH_MAX] = "{\"destination\":";
    if (spec_json_string(item, sizeof item, destination) != 0) return -1;
    strcat(item, ",\"type\":\"bind\",\"source\":");
    if (spec_json_string(item, sizeof item, source) != 0) return -1;
    if (strlen(item) + 64 > sizeof item) return -1;
    strcat(item, ",\"options\":[\"rbind\",\"ro\",\"nosuid\",\"nodev\"]}");
    return add_item(list, item);
}

/* What one edit works with; closed and freed by edit_done. */
struct edit {
    const char *bundle;
    int dir, root;
    struct blob host, spec;
    struct spec_scan scan;
    struct items env, mounts;
};

static void edit_done(struct edit *e) {
    if (e->root >= 0) close(e->root);
    if (e->dir >= 0) close(e->dir);
    free(e->host.data);
    free(e->spec.data);
}

/* Writes bundle/berth-ca-K.crt: the image's bundle, then the host's. Its path into `path`. */
static int write_merged(struct edit *e, int k, const struct blob *own, char *path, size_t cap) {
    char name[32];
    snprintf(name, sizeof name, "berth-ca-%d.crt", k);
    /* A bundle whose last line has no newline would run into the host's first one. */
    struct blob parts[3] = {*own, {"\n", own->len > 0 && own->data[own->len - 1] != '\n'}, e->host};
    if (write_file_at(e->dir, name, 0644, parts, 3) != 0) return -1;
    return snprintf(path, cap, "%s/%s", e->bundle, name) < (int)cap ? 0 : -1;
}

/* The mounts and variables to add. -1 (with the reason said) when none should be. */
static int plan(struct edit *e, int vars_only) {
    char path[SPEC_PATH_MAX + 64];
    int merged_any = 0;
    for (int k = 0; k < SPEC_CA_BUNDLES; k++) {
        struct blob own = {0};
        if (e->scan.covered[k] || read_in_root(e->root, spec_ca_bundles[k] + 1, &own) != 0) continue;
        int r = write_merged(e, k, &own, path, sizeof path);
        free(own.data);
        if (r != 0) {
            warn("cannot write the merged bundle into", e->bundle);
            return -1;
        }
        /* The first merged bundle is also the one under /dev. */
        if (!merged_any && e->scan.dev_is_tmpfs && add_mount(&e->mounts, IN_CONTAINER, path) != 0) return -1;
        merged_any = 1;
        if (vars_only) break;
        if (add_mount(&e->mounts, spec_ca_bundles[k], path) != 0) return -1;
    }
    /* Without a /dev of its own, there is no place for the file the variables name. */
    if (!e->scan.dev_is_tmpfs) return 0;
    if (!merged_any) {
        snprintf(path, sizeof path, "%s/%s", state_dir(), HOST_BUNDLE);
        if (add_mount(&e->mounts, IN_CONTAINER, path) != 0) return -1;
    }
    for (int k = 0; k < SPEC_CA_VARS; k++) {
        int is_cert_file = strcmp(spec_ca_vars[k], "SSL_CERT_FILE") == 0;
        /* With the image's own bundle merged in place, OpenSSL's default is already right. */
        if (e->scan.env_has_var & (1u << k) || (is_cert_file && merged_any && !vars_only)) continue;
        char item[128] = "";
        snprintf(path, sizeof path, "%s=%s", spec_ca_vars[k], IN_CONTAINER);
        if (spec_json_string(item, sizeof item, path) != 0 || add_item(&e->env, item) != 0) return -1;
    }
    return 0;
}

static int apply(struct edit *e) {
    if (!e->env.text[0] && !e->mounts.text[0]) return 0;
    size_t len;
    char *edited = spec_insert(e->spec.data, e->spec.len, &e->scan, e->env.text, e->mounts.text, &len);
    if (edited == NULL) return -1;
    struct blob whole = {edited, len};
    struct stat st;
    mode_t mode = fstatat(e->dir, "config.json", &st, 0) == 0 ? (st.st_mode & 07777) : 0644;
    int r = write_file_at(e->dir, "config.json", mode, &whole, 1);
    free(edited);
    if (r != 0) warn("cannot write config.json", e->bundle);
    return r;
}

/* Edits bundle/config.json; 0 when it was changed or had nothing to change. */
static int give_host_cas(const char *bundle, int build_step) {
    int state = open(state_dir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (state < 0 || faccessat(state, ENABLED_FLAG, F_OK, 0) != 0) {
        if (state >= 0) close(state);
        return 0; /* turned off (or no Berth state): nothing to do */
    }
    struct edit e = {.bundle = bundle, .dir = -1, .root = -1};
    int r = read_file_at(state, HOST_BUNDLE, &e.host);
    close(state);
    if (r != 0) {
        warn("cannot read the host's CA bundle", HOST_BUNDLE);
        return -1;
    }
    r = -1;
    e.dir = open(bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (e.dir < 0 || read_file_at(e.dir, "config.json", &e.spec) != 0) warn("cannot read the bundle's config.json", bundle);
    else if (spec_scan(e.spec.data, e.spec.len, &e.scan) != 0 || !e.scan.has_root_path) warn("config.json is not a spec it can read", bundle);
    else if (e.scan.choice == SPEC_CHOICE_OFF) r = 0;
    else if ((e.root = openat(e.dir, e.scan.root_path, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) warn("cannot open the container's root", e.scan.root_path);
    /* Variables only, for a build step or by choice: the image's bundle stays a plain file. */
    else if (plan(&e, build_step || e.scan.choice == SPEC_CHOICE_ENV) != 0) warn("cannot give it the host's CAs", bundle);
    else r = apply(&e);
    edit_done(&e);
    return r;
}

int main(int argc, char **argv) {
    const char *real = getenv("BERTH_RUNC_REAL");
    if (real == NULL || *real == '\0') real = DEFAULT_REAL_RUNC;
    int sub = subcommand_index(argc, argv);
    if (sub > 0 && (strcmp(argv[sub], "create") == 0 || strcmp(argv[sub], "run") == 0)) {
        /* Absolute: the mounts' sources must not depend on the runtime's working directory. */
        char *bundle = realpath(bundle_arg(sub + 1, argc, argv), NULL);
        if (bundle == NULL) warn("cannot find the bundle", strerror(errno));
        else give_host_cas(bundle, strcmp(argv[sub], "run") == 0);
        free(bundle);
    }
    argv[0] = (char *)"runc";
    execv(real, argv);
    fprintf(stderr, "berth-runc: cannot run %s: %s\n", real, strerror(errno));
    return 127;
}
