/*
 * The native entry of berth-wsl (bin/berth-wsl is a link to berth-init).
 *
 * `berth-wsl [-d NAME] [-u USER] --exec ARGV...` into a distro that is already running is
 * what Berth and its users call most (every `docker` through an integration, every agent
 * call), and a Node start costs ~100 ms of it. The TypeScript side decides everything once
 * and leaves an exec record under run/fast-exec/ (wsl-host/linux/fast-exec.ts writes it);
 * this entry checks that nothing the record depends on has changed and then attaches with
 * berth-init's own `exec`. Anything else, or any doubt, runs the Node program instead, with
 * the same arguments and environment.
 *
 * The lists the manager asks at every engine start (`-l -v`, `-l --running -q`) are answered
 * here too, from the list record (wsl-host/linux/list-record.ts says what it holds), as long
 * as the registry.json it was made from is unchanged and every distro is simply installed.
 *
 * The record: NUL-terminated fields, in this order (FIELD_* below):
 *   version, init pid, init start time, NAT pid (0: none), NAT start time, attach lock,
 *   uid, gid, groups, home, BERTH_WSL_DRIVES ("" unset, else "=" VALUE),
 *   identity of the distro's /etc/passwd, /etc/group, /etc/wsl.conf ("-" when missing),
 *   the count of drive pairs, then host directory and distro path for each,
 *   the count of environment entries, then each KEY=VALUE (TERM is the caller's).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "berth-init.h"

#define RECORD_VERSION "berth-fast-exec 1"
#define RECORD_MAX 65536
#define FIELDS_MAX 1024

enum {
  FIELD_VERSION, FIELD_INIT_PID, FIELD_INIT_START, FIELD_NAT_PID, FIELD_NAT_START, FIELD_LOCK,
  FIELD_UID, FIELD_GID, FIELD_GROUPS, FIELD_HOME, FIELD_DRIVES_ENV,
  FIELD_PASSWD, FIELD_GROUP, FIELD_WSL_CONF, FIELD_DRIVE_COUNT,
};

extern char **environ;

/* The Node program's argv: node <package>/bin/berth-wsl.mjs ARGS (argv[1..]). */
static char **node_argv(int argc, char **argv) {
  char package[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", package, sizeof package - 1);
  if (n < 0) {
    perror("berth-wsl: /proc/self/exe");
    exit(1);
  }
  package[n] = 0;
  /* <package>/dist/native/berth-init → <package> */
  for (int up = 0; up < 3; up++) {
    char *slash = strrchr(package, '/');
    if (!slash) break;
    *slash = 0;
  }
  char script[PATH_MAX + 32];
  snprintf(script, sizeof script, "%s/bin/berth-wsl.mjs", package);
  char **args = calloc((size_t)argc + 2, sizeof *args);
  if (!args) exit(1);
  args[0] = "node";
  args[1] = strdup(script);
  for (int i = 1; i < argc; i++) args[i + 1] = argv[i];
  return args;
}

/*
 * Node parses NODE_EXTRA_CA_CERTS at its start (~35 ms for a system bundle), and this Node
 * program speaks no TLS: the value waits in BERTH_NODE_EXTRA_CA_CERTS for a distro whose
 * WSLENV names it (common/extra-ca-env.ts).
 */
static void stash_extra_ca_certs(void) {
  const char *bundle = getenv("NODE_EXTRA_CA_CERTS");
  if (!bundle) return;
  if (setenv("BERTH_NODE_EXTRA_CA_CERTS", bundle, 1) == 0) unsetenv("NODE_EXTRA_CA_CERTS");
}

/* Becomes the Node program, with the same arguments and environment; exits if there is none. */
static void run_node(int argc, char **argv) {
  char **args = node_argv(argc, argv);
  stash_extra_ca_certs();
  execvp("node", args);
  int why = errno;
  free(args[1]);
  free(args);
  fprintf(stderr, "berth-wsl: cannot run node: %s; install Node.js 20 or newer\n", strerror(why));
  exit(1);
}

/* Has the Node program start the distro and write the exec record, without running the
 * command (BERTH_WSL_PREPARE_EXEC): a long session then holds berth-init, not a Node process.
 * Returns its exit code; its messages (an unknown distro or user) are the caller's. */
static int prepare_with_node(int argc, char **argv) {
  pid_t child = fork();
  if (child < 0) return -1;
  if (child == 0) {
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null >= 0) dup2(null, 0); /* the command's input is not Node's to read */
    setenv("BERTH_WSL_PREPARE_EXEC", "1", 1);
    run_node(argc, argv);
  }
  int status;
  while (waitpid(child, &status, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Names that may form a record's file name: what WSL allows in a distro name, and user names. */
static int plain_name(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 64 || s[0] == '.') return 0;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-')) return 0;
  return 1;
}

/* `[-d NAME] [-u USER] --exec ARGV...` and nothing else; returns the index of ARGV[0] or 0. */
static int parse_request(int argc, char **argv, const char **distro, const char **user) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if ((!strcmp(a, "-d") || !strcmp(a, "--distribution")) && i + 1 < argc) *distro = argv[++i];
    else if ((!strcmp(a, "-u") || !strcmp(a, "--user")) && i + 1 < argc) *user = argv[++i];
    else if ((!strcmp(a, "-e") || !strcmp(a, "--exec")) && i + 1 < argc) return i + 1;
    else return 0;
  }
  return 0;
}

/* A file's identity as the record writes it: inode, size and modification time in ns. */
static void identity(const char *path, char *out, size_t size) {
  struct stat st;
  if (stat(path, &st) < 0) {
    snprintf(out, size, "-");
    return;
  }
  snprintf(out, size, "%llu:%lld:%lld", (unsigned long long)st.st_ino, (long long)st.st_size,
           (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec);
}

/* Reads the record into `buf` and splits it; returns the number of fields, 0 if unusable. */
static int read_record(const char *path, char *buf, char **fields) {
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return 0;
  struct stat st;
  /* Only a record this user wrote and nobody else can change decides who a command runs as. */
  if (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 022) || !S_ISREG(st.st_mode) || st.st_size >= RECORD_MAX) {
    close(fd);
    return 0;
  }
  ssize_t total = 0, n;
  while ((n = read(fd, buf + total, RECORD_MAX - 1 - (size_t)total)) > 0) total += n;
  close(fd);
  if (n < 0 || total == 0 || buf[total - 1] != 0) return 0;
  int count = 0;
  for (char *p = buf; p < buf + total && count < FIELDS_MAX; p += strlen(p) + 1) fields[count++] = p;
  return count;
}

static int same_start(const char *pid, const char *start) {
  return process_start_time(atoi(pid)) == strtoull(start, NULL, 10);
}

/* The record's verdict: 1 and argv/env for `exec` filled in when it still holds. */
static int plan_from_record(char **f, int count, const char *init_root, char *cwd, size_t cwd_size, char ***env_out) {
  if (count <= FIELD_DRIVE_COUNT || strcmp(f[FIELD_VERSION], RECORD_VERSION) != 0) return 0;
  const char *drives = getenv("BERTH_WSL_DRIVES");
  if (f[FIELD_DRIVES_ENV][0] == 0 ? drives != NULL : (!drives || strcmp(f[FIELD_DRIVES_ENV] + 1, drives) != 0)) return 0;
  if (!same_start(f[FIELD_INIT_PID], f[FIELD_INIT_START])) return 0;
  if (strcmp(f[FIELD_NAT_PID], "0") != 0 && !same_start(f[FIELD_NAT_PID], f[FIELD_NAT_START])) return 0;
  static const char *files[] = {"etc/passwd", "etc/group", "etc/wsl.conf"};
  for (int i = 0; i < 3; i++) {
    char path[PATH_MAX], id[96];
    snprintf(path, sizeof path, "%s/%s", init_root, files[i]);
    identity(path, id, sizeof id);
    if (strcmp(id, f[FIELD_PASSWD + i]) != 0) return 0;
  }

  int at = FIELD_DRIVE_COUNT;
  int pairs = atoi(f[at++]);
  if (pairs < 0 || at + 2 * pairs >= count) return 0;
  /* As wsl.exe starts in the translated Windows directory: the host cwd on a drive, else home. */
  char here[PATH_MAX];
  snprintf(cwd, cwd_size, "%s", f[FIELD_HOME]);
  if (getcwd(here, sizeof here)) {
    for (int i = 0; i < pairs; i++, at += 2) {
      size_t len = strlen(f[at]);
      if (strncmp(here, f[at], len) == 0 && (here[len] == 0 || here[len] == '/')) {
        snprintf(cwd, cwd_size, "%s%s", f[at + 1], here + len);
        at += 2 * (pairs - i);
        break;
      }
    }
  } else {
    at += 2 * pairs;
  }
  if (at >= count) return 0;
  int entries = atoi(f[at++]);
  if (entries < 0 || at + entries != count) return 0;
  char **env = calloc((size_t)entries + 2, sizeof *env);
  if (!env) return 0;
  for (int i = 0; i < entries; i++) env[i] = f[at + i];
  const char *term = getenv("TERM");
  static char term_entry[256];
  snprintf(term_entry, sizeof term_entry, "TERM=%s", term && *term ? term : "xterm-256color");
  env[entries] = term_entry;
  *env_out = env;
  return 1;
}

#define LIST_RECORD_VERSION "berth-list 1"
#define LIST_FIELDS_EACH 5
#define LIST_MAX ((FIELDS_MAX - 3) / LIST_FIELDS_EACH)
#define STATE_WIDTH 16 /* wsl.exe's "%-16s" (list-format.ts) */

/* Whether a distro's init is running, from its init.id: 1 yes, 0 no, -1 cannot tell. */
static int init_running(const char *init_id) {
  struct stat st;
  if (lstat(init_id, &st) < 0) {
    if (errno != ENOENT) return -1;
    /* init.json without init.id: started by a Berth from before the record (Node knows). */
    const char *slash = strrchr(init_id, '/');
    if (!slash) return -1;
    char json[PATH_MAX];
    snprintf(json, sizeof json, "%.*s/init.json", (int)(slash - init_id), init_id);
    return lstat(json, &st) == 0 || errno != ENOENT ? -1 : 0;
  }
  static char buf[RECORD_MAX];
  char *f[FIELDS_MAX];
  if (read_record(init_id, buf, f) != 2 || atoi(f[0]) <= 0) return -1;
  return same_start(f[0], f[1]);
}

enum list_form { LIST_NONE, LIST_VERBOSE, LIST_QUIET, LIST_RUNNING_QUIET };

/*
 * The list record's distros, while registry.json is the one it was made from: their count
 * (their fields at *entries, LIST_FIELDS_EACH each: name, state, version, default, init.id),
 * or 0 when it cannot be trusted or names none (Node answers then, in wsl.exe's words).
 */
static long read_list_record(const char *root, char ***entries) {
  char path[PATH_MAX], registry[PATH_MAX], id[96];
  snprintf(path, sizeof path, "%s/registry.list", root);
  snprintf(registry, sizeof registry, "%s/registry.json", root);
  static char buf[RECORD_MAX];
  static char *f[FIELDS_MAX];
  int count = read_record(path, buf, f);
  if (count < 3 || strcmp(f[0], LIST_RECORD_VERSION) != 0) return 0;
  identity(registry, id, sizeof id);
  if (strcmp(id, f[1]) != 0) return 0;
  long n = strtol(f[2], NULL, 10);
  if (n <= 0 || n > LIST_MAX || count != 3 + LIST_FIELDS_EACH * n) return 0;
  *entries = f + 3;
  return n;
}

/* Prints the list from the list record: 1 done, -1 stdout failed, 0 when the record cannot be trusted (Node answers then). */
static int list_from_record(const char *root, enum list_form form) {
  char **f;
  long n = read_list_record(root, &f);
  if (n == 0) return 0;
  int width = 4;
  int running[LIST_MAX];
  for (long i = 0; i < n; i++) {
    char **d = f + LIST_FIELDS_EACH * i; /* name, state, version, default, init.id */
    /* An import or unregister under way (or abandoned, which Node settles first) is Node's to tell. */
    if (!plain_name(d[0]) || strcmp(d[1], "Installed") != 0 || (strcmp(d[2], "1") && strcmp(d[2], "2")) || (strcmp(d[3], "0") && strcmp(d[3], "1"))) return 0;
    running[i] = init_running(d[4]);
    if (running[i] < 0) return 0;
    int len = (int)strlen(d[0]);
    if (len > width) width = len;
  }
  width += 4;
  /* CRLF, as wsl.exe ends its lines (decode.ts, encodeWslOutput); -q names one a line, and nothing when there is none. */
  if (form == LIST_VERBOSE) printf("  %-*s%-*s%s\r\n", width, "NAME", STATE_WIDTH, "STATE", "VERSION");
  for (long i = 0; i < n; i++) {
    char **d = f + LIST_FIELDS_EACH * i;
    if (form == LIST_VERBOSE) printf("%c %-*s%-*s%s\r\n", d[3][0] == '1' ? '*' : ' ', width, d[0], STATE_WIDTH, running[i] ? "Running" : "Stopped", d[2]);
    else if (form == LIST_QUIET || running[i]) printf("%s\r\n", d[0]);
  }
  return fflush(stdout) == 0 ? 1 : -1; /* printed, but it could not be written: the caller sees it failed */
}

/* The id of distro `name` (as WSL, any case) from the list record: the directory its init.id is in. 1 if found. */
static int distro_id(const char *root, const char *name, char *id, size_t size) {
  char **f;
  long n = read_list_record(root, &f);
  for (long i = 0; i < n; i++) {
    char **d = f + LIST_FIELDS_EACH * i;
    if (strcasecmp(d[0], name) != 0) continue;
    const char *end = strrchr(d[4], '/'), *start = end;
    while (start && start > d[4] && start[-1] != '/') start--;
    if (!end || end == start || (size_t)(end - start) >= size) return 0;
    memcpy(id, start, (size_t)(end - start));
    id[end - start] = 0;
    return plain_name(id);
  }
  return 0;
}

/* common/lock.ts: proper-lockfile's `stale` (a lock not refreshed for longer is a dead
 * holder's) and how long withLock waits for a lock before it gives up. */
#define START_LOCK_STALE_S 10
#define START_WAIT_MAX_S 120

/*
 * Another berth-wsl is starting the distro (its start lock is held: proper-lockfile's
 * directory <id>.lock.lock under locks/): waits until that start is done, watching the
 * directory go with inotify. The starter leaves its exec record before it lets go of the
 * lock (runtime.ts ensureRunning), so a call for the same user then needs no Node of its
 * own. Returns 1 if it waited; a stale lock is Node's to take over, and so is one held
 * longer than Node would wait for it (a disk move holds it as long as it runs).
 */
static int wait_for_start(const char *root, const char *distro) {
  char id[80], locks[PATH_MAX], lock[PATH_MAX + 96];
  if (!distro || !distro_id(root, distro, id, sizeof id)) return 0;
  snprintf(locks, sizeof locks, "%s/locks", root);
  snprintf(lock, sizeof lock, "%s/%s.lock.lock", locks, id);
  int watch = inotify_init1(IN_CLOEXEC);
  if (watch < 0) return 0;
  int waited = 0;
  if (inotify_add_watch(watch, locks, IN_DELETE | IN_MOVED_FROM) >= 0) {
    struct stat st;
    time_t until = time(NULL) + START_WAIT_MAX_S;
    /* Looked at after the watch is set, so that its going is never missed. */
    while (stat(lock, &st) == 0 && time(NULL) - st.st_mtime <= START_LOCK_STALE_S && time(NULL) < until) {
      waited = 1;
      struct pollfd p = {.fd = watch, .events = POLLIN};
      char events[4096];
      if (poll(&p, 1, 1000) > 0 && read(watch, events, sizeof events) < 0) break;
    }
  }
  close(watch);
  return waited;
}

/*
 * The lists the manager asks for (`-l -v`, and `-l --running -q` for the states, which -v
 * words in the user's language on Windows), plus `-l -q`; with UTF-8 output asked for
 * (WSL_UTF8=1). Any other form is Node's.
 */
static enum list_form asked_list(int argc, char **argv) {
  const char *utf8 = getenv("WSL_UTF8");
  if (argc < 3 || argc > 4 || (strcmp(argv[1], "-l") && strcmp(argv[1], "--list")) || !utf8 || strcmp(utf8, "1")) return LIST_NONE;
  int verbose = 0, quiet = 0, running = 0;
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) verbose++;
    else if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet")) quiet++;
    else if (!strcmp(argv[i], "--running")) running++;
    else return LIST_NONE;
  }
  if (verbose == 1 && argc == 3) return LIST_VERBOSE;
  if (quiet == 1 && argc == 3) return LIST_QUIET;
  if (quiet == 1 && running == 1) return LIST_RUNNING_QUIET;
  return LIST_NONE;
}

int wsl_entry(int argc, char **argv) {
  const char *distro = NULL, *user = NULL;
  int command = parse_request(argc, argv, &distro, &user);
  const char *root = getenv("BERTH_WSL_ROOT");
  if (!root || !*root) root = "/var/lib/berth-wsl";
  const char *off = getenv("BERTH_WSL_FAST_EXEC");
  const char *wslenv = getenv("WSLENV");
  /* Whether anything may be answered here at all (BERTH_WSL_FAST_EXEC=0 turns it all off). */
  int native = root[0] == '/' && !(off && !strcmp(off, "0")) && !getenv("BERTH_WSL_INIT");
  enum list_form form = asked_list(argc, argv);
  if (native && form != LIST_NONE) {
    int listed = list_from_record(root, form);
    if (listed) return listed > 0 ? 0 : 1;
  }
  if (!native || !command || (wslenv && *wslenv) || (distro && !plain_name(distro)) || (user && !plain_name(user))) {
    run_node(argc, argv);
  }

  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/run/fast-exec/%s@%s", root, distro ? distro : "~", user ? user : "~");
  static char buf[RECORD_MAX];
  char *f[FIELDS_MAX];
  char cwd[PATH_MAX];
  char **env = NULL;
  for (int attempt = 0;; attempt++) {
    int count = read_record(path, buf, f);
    if (count > FIELD_DRIVE_COUNT) {
      char init_root[64];
      snprintf(init_root, sizeof init_root, "/proc/%d/root", atoi(f[FIELD_INIT_PID]));
      if (plan_from_record(f, count, init_root, cwd, sizeof cwd, &env)) break;
    }
    /* A start under way elsewhere: its record, once it is done. */
    if (attempt == 0 && wait_for_start(root, distro)) continue;
    if (attempt > 0) run_node(argc, argv); /* Node could not leave a usable record: it runs it all */
    int prepared = prepare_with_node(argc, argv);
    if (prepared < 0) run_node(argc, argv);
    if (prepared > 0) return prepared;
  }

  int n = 0;
  char *args[20];
  args[n++] = argv[0];
  args[n++] = "exec";
  args[n++] = "--pid", args[n++] = f[FIELD_INIT_PID];
  args[n++] = "--start-time", args[n++] = f[FIELD_INIT_START];
  args[n++] = "--lock", args[n++] = f[FIELD_LOCK];
  args[n++] = "--uid", args[n++] = f[FIELD_UID];
  args[n++] = "--gid", args[n++] = f[FIELD_GID];
  args[n++] = "--groups", args[n++] = f[FIELD_GROUPS];
  args[n++] = "--cwd", args[n++] = cwd;
  args[n++] = "--";
  int total = n + (argc - command);
  char **exec_argv = calloc((size_t)total + 1, sizeof *exec_argv);
  if (!exec_argv) run_node(argc, argv);
  memcpy(exec_argv, args, (size_t)n * sizeof *args);
  memcpy(exec_argv + n, argv + command, (size_t)(argc - command) * sizeof *argv);

  char **caller_env = environ;
  environ = env; /* the distro's environment, as the plan gives it: execvp in `exec` looks up PATH there */
  int code = cmd_exec(total, exec_argv);
  if (code != EXIT_DISTRO_GONE || exec_entered) return code;
  /* The init ended between the check and the attach: Node starts it again. */
  environ = caller_env;
  run_node(argc, argv);
  return 1;
}
