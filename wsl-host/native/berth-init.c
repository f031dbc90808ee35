/*
 * berth-init: the Linux WSL host's counterpart of WSL's own /init.
 *
 * On real WSL 2 the utility VM injects a static /init into every distro; it holds the
 * distro's namespaces, reaps orphans, runs the [boot] command and starts the processes
 * that wsl.exe asks for. Node cannot call setns/unshare/pivot_root, so those few
 * syscalls live here; every decision (which user, which cwd, which mounts) is made by
 * the TypeScript side and passed in as arguments.
 *
 * Modes:
 *   start    --vm-net F --vm-mnt F -- CMD...   enter the VM, unshare mnt/pid/uts/ipc, run CMD as pid 1
 *                                              under a holder that reaps it; prints pid 1's host pid
 *                                              once it reports ready
 *   pid1     --root DIR --lock F --log F --idle SECS [--boot CMD]
 *                                              pivot into DIR and act as the distro's init
 *   exec     --pid N --start-time T --lock F --uid U --gid G [--groups a,b] [--cwd DIR]
 *            [--entered-fd FD] -- ARGV...      run ARGV inside the distro of init N; exit 250
 *                                              before entering it if N is gone (FD gets a byte
 *                                              once it is entered, so 250 after it is ARGV's)
 *   private-except PATH                        make every mount private except PATH (VM set-up)
 *   relay    SOCKET                            copy stdin/stdout to and from a Unix socket
 *
 * Run as `berth-wsl` (bin/berth-wsl links here), it is wsl.exe's command line: see wsl-entry.c
 * (main.c chooses between the two by the name it was run as).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "berth-init.h"

#define EXIT_USAGE 2

static void die(const char *what) {
  fprintf(stderr, "berth-init: %s: %s\n", what, strerror(errno));
  exit(1);
}

static const char *opt(int argc, char **argv, const char *name, const char *fallback) {
  for (int i = 2; i + 1 < argc; i++) {
    if (strcmp(argv[i], "--") == 0) break;
    if (strcmp(argv[i], name) == 0) return argv[i + 1];
  }
  return fallback;
}

static const char *required(int argc, char **argv, const char *name) {
  const char *v = opt(argc, argv, name, NULL);
  if (!v) {
    fprintf(stderr, "berth-init: missing %s\n", name);
    exit(EXIT_USAGE);
  }
  return v;
}

static char **after_dashes(int argc, char **argv) {
  for (int i = 2; i < argc; i++)
    if (strcmp(argv[i], "--") == 0 && i + 1 < argc) return &argv[i + 1];
  fprintf(stderr, "berth-init: missing -- COMMAND\n");
  exit(EXIT_USAGE);
}

static int open_or_die(const char *path, int flags) {
  int fd = open(path, flags | O_CLOEXEC, 0600);
  if (fd < 0) die(path);
  return fd;
}

/* ---- start ------------------------------------------------------------------------ */

/* Runs in the holder: a host-side process that creates the namespaces, forks pid 1 into
 * them and stays to reap it, so no zombie is left for the host's init to collect. */
static void run_holder(int argc, char **argv, int report) {
  int net = open_or_die(required(argc, argv, "--vm-net"), O_RDONLY);
  int mnt = open_or_die(required(argc, argv, "--vm-mnt"), O_RDONLY);
  char **cmd = after_dashes(argc, argv);
  setsid();
  if (setns(net, CLONE_NEWNET) < 0) die("setns(vm net)");
  if (setns(mnt, CLONE_NEWNS) < 0) die("setns(vm mnt)");
  if (unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC) < 0) die("unshare");

  int ready[2];
  if (pipe(ready) < 0) die("pipe");
  pid_t init = fork();
  if (init < 0) die("fork");
  if (init == 0) {
    close(ready[0]);
    close(report);
    char fdnum[16];
    snprintf(fdnum, sizeof fdnum, "%d", ready[1]);
    setenv("BERTH_READY_FD", fdnum, 1);
    execvp(cmd[0], cmd);
    die(cmd[0]);
  }
  close(ready[1]);
  char byte = 0;
  ssize_t n;
  do n = read(ready[0], &byte, 1); while (n < 0 && errno == EINTR);
  int status = 0;
  if (n == 1 && byte == 'R') {
    dprintf(report, "%d\n", (int)init);
    close(report);
    int devnull = open("/dev/null", O_RDWR);
    for (int fd = 0; fd < 3; fd++) dup2(devnull, fd);
    while (waitpid(init, &status, 0) < 0 && errno == EINTR) {}
    _exit(0);
  }
  waitpid(init, &status, 0);
  if (WIFEXITED(status)) _exit(WEXITSTATUS(status) ? WEXITSTATUS(status) : 1);
  _exit(128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0));
}

static int cmd_start(int argc, char **argv) {
  int report[2];
  if (pipe(report) < 0) die("pipe");
  pid_t holder = fork();
  if (holder < 0) die("fork");
  if (holder == 0) {
    close(report[0]);
    run_holder(argc, argv, report[1]);
  }
  close(report[1]);
  char buf[32] = {0};
  ssize_t n, got = 0;
  while ((n = read(report[0], buf + got, sizeof buf - 1 - (size_t)got)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) got += n;
  if (got > 0) {
    fputs(buf, stdout);
    return 0;
  }
  int status = 0;
  waitpid(holder, &status, 0);
  if (WIFEXITED(status)) return WEXITSTATUS(status) ? WEXITSTATUS(status) : 1;
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* ---- pid1 ------------------------------------------------------------------------- */

static void kill_everything_and_exit(void) {
  kill(-1, SIGKILL); /* from pid 1 of a pid namespace: every other process in it */
  while (waitpid(-1, NULL, 0) > 0) {}
  exit(0);
}

static void run_boot_command(const char *boot) {
  pid_t p = fork();
  if (p != 0) return;
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  setsid();
  execl("/bin/sh", "sh", "-c", boot, (char *)NULL);
  _exit(127);
}

static int cmd_pid1(int argc, char **argv) {
  const char *root = required(argc, argv, "--root");
  int lock = open_or_die(required(argc, argv, "--lock"), O_RDWR | O_CREAT);
  int log = open_or_die(required(argc, argv, "--log"), O_WRONLY | O_CREAT | O_APPEND);
  long idle = strtol(opt(argc, argv, "--idle", "0"), NULL, 10);
  const char *boot = opt(argc, argv, "--boot", NULL);
  const char *ready_fd = getenv("BERTH_READY_FD");

  if (chdir(root) < 0) die(root);
  /* pivot_root(".", ".") stacks the old root on the new one; detaching it leaves only the distro. */
  if (syscall(SYS_pivot_root, ".", ".") < 0) die("pivot_root");
  if (umount2(".", MNT_DETACH) < 0) die("umount old root");
  if (chdir("/") < 0) die("chdir /");
  unsetenv("BERTH_READY_FD");

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  sigprocmask(SIG_BLOCK, &set, NULL);

  dup2(log, 1);
  dup2(log, 2);
  int devnull = open("/dev/null", O_RDONLY);
  if (devnull >= 0) dup2(devnull, 0);
  if (boot && *boot) run_boot_command(boot);

  if (ready_fd) {
    int fd = atoi(ready_fd);
    if (write(fd, "R", 1) != 1) die("ready");
    close(fd);
  }

  time_t idle_since = 0;
  for (;;) {
    struct timespec tick = {1, 0};
    int sig = sigtimedwait(&set, NULL, &tick);
    if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) kill_everything_and_exit();
    while (waitpid(-1, NULL, WNOHANG) > 0) {}
    if (idle <= 0) continue;
    /* Each attached `exec` holds a shared lock: getting it exclusively means nobody is attached. */
    if (flock(lock, LOCK_EX | LOCK_NB) == 0) {
      time_t now = time(NULL);
      if (!idle_since) idle_since = now;
      if (now - idle_since >= idle) {
        fprintf(stderr, "berth-init: idle for %lds, terminating\n", idle);
        kill_everything_and_exit(); /* still holding the lock: a new exec waits, then restarts us */
      }
      flock(lock, LOCK_UN);
    } else {
      idle_since = 0;
    }
  }
  return 0; /* not reached */
}

/* ---- exec ------------------------------------------------------------------------- */

unsigned long long process_start_time(int pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  char *p = strrchr(buf, ')'); /* the command name may contain spaces */
  if (!p) return 0;
  unsigned long long value = 0;
  int field = 2;
  for (char *tok = strtok(p + 1, " "); tok; tok = strtok(NULL, " ")) {
    if (++field == 22) {
      value = strtoull(tok, NULL, 10);
      break;
    }
  }
  return value;
}

static pid_t exec_child = 0;
static void forward_signal(int sig) {
  if (exec_child > 0) kill(exec_child, sig);
}

int exec_entered = 0;

int cmd_exec(int argc, char **argv) {
  pid_t target = (pid_t)strtol(required(argc, argv, "--pid"), NULL, 10);
  unsigned long long start_time = strtoull(required(argc, argv, "--start-time"), NULL, 10);
  int lock = open_or_die(required(argc, argv, "--lock"), O_RDWR | O_CREAT);
  uid_t uid = (uid_t)strtoul(required(argc, argv, "--uid"), NULL, 10);
  gid_t gid = (gid_t)strtoul(required(argc, argv, "--gid"), NULL, 10);
  const char *groups_arg = opt(argc, argv, "--groups", "");
  const char *cwd = opt(argc, argv, "--cwd", "/");
  /* The caller's way to tell our 250 (the init is gone) from the command's own 250. */
  int entered_fd = atoi(opt(argc, argv, "--entered-fd", "-1"));
  char **cmd = after_dashes(argc, argv);

  /* Attach first: an init that is terminating for idleness holds the lock exclusively. */
  while (flock(lock, LOCK_SH) < 0)
    if (errno != EINTR) die("flock");
  if (process_start_time(target) != start_time) return EXIT_DISTRO_GONE;

  static const char *kinds[] = {"ipc", "uts", "net", "pid", "mnt"};
  static const int flags[] = {CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNET, CLONE_NEWPID, CLONE_NEWNS};
  int fds[5];
  char path[64];
  for (int i = 0; i < 5; i++) {
    snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)target, kinds[i]);
    fds[i] = open(path, O_RDONLY | O_CLOEXEC);
    if (fds[i] < 0) return EXIT_DISTRO_GONE;
  }
  snprintf(path, sizeof path, "/proc/%d/root", (int)target);
  int rootfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) return EXIT_DISTRO_GONE;
  exec_entered = 1;
  if (entered_fd >= 0) {
    if (write(entered_fd, "1", 1) < 0) die("--entered-fd");
    close(entered_fd);
  }
  for (int i = 0; i < 5; i++)
    if (setns(fds[i], flags[i]) < 0) die(kinds[i]);
  if (fchdir(rootfd) < 0 || chroot(".") < 0) die("chroot");

  gid_t groups[64];
  int ngroups = 0;
  for (const char *p = groups_arg; *p && ngroups < 64;) {
    groups[ngroups++] = (gid_t)strtoul(p, (char **)&p, 10);
    if (*p == ',') p++;
  }

  exec_child = fork();
  if (exec_child < 0) die("fork");
  if (exec_child == 0) {
    if (setgroups(ngroups, groups) < 0) die("setgroups");
    if (setgid(gid) < 0) die("setgid");
    if (setuid(uid) < 0) die("setuid");
    if (chdir(cwd) < 0) {
      fprintf(stderr, "chdir(%s) failed %d\n", cwd, errno);
      _exit(1);
    }
    execvp(cmd[0], cmd);
    fprintf(stderr, "execvpe(%s) failed: %s\n", cmd[0], strerror(errno));
    _exit(1);
  }
  static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
  for (unsigned i = 0; i < sizeof forwarded / sizeof *forwarded; i++) signal(forwarded[i], forward_signal);
  int status = 0;
  while (waitpid(exec_child, &status, 0) < 0)
    if (errno != EINTR) die("waitpid");
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

/* ---- private-except --------------------------------------------------------------- */

/* mountinfo escapes space, tab, newline and backslash as \ooo octal. */
static void unescape(char *s) {
  char *out = s;
  for (char *in = s; *in; in++) {
    if (in[0] == '\\' && in[1] >= '0' && in[1] <= '7' && in[2] && in[3]) {
      *out++ = (char)(((in[1] - '0') << 6) | ((in[2] - '0') << 3) | (in[3] - '0'));
      in += 3;
    } else {
      *out++ = *in;
    }
  }
  *out = 0;
}

static int cmd_private_except(int argc, char **argv) {
  if (argc < 3) return EXIT_USAGE;
  const char *keep = argv[2];
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f) die("mountinfo");
  char line[8192];
  while (fgets(line, sizeof line, f)) {
    char target[4096];
    if (sscanf(line, "%*s %*s %*s %*s %4095s", target) != 1) continue;
    unescape(target);
    if (strcmp(target, keep) == 0) continue;
    if (mount(NULL, target, NULL, MS_PRIVATE, NULL) < 0 && errno != EINVAL && errno != ENOENT)
      fprintf(stderr, "berth-init: make-private %s: %s\n", target, strerror(errno));
  }
  fclose(f);
  return 0;
}

/* ---- relay ------------------------------------------------------------------------ */

static int cmd_relay(int argc, char **argv) {
  if (argc < 3) return EXIT_USAGE;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(argv[2]) >= sizeof addr.sun_path) {
    fprintf(stderr, "berth-init: socket path too long: %s\n", argv[2]);
    return 1;
  }
  strcpy(addr.sun_path, argv[2]);
  int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0) die("socket");
  if (connect(sock, (struct sockaddr *)&addr, sizeof addr) < 0) die(argv[2]);
  signal(SIGPIPE, SIG_IGN);

  struct pollfd p[2] = {{.fd = 0, .events = POLLIN}, {.fd = sock, .events = POLLIN}};
  int in_open = 1, sock_open = 1;
  char buf[65536];
  while (sock_open) {
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    if (in_open && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = read(0, buf, sizeof buf);
      if (n <= 0) {
        in_open = 0;
        p[0].fd = -1;
        shutdown(sock, SHUT_WR); /* half-close: the server still answers */
      } else {
        for (ssize_t off = 0; off < n;) {
          ssize_t w = write(sock, buf + off, (size_t)(n - off));
          if (w < 0) return 1;
          off += w;
        }
      }
    }
    if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(sock, buf, sizeof buf);
      if (n <= 0) {
        sock_open = 0;
      } else {
        for (ssize_t off = 0; off < n;) {
          ssize_t w = write(1, buf + off, (size_t)(n - off));
          if (w < 0) return 1;
          off += w;
        }
      }
    }
  }
  return 0;
}

int berth_init_main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  if (strcmp(mode, "start") == 0) return cmd_start(argc, argv);
  if (strcmp(mode, "pid1") == 0) return cmd_pid1(argc, argv);
  if (strcmp(mode, "exec") == 0) return cmd_exec(argc, argv);
  if (strcmp(mode, "private-except") == 0) return cmd_private_except(argc, argv);
  if (strcmp(mode, "relay") == 0) return cmd_relay(argc, argv);
  fprintf(stderr, "usage: berth-init start|pid1|exec|private-except|relay ...\n");
  return EXIT_USAGE;
}
