/* Reading and editing an OCI runtime spec (a bundle's config.json) without a JSON library:
 * berth-runc finds the few places it needs (root.path, process.env, mounts) and inserts
 * entries into the arrays, leaving every other byte as it was. Pure functions over a buffer,
 * so the fuzzer drives them directly. */
#ifndef BERTH_SPEC_EDIT_H
#define BERTH_SPEC_EDIT_H

#include <stddef.h>

/* Where images keep the CA bundle their TLS libraries read: Debian, Ubuntu and Alpine;
 * RHEL and Fedora; openSUSE. */
#define SPEC_CA_BUNDLES 3
extern const char *const spec_ca_bundles[SPEC_CA_BUNDLES];

/* The variables berth-runc may add; one the container sets itself is never added. */
#define SPEC_CA_VARS 3
extern const char *const spec_ca_vars[SPEC_CA_VARS];

/* A container (or build step) that sets this to "off" is left as the image has it; "env"
 * gets the variables but no mount over the image's bundle (so a command that renames a new
 * bundle over it, as update-ca-certificates does, still works). */
#define SPEC_CHOICE_VAR "BERTH_HOST_CAS"
enum spec_choice { SPEC_CHOICE_ALL = 0, SPEC_CHOICE_OFF, SPEC_CHOICE_ENV };

#define SPEC_PATH_MAX 4096

struct spec_scan {
    /* root.path as written (only when it has no escapes and fits). */
    char root_path[SPEC_PATH_MAX];
    int has_root_path;
    /* Offsets of the ']' closing process.env and mounts, and how many elements each has;
     * has_* is 0 when the spec has no such array (nothing is then inserted there). */
    size_t env_close, mounts_close;
    int has_env, has_mounts;
    int env_count, mounts_count;
    /* Bit k: spec_ca_vars[k] is already in process.env. */
    unsigned env_has_var;
    enum spec_choice choice;
    /* /dev is a tmpfs of the container's own, so a file mounted under it leaves no trace
     * in the image or the container's layer. */
    int dev_is_tmpfs;
    /* covered[k]: a mount of the container's own is at or above spec_ca_bundles[k]. */
    int covered[SPEC_CA_BUNDLES];
};

/* Fills *scan from the spec text; 0 on success, -1 when the text is not a JSON object. */
int spec_scan(const char *text, size_t len, struct spec_scan *scan);

/* The spec with `env_items` (JSON strings, comma-separated, no brackets) added to
 * process.env and `mount_items` (JSON objects, likewise) to mounts. Either may be "".
 * Returns a malloc'd buffer (its length in *out_len) or NULL when out of memory. */
char *spec_insert(const char *text, size_t len, const struct spec_scan *scan, const char *env_items, const char *mount_items,
                  size_t *out_len);

/* Appends `s` as a JSON string (quotes and escapes) to dst of capacity cap; 0 on success,
 * -1 when it does not fit. */
int spec_json_string(char *dst, size_t cap, const char *s);

#endif
