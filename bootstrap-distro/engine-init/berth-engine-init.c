/* berth-engine-init: the first process of the engine's namespaces, so that containerd and
 * dockerd start without waiting for Node.
 *
 *   berth-engine-init --root DIR --rw DIR --lower TOP:SYSTEM --data DIR --shared DIR
 *                     [--cgroup-procs FILE]… [--drive /mnt/X]… --plan FILE -- SUPERVISOR…
 *
 * It makes new mount, network, pid, UTS and IPC namespaces (mounts received from the
 * distro, none sent back) and forks their pid 1; this process stays in the distro's pid
 * namespace, moves pid 1 into the engine's cgroups, passes signals on and ends as pid 1
 * ends. Pid 1:
 *   1. assembles the LinuxKit root at DIR (root.ts has the layout);
 *   2. runs the plan's onboot actions in order;
 *   3. once it is in the engine's cgroups, starts the Node supervisor (SUPERVISOR…, with
 *      `--engine-init-fds E,L1,L2…` added, at nice SUPERVISOR_NICE until it says
 *      otherwise: its start must not take the CPU from the engine's) and the services.
 *      E is the event pipe below, L… the log daemon's ends of every entry's stdout and
 *      stderr (each begins with the source line the log daemon's ingest protocol expects);
 *   4. reaps every process of the namespace, forwards SIGTERM/SIGINT/SIGHUP to the
 *      supervisor, and ends with the supervisor's exit status.
 * It tells the supervisor what happened, one line each (supervisor-side: engine-init.ts):
 *   root ok | root failed WHY | onboot NAME CODE MS | started NAME PID | done (nothing more starts)
 *   | exited NAME PID CODE SIGNAL
 * Node keeps the logic: restarts, stopping, status and the logs are the supervisor's.
 *
 *   berth-engine-init wait PID [CALLER]
 *
 * returns once PID (or CALLER) has ended, at once if it is gone: what the manager keeps
 * attached in the distro while the engine runs. Pidfds, so nothing wakes until then. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/poll.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "boot-plan.h"

#define MAX_ARGS 64
/* The supervisor's Node start costs more CPU than dockerd's; on two cores it slowed the
 * engine's start by ~50 ms. It lowers its nice to 0 itself once it has loaded. */
#define SUPERVISOR_NICE 19

struct options {
  const char *root, *rw, *lower, *data, *shared, *plan;
  const char *cgroup_procs[MAX_ARGS];
  int cgroups;
  const char *drives[MAX_ARGS];
  int drives_count;
  char **supervisor;
};

struct running {
  pid_t pid;
  long started_ms;
  int out_fd, err_fd; /* the child's ends, until it starts */
};

static struct boot_plan plan;
static struct running runs[PLAN_MAX_ENTRIES];
static volatile pid_t supervisor_pid;
static int events_fd = -1;

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("berth-engine-init: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One event line to the supervisor; a supervisor that is gone is noticed by the reaper. */
static void event(const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n > sizeof line - 2) n = sizeof line - 2;
  line[n++] = '\n';
  for (int off = 0; off < n;) {
    ssize_t w = write(events_fd, line + off, (size_t)(n - off));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    off += (int)w;
  }
}

static void parse_options(int argc, char **argv, struct options *o) {
  memset(o, 0, sizeof *o);
  int i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) break;
    if (i + 1 >= argc) die("%s needs a value", a);
    const char *v = argv[++i];
    if (strcmp(a, "--root") == 0) o->root = v;
    else if (strcmp(a, "--rw") == 0) o->rw = v;
    else if (strcmp(a, "--lower") == 0) o->lower = v;
    else if (strcmp(a, "--data") == 0) o->data = v;
    else if (strcmp(a, "--shared") == 0) o->shared = v;
    else if (strcmp(a, "--plan") == 0) o->plan = v;
    else if (strcmp(a, "--cgroup-procs") == 0 && o->cgroups < MAX_ARGS) o->cgroup_procs[o->cgroups++] = v;
    else if (strcmp(a, "--drive") == 0 && o->drives_count < MAX_ARGS) o->drives[o->drives_count++] = v;
    else die("unknown or repeated too often: %s", a);
  }
  if (!o->root || !o->rw || !o->lower || !o->data || !o->shared || !o->plan || i + 1 >= argc)
    die("usage: berth-engine-init --root DIR --rw DIR --lower A:B --data DIR --shared DIR --plan FILE -- SUPERVISOR...");
  o->supervisor = argv + i + 1;
}

static char *read_plan(const char *path, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die("cannot read the boot plan %s: %s", path, strerror(errno));
  static char buf[PLAN_MAX_BYTES + 1];
  size_t n = 0;
  for (;;) {
    ssize_t r = read(fd, buf + n, sizeof buf - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) die("cannot read the boot plan %s: %s", path, strerror(errno));
    if (r == 0 || (n += (size_t)r) == sizeof buf) break;
  }
  close(fd);
  *len = n;
  return buf;
}

/* Moves `who` into the engine's cgroups. The first move costs an RCU grace period (~10 ms
 * here), so it runs while pid 1 assembles the root and runs the onboot actions. */
static void join_cgroups(const struct options *o, pid_t who) {
  char pid[32];
  int n = snprintf(pid, sizeof pid, "%d\n", who);
  for (int i = 0; i < o->cgroups; i++) {
    int fd = open(o->cgroup_procs[i], O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, pid, (size_t)n) != n) die("cannot join the engine's cgroup %s: %s", o->cgroup_procs[i], strerror(errno));
    close(fd);
  }
}

/* ---- the root ---- */

static char root_error[8192];

static int fail(const char *what, const char *path) {
  snprintf(root_error, sizeof root_error, "%s %s: %s", what, path, strerror(errno));
  return -1;
}

static int mkdirs(const char *path) {
  char p[4096];
  if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p) return fail("path too long:", path);
  for (char *s = p + 1; *s; s++) {
    if (*s != '/') continue;
    *s = '\0';
    if (mkdir(p, 0755) != 0 && errno != EEXIST) return fail("cannot make", p);
    *s = '/';
  }
  if (mkdir(p, 0755) != 0 && errno != EEXIST) return fail("cannot make", p);
  return 0;
}

static int mnt(const char *src, const char *dir, const char *type, unsigned long flags, const char *data) {
  return mount(src, dir, type, flags, data) == 0 ? 0 : fail("cannot mount on", dir);
}

/* `at` under the root, e.g. sub(buf, "/dev/pts"). */
static const char *sub(char *buf, size_t len, const char *root, const char *at) {
  snprintf(buf, len, "%s%s", root, at);
  return buf;
}

static int set_loopback_up(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  int ok = s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &ifr) == 0);
  if (s >= 0) close(s);
  return ok ? 0 : fail("cannot bring up", "lo");
}

/* The layout of root.ts's description: an overlay of the images under a tmpfs, the kernel
 * filesystems, the data store at /var/lib, the shared area (slave) and the drives; then the
 * root stacked over "/" so that whatever enters this mount namespace lands on it. */
static int assemble_root(const struct options *o) {
  char a[4096], b[4096], opts[8192];
  const char *r = o->root;
  if (mkdirs(o->rw) || mkdirs(r) || mnt("berth-rw", o->rw, "tmpfs", 0, "mode=0755")) return -1;
  if (mkdirs(sub(a, sizeof a, o->rw, "/upper")) || mkdirs(sub(b, sizeof b, o->rw, "/work"))) return -1;
  if (snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s/upper,workdir=%s/work", o->lower, o->rw, o->rw) >= (int)sizeof opts) return fail("options too long for", r);
  if (mnt("berth-root", r, "overlay", 0, opts)) return -1;
  if (mnt("proc", sub(a, sizeof a, r, "/proc"), "proc", 0, NULL) || mnt("sysfs", sub(a, sizeof a, r, "/sys"), "sysfs", 0, NULL)) return -1;
  if (mnt("/sys/fs/cgroup", sub(a, sizeof a, r, "/sys/fs/cgroup"), NULL, MS_BIND | MS_REC, NULL)) return -1;
  if (mnt("devtmpfs", sub(a, sizeof a, r, "/dev"), "devtmpfs", 0, NULL)) return -1;
  if (mkdirs(sub(a, sizeof a, r, "/dev/pts")) || mkdirs(sub(a, sizeof a, r, "/dev/shm"))) return -1;
  if (mnt("devpts", sub(a, sizeof a, r, "/dev/pts"), "devpts", 0, "newinstance,ptmxmode=0666,mode=0620")) return -1;
  if (mnt(sub(b, sizeof b, r, "/dev/pts/ptmx"), sub(a, sizeof a, r, "/dev/ptmx"), NULL, MS_BIND, NULL)) return -1;
  if (mnt("shm", sub(a, sizeof a, r, "/dev/shm"), "tmpfs", 0, "mode=1777")) return -1;
  if (mkdirs(sub(a, sizeof a, r, "/var/lib")) || mnt(o->data, a, NULL, MS_BIND, NULL)) return -1;
  if (mkdirs(sub(a, sizeof a, r, o->shared)) || mnt(o->shared, a, NULL, MS_BIND | MS_REC, NULL) || mnt(NULL, a, NULL, MS_SLAVE | MS_REC, NULL)) return -1;
  for (int i = 0; i < o->drives_count; i++) {
    const char *d = o->drives[i]; /* /mnt/X */
    const char *letter = strrchr(d, '/');
    if (!letter || snprintf(b, sizeof b, "/mnt/host%s", letter) >= (int)sizeof b) return fail("a bad drive", d);
    if (mkdirs(sub(a, sizeof a, r, b)) || mnt(d, a, NULL, MS_BIND | MS_REC, NULL)) return -1;
  }
  if (mnt(r, "/", NULL, MS_BIND | MS_REC, NULL)) return -1;
  if (set_loopback_up()) return -1;
  if (sethostname("berth", 5) != 0) return fail("cannot set the hostname", "berth");
  return 0;
}

/* ---- the plan's processes ---- */

/* A stream socket pair for one output stream: [0] for the log daemon, [1] for the process,
 * which already holds the source line of the ingest protocol. */
static void log_pair(const char *source, int fds[2]) {
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) die("socketpair: %s", strerror(errno));
  char line[128];
  int n = snprintf(line, sizeof line, "%s\n", source);
  if (write(fds[1], line, (size_t)n) != n) die("cannot write to a log stream: %s", strerror(errno));
}

/* In the child: the process's command as the supervisor's spawnInRoot starts it: entering our
 * own mount namespace (to land on the root stacked over "/"), in its own session. */
static void exec_entry(const struct plan_entry *e, int out, int err) {
  int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int ns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
  if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) _exit(127);
  if (ns < 0 || setns(ns, CLONE_NEWNS) != 0) {
    dprintf(2, "berth-engine-init: cannot enter the root: %s\n", strerror(errno));
    _exit(127);
  }
  if (chdir(e->cwd) != 0) {
    dprintf(2, "berth-engine-init: cannot change to %s: %s\n", e->cwd, strerror(errno));
    _exit(127);
  }
  setsid();
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGPIPE, SIG_DFL);
  /* A bare name is looked up on the entry's own PATH, as nsenter's execvp does. */
  environ = (char **)e->env;
  execvp(e->argv[0], (char *const *)e->argv);
  dprintf(2, "berth-engine-init: cannot run %s: %s\n", e->argv[0], strerror(errno));
  _exit(127);
}

static pid_t start_entry(size_t i) {
  pid_t pid = fork();
  if (pid < 0) die("fork: %s", strerror(errno));
  if (pid == 0) exec_entry(&plan.entries[i], runs[i].out_fd, runs[i].err_fd);
  close(runs[i].out_fd);
  close(runs[i].err_fd);
  runs[i].pid = pid;
  runs[i].started_ms = now_ms();
  return pid;
}

static int exit_code(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void forward_signal(int sig) {
  if (supervisor_pid > 0) kill(supervisor_pid, sig);
}

/* A stop asked of either process reaches whatever supervisor_pid names (pid 1, or the supervisor). */
static void forward_stop_signals(void) {
  struct sigaction sa = {.sa_handler = forward_signal};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
}

/* Starts the supervisor with the event pipe's read end and the log daemon's ends. */
static void start_supervisor(char **argv, int events_read, int log_fds[], int nlog) {
  int keep[1 + 2 * PLAN_MAX_ENTRIES];
  int n = 0;
  keep[n++] = events_read;
  for (int i = 0; i < nlog; i++) keep[n++] = log_fds[i];
  char list[1024];
  size_t used = 0;
  for (int i = 0; i < n; i++) used += (size_t)snprintf(list + used, sizeof list - used, "%s%d", i ? "," : "", keep[i]);
  int argc = 0;
  while (argv[argc]) argc++;
  char **args = calloc((size_t)argc + 3, sizeof *args);
  if (!args) die("out of memory");
  memcpy(args, argv, (size_t)argc * sizeof *args);
  args[argc] = "--engine-init-fds";
  args[argc + 1] = list;
  pid_t pid = fork();
  if (pid < 0) die("fork: %s", strerror(errno));
  if (pid == 0) {
    for (int i = 0; i < n; i++) fcntl(keep[i], F_SETFD, 0);
    setpriority(PRIO_PROCESS, 0, SUPERVISOR_NICE);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execv(args[0], args);
    dprintf(2, "berth-engine-init: cannot run the supervisor %s: %s\n", args[0], strerror(errno));
    _exit(127);
  }
  free(args);
  supervisor_pid = pid;
  for (int i = 0; i < n; i++) close(keep[i]);
}

/* Reaps until `want` exits (0: until the supervisor does); reports the plan's services. */
static int reap(pid_t want, int *status_out) {
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      if (errno == ECHILD) return -1;
      die("waitpid: %s", strerror(errno));
    }
    if (pid == supervisor_pid) exit(exit_code(status));
    for (size_t i = 0; i < plan.count; i++) {
      if (runs[i].pid != pid || !plan.entries[i].is_service) continue;
      if (WIFSIGNALED(status)) event("exited %s %d - SIG%s", plan.entries[i].name, pid, sigabbrev_np(WTERMSIG(status)));
      else event("exited %s %d %d -", plan.entries[i].name, pid, WEXITSTATUS(status));
      runs[i].pid = 0;
    }
    if (want && pid == want) {
      *status_out = status;
      return 0;
    }
  }
}

/* Blocks until the distro's side has moved pid 1 into the engine's cgroups (one byte on
 * `joined`); whatever pid 1 forks after that is the engine's, the supervisor included. */
static void await_cgroups(int joined) {
  char byte;
  ssize_t r;
  while ((r = read(joined, &byte, 1)) < 0 && errno == EINTR) {
  }
  if (r != 1) die("the engine's cgroups were not joined (see the line above)");
  close(joined);
}

/* The root, the onboot actions (before the cgroups are joined: they only prepare the root),
 * then the supervisor and the services, in the engine's cgroups. */
static void run_plan(const struct options *o, int joined, int events_read, int log_fds[], int nlog) {
  int ok = assemble_root(o) == 0;
  if (ok) event("root ok");
  else event("root failed %s", root_error);
  for (size_t i = 0; ok && i < plan.count; i++) {
    if (plan.entries[i].is_service) continue;
    pid_t pid = start_entry(i);
    int status;
    if (reap(pid, &status) != 0) die("lost the onboot action %s", plan.entries[i].name);
    int code = exit_code(status);
    event("onboot %s %d %ld", plan.entries[i].name, code, now_ms() - runs[i].started_ms);
    ok = code == 0;
  }
  await_cgroups(joined);
  start_supervisor(o->supervisor, events_read, log_fds, nlog);
  for (size_t i = 0; ok && i < plan.count; i++) {
    if (!plan.entries[i].is_service) continue;
    event("started %s %d", plan.entries[i].name, start_entry(i));
  }
  /* Nothing more will be started: a supervisor waiting on a step that never came stops waiting. */
  event("done");
}

static pid_t parse_pid(const char *arg) {
  char *end;
  errno = 0;
  long pid = strtol(arg, &end, 10);
  if (errno || *end || pid <= 0 || pid > INT_MAX) die("wait: not a process id: %s", arg);
  return (pid_t)pid;
}

/* `wait PID [CALLER]`: returns when either has ended (at once if one is gone already). The
 * attached shell names itself as CALLER, so that killing it leaves no waiter behind. Kernels
 * without pidfd_open (before 5.3) get a once-a-second check instead. */
static int wait_for_end(int n, char **args) {
  pid_t pids[2];
  struct pollfd p[2];
  for (int i = 0; i < n; i++) pids[i] = parse_pid(args[i]);
  for (int i = 0; i < n; i++) {
    p[i].fd = (int)syscall(SYS_pidfd_open, pids[i], 0);
    p[i].events = POLLIN;
    if (p[i].fd < 0 && errno == ESRCH) return 0;
    if (p[i].fd < 0) {
      for (;;) {
        for (int j = 0; j < n; j++)
          if (kill(pids[j], 0) != 0 && errno != EPERM) return 0;
        sleep(1);
      }
    }
  }
  while (poll(p, (nfds_t)n, -1) < 0)
    if (errno != EINTR) die("wait: poll: %s", strerror(errno));
  return 0;
}

int main(int argc, char **argv) {
  if ((argc == 3 || argc == 4) && strcmp(argv[1], "wait") == 0) return wait_for_end(argc - 2, argv + 2);
  umask(022); /* the root's directories are 0755 whatever the caller's mask */
  struct options o;
  parse_options(argc, argv, &o);
  size_t len;
  const char *text = read_plan(o.plan, &len);
  char why[256];
  if (boot_plan_parse(text, len, &plan, why, sizeof why) != 0) die("the boot plan %s: %s", o.plan, why);
  int joined[2];
  if (pipe2(joined, O_CLOEXEC) != 0) die("pipe: %s", strerror(errno));
  if (unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC) != 0) die("unshare: %s", strerror(errno));
  if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) != 0) die("making / a slave: %s", strerror(errno));
  signal(SIGPIPE, SIG_IGN);
  pid_t init = fork();
  if (init < 0) die("fork: %s", strerror(errno));
  if (init > 0) {
    /* The distro's side of pid 1: it moves pid 1 into the engine's cgroups, passes signals
     * on, and ends as pid 1 ends. */
    close(joined[0]);
    join_cgroups(&o, init);
    if (write(joined[1], "j", 1) != 1) die("cannot tell pid 1 the cgroups are joined: %s", strerror(errno));
    close(joined[1]);
    supervisor_pid = init;
    forward_stop_signals();
    int status;
    while (waitpid(init, &status, 0) < 0)
      if (errno != EINTR) die("waitpid: %s", strerror(errno));
    /* Nothing to flush; and exit handlers (LeakSanitizer's, in the tests' build) would fork
     * into the new pid namespace, from where this process cannot be traced. */
    _exit(exit_code(status));
  }
  /* pid 1 of the engine's namespaces. */
  close(joined[1]);
  int events[2];
  if (pipe2(events, O_CLOEXEC) != 0) die("pipe: %s", strerror(errno));
  events_fd = events[1];
  int log_fds[2 * PLAN_MAX_ENTRIES];
  int nlog = 0;
  for (size_t i = 0; i < plan.count; i++) {
    char source[96];
    int out[2], err[2];
    snprintf(source, sizeof source, "%s.out", plan.entries[i].name);
    log_pair(source, out);
    log_pair(plan.entries[i].name, err);
    log_fds[nlog++] = out[0];
    log_fds[nlog++] = err[0];
    runs[i].out_fd = out[1];
    runs[i].err_fd = err[1];
  }
  forward_stop_signals();
  run_plan(&o, joined[0], events[0], log_fds, nlog);
  /* What the plan did not start keeps no log stream open. */
  for (size_t i = 0; i < plan.count; i++) {
    if (runs[i].started_ms) continue;
    close(runs[i].out_fd);
    close(runs[i].err_fd);
  }
  int ignored;
  reap(0, &ignored);
  return 1;
}
