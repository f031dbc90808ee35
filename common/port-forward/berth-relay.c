/*
 * berth-relay: the published ports' byte mover. Node decides which ports exist, where they
 * lead and whether a target may be reached; this program only moves the bytes, with
 * splice(2) through a pipe per direction, so no byte of a published TCP port crosses Node.
 *
 *   berth-relay listen --forwarder SOCKET
 *     Commands on stdin, one per line, each answered on stdout in order ("ok KEY" or
 *     "error KEY CODE", CODE an errno name such as EADDRINUSE):
 *       listen KEY ADDR PORT   bind ADDR:PORT (TCP, IPv4 or IPv6) and listen
 *       target KEY IP PORT     where KEY's connections lead (an address in the engine)
 *       close KEY              stop listening; connections still waiting for a target end
 *     An accepted connection waits up to 5 s for its key's target, then is carried to
 *     SOCKET (the forwarder, across the host-VM boundary) after the head "tcp IP PORT\n".
 *
 *   berth-relay listen --pass-to SOCKET
 *     The same, where SOCKET's forwarder runs on this kernel (the WSL side, in the VM the
 *     engine runs in): each accepted connection itself is handed to the forwarder with the
 *     head (SCM_RIGHTS), and the forwarder splices it to the container, so its bytes cross
 *     one relay, not two.
 *
 *   berth-relay forward --socket SOCKET
 *     Listens on the Unix socket SOCKET (mode 0600). Each connection starts with
 *     "tcp IP PORT\n"; the relay asks "check ID IP PORT" on stdout and Node answers
 *     "allow ID" or "deny ID" on stdin (only a running container's published port is
 *     allowed). An allowed connection is connected to IP:PORT and spliced both ways: the
 *     connection itself, or the one it handed over with its head.
 *
 *   berth-relay api --listen SOCKET --gid GID --daemon SOCKET --translator SOCKET
 *     A distro's Docker API proxy, in front of Node: see wsl-proxy/native/api-front.c.
 *
 *   berth-relay outbound --netns PATH --port PORT --gateway IP
 *     The engine link's TCP path. Listens on PORT inside the network namespace PATH (the
 *     engine's), where Berth's rules REDIRECT the engine's outgoing TCP; reads each
 *     connection's original destination (SO_ORIGINAL_DST) and opens it from this process's
 *     own namespace (the host's), so host routes and VPNs apply. IP, the gateway that
 *     stands for the host, leads to the host's loopback. A connection that cannot be opened
 *     is reset, as a refused one would be. Prints "ready PORT"; ends on SIGTERM, not with
 *     stdin (the link outlives a killed backend, as slirp4netns does).
 *
 * Listen and forward end when stdin closes. Half-close passes through; backpressure is the pipes'.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter_ipv4.h>
#include <sched.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "relay-proto.h"
#include "../../wsl-proxy/native/api-front.h"

/* Bytes in flight per direction: a quarter MiB keeps the splices few without pinning much memory. */
#define PIPE_BYTES (256 << 10)
#define TARGET_WAIT_MS 5000
#define HEAD_MAX 256
#define LINE_MAX_BYTES 512

enum state { WAIT_HEAD, WAIT_VERDICT, WAIT_TARGET, CONNECTING, SPLICING };
enum kind { WATCH_CONTROL, WATCH_LISTENER, WATCH_CONN };

struct watch {
  enum kind kind;
  void *owner;
  int side;
};

struct listener {
  char key[KEY_MAX + 1];
  int fd;
  int has_target;
  struct relay_target target;
  struct watch watch;
  struct listener *next;
};

struct conn {
  int fd[2]; /* 0: the side that connected to us; 1: the side we connected to */
  int pipe[2][2]; /* pipe[d] carries bytes read from fd[d] to fd[!d] */
  size_t pending[2];
  int eof[2], shut[2];
  int pipe_full[2]; /* the pipe took no more (see conn_pump) */
  int registered[2];
  unsigned armed[2];
  enum state state;
  struct listener *listener; /* listen mode, until the target is known */
  unsigned id; /* forward mode: the question asked of Node */
  struct relay_target target;
  char head[HEAD_MAX];
  size_t head_len;
  int passed; /* forward mode: a connection handed over with the head, until it replaces fd[0] */
  long long deadline_ms;
  struct watch watch[2];
  int dead;
  struct conn *next, *prev;
};

static int epfd = -1;
static int forward_mode;
/* Outbound mode: connections come REDIRECTed; the gateway's stand for the host's loopback. */
static int outbound_mode;
static struct in_addr gateway;
static const char *forwarder_path;
/* Listen mode: hand accepted connections to the forwarder instead of relaying their bytes. */
static int pass_mode;
static struct listener *listeners;
static struct conn *conns;
static struct conn *graveyard;
static unsigned next_id = 1;

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void say(const char *fmt, const char *a, const char *b) {
  char line[LINE_MAX_BYTES];
  int n = snprintf(line, sizeof line, fmt, a, b);
  if (n > 0 && write(STDOUT_FILENO, line, (size_t)n) != n) _exit(1); /* Node went away */
}

static void note(const char *what, const char *detail) {
  fprintf(stderr, "berth-relay: %s: %s\n", what, detail);
}

static int nonblocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

static void watch_fd(int fd, struct watch *w, unsigned events, int *registered) {
  struct epoll_event ev = {.events = events, .data.ptr = w};
  if (epoll_ctl(epfd, *registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) == 0) *registered = 1;
}

/* A connection's side: changes its interest set only when it differs (one syscall saved per pump). */
static void watch_side(struct conn *c, int d, unsigned events) {
  if (c->registered[d] && c->armed[d] == events) return;
  watch_fd(c->fd[d], &c->watch[d], events, &c->registered[d]);
  c->armed[d] = events;
}

/*
 * Forward mode: targets Node allowed in the last second are allowed again without asking, the
 * same freshness Node's own check keeps (published-targets.ts), so a burst of connections to
 * one published port costs one question.
 */
#define ALLOWED_FRESH_MS 1000
#define ALLOWED_SLOTS 64
static struct {
  struct relay_target target;
  long long until_ms;
} allowed_recently[ALLOWED_SLOTS];

static int recently_allowed(const struct relay_target *t) {
  long long now = now_ms();
  for (int i = 0; i < ALLOWED_SLOTS; i++)
    if (allowed_recently[i].until_ms > now && memcmp(&allowed_recently[i].target, t, sizeof *t) == 0) return 1;
  return 0;
}

static void remember_allowed(const struct relay_target *t) {
  int oldest = 0;
  for (int i = 0; i < ALLOWED_SLOTS; i++) {
    if (memcmp(&allowed_recently[i].target, t, sizeof *t) == 0) {
      oldest = i;
      break;
    }
    if (allowed_recently[i].until_ms < allowed_recently[oldest].until_ms) oldest = i;
  }
  allowed_recently[oldest].target = *t;
  allowed_recently[oldest].until_ms = now_ms() + ALLOWED_FRESH_MS;
}

/* ---- connections ---- */

static struct conn *conn_new(int fd0) {
  struct conn *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->fd[0] = fd0;
  c->fd[1] = -1;
  c->passed = -1;
  for (int d = 0; d < 2; d++) {
    c->pipe[d][0] = c->pipe[d][1] = -1;
    c->watch[d] = (struct watch){WATCH_CONN, c, d};
  }
  c->next = conns;
  if (conns) conns->prev = c;
  conns = c;
  return c;
}

/*
 * Closes one side's socket. It leaves the epoll set first: closing does that only for the
 * last descriptor of a socket, and a connection handed to the forwarder lives on there.
 */
static void close_side(struct conn *c, int d) {
  if (c->fd[d] < 0) return;
  if (c->registered[d]) epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd[d], NULL);
  close(c->fd[d]);
  c->fd[d] = -1;
  c->registered[d] = 0;
  c->armed[d] = 0;
}

/*
 * Ends a connection: its descriptors close now (so it gets no new events), its memory goes
 * after the current batch of events, some of which may still point at it.
 */
static void conn_free(struct conn *c) {
  if (c->passed >= 0) close(c->passed);
  c->passed = -1;
  for (int d = 0; d < 2; d++) {
    close_side(c, d);
    for (int e = 0; e < 2; e++)
      if (c->pipe[d][e] >= 0) close(c->pipe[d][e]);
  }
  if (c->prev) c->prev->next = c->next;
  else conns = c->next;
  if (c->next) c->next->prev = c->prev;
  c->dead = 1;
  c->next = graveyard;
  graveyard = c;
}

static void bury_the_dead(void) {
  while (graveyard) {
    struct conn *c = graveyard;
    graveyard = c->next;
    free(c);
  }
}

/* The events each side waits for, from the connection's state. */
static void conn_rearm(struct conn *c) {
  for (int d = 0; d < 2; d++) {
    if (c->fd[d] < 0) continue;
    unsigned events = 0;
    if (c->state == WAIT_HEAD && d == 0) events = EPOLLIN;
    if (c->state == CONNECTING && d == 1) events = EPOLLOUT;
    if (c->state == SPLICING) {
      if (!c->eof[d] && !c->pipe_full[d] && c->pending[d] < PIPE_BYTES) events |= EPOLLIN;
      if (c->pending[!d] > 0) events |= EPOLLOUT;
    }
    watch_side(c, d, events);
  }
}

/* Moves what can move without blocking; frees the connection when both ways are done. */
static void conn_pump(struct conn *c) {
  for (int round = 0; round < 16; round++) {
    int moved = 0;
    for (int d = 0; d < 2; d++) {
      if (!c->eof[d] && !c->pipe_full[d] && c->pending[d] < PIPE_BYTES) {
        ssize_t n = splice(c->fd[d], NULL, c->pipe[d][1], NULL, PIPE_BYTES - c->pending[d], SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n > 0) c->pending[d] += (size_t)n, moved = 1;
        else if (n == 0) c->eof[d] = 1, moved = 1;
        else if (errno != EAGAIN) return conn_free(c);
        /*
         * With bytes in the pipe, EAGAIN means the pipe has no free slot (a slot can hold a
         * small fragment, so this comes before PIPE_BYTES): stop reading until it drains, or
         * the readable socket would wake us for nothing, over and over.
         */
        else if (c->pending[d] > 0) c->pipe_full[d] = 1;
      }
      if (c->pending[d] > 0) {
        ssize_t n = splice(c->pipe[d][0], NULL, c->fd[!d], NULL, c->pending[d], SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n > 0) c->pending[d] -= (size_t)n, c->pipe_full[d] = 0, moved = 1;
        else if (n < 0 && errno != EAGAIN) return conn_free(c);
      }
      if (c->eof[d] && c->pending[d] == 0 && !c->shut[d]) {
        shutdown(c->fd[!d], SHUT_WR);
        c->shut[d] = 1;
      }
    }
    if (c->shut[0] && c->shut[1]) return conn_free(c);
    if (!moved) break;
  }
  conn_rearm(c);
}

static void conn_start_splicing(struct conn *c) {
  for (int d = 0; d < 2; d++) {
    if (pipe2(c->pipe[d], O_CLOEXEC | O_NONBLOCK) < 0) return conn_free(c);
    fcntl(c->pipe[d][1], F_SETPIPE_SZ, PIPE_BYTES); /* a smaller pipe only means more rounds */
  }
  c->state = SPLICING;
  conn_pump(c);
}

/* Outbound mode: the destination could not be reached, so the engine's side sees a reset, as it would from the destination itself. */
static void conn_refuse(struct conn *c) {
  struct linger reset = {.l_onoff = 1, .l_linger = 0};
  setsockopt(c->fd[0], SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  conn_free(c);
}

/*
 * Outbound mode: where the engine meant to go. A connection made to the listener itself
 * (not REDIRECTed) has no other destination, and is refused rather than carried out.
 */
static int original_destination(int fd, struct relay_target *out) {
  struct sockaddr_in dst, self;
  socklen_t dst_len = sizeof dst, self_len = sizeof self;
  if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &dst, &dst_len) < 0 || getsockname(fd, (struct sockaddr *)&self, &self_len) < 0) return -1;
  if (dst.sin_addr.s_addr == self.sin_addr.s_addr && dst.sin_port == self.sin_port) return -1;
  if (dst.sin_addr.s_addr == gateway.s_addr) dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  out->family = AF_INET;
  memcpy(out->addr, &dst.sin_addr, 4);
  out->port = ntohs(dst.sin_port);
  return 0;
}

/* Sends buf with one descriptor attached (SCM_RIGHTS); the count sent, or -1. */
static ssize_t send_with_fd(int sock, const char *buf, size_t len, int fd) {
  union {
    char space[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof control);
  struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.space, .msg_controllen = sizeof control.space};
  struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cm), &fd, sizeof fd);
  return sendmsg(sock, &msg, MSG_NOSIGNAL);
}

/* Reads len bytes into buf, and the descriptor sent with them if any (-1 if none); the count, or -1. */
static ssize_t recv_with_fd(int sock, char *buf, size_t len, int *fd) {
  union {
    char space[CMSG_SPACE(sizeof(int) * 4)];
    struct cmsghdr align;
  } control;
  struct iovec iov = {.iov_base = buf, .iov_len = len};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.space, .msg_controllen = sizeof control.space};
  *fd = -1;
  ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int got;
      memcpy(&got, CMSG_DATA(cm) + i * sizeof(int), sizeof got);
      if (*fd < 0) *fd = got;
      else close(got); /* one connection per head: any more are not ours to keep */
    }
  }
  return n;
}

/* Opens the far side: the forwarder socket (listen mode) or the target (forward and outbound modes). */
static void conn_connect(struct conn *c) {
  struct sockaddr_storage addr;
  socklen_t len;
  if (forward_mode || outbound_mode) {
    len = relay_sockaddr(&c->target, &addr);
  } else {
    struct sockaddr_un *un = (struct sockaddr_un *)&addr;
    memset(un, 0, sizeof *un);
    un->sun_family = AF_UNIX;
    snprintf(un->sun_path, sizeof un->sun_path, "%s", forwarder_path);
    len = sizeof *un;
  }
  c->fd[1] = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd[1] < 0) return conn_free(c);
  if (connect(c->fd[1], (struct sockaddr *)&addr, len) < 0 && errno != EINPROGRESS) {
    if (outbound_mode) return conn_refuse(c);
    if (forward_mode) note("cannot connect to a published port's container", strerror(errno));
    else note("cannot reach the forwarder", strerror(errno));
    return conn_free(c);
  }
  c->state = CONNECTING;
  conn_rearm(c);
}

static void conn_connected(struct conn *c) {
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &err, &len);
  if (err && outbound_mode) return conn_refuse(c);
  if (err) {
    note(forward_mode ? "cannot connect to a published port's container" : "cannot reach the forwarder", strerror(err));
    return conn_free(c);
  }
  if (!forward_mode && !outbound_mode) {
    /* The head goes first; a fresh socket's buffer always takes these few bytes. */
    char head[HEAD_MAX];
    int n = relay_format_head(&c->target, head, sizeof head);
    if (n <= 0) return conn_free(c);
    if (pass_mode) {
      /* The connection goes with its head; once the forwarder has it, ours is only a copy. */
      if (send_with_fd(c->fd[1], head, (size_t)n, c->fd[0]) != n) note("cannot hand a connection to the forwarder", strerror(errno));
      return conn_free(c);
    }
    if (write(c->fd[1], head, (size_t)n) != n) return conn_free(c);
  }
  conn_start_splicing(c);
}

/* Forward mode: reads the head without reading past its newline (the rest is the payload). */
static void conn_read_head(struct conn *c) {
  char peek[HEAD_MAX];
  ssize_t n = recv(c->fd[0], peek, sizeof peek - c->head_len, MSG_PEEK);
  if (n <= 0) {
    if (n < 0 && errno == EAGAIN) return;
    return conn_free(c);
  }
  char *nl = memchr(peek, '\n', (size_t)n);
  size_t take = nl ? (size_t)(nl - peek) + 1 : (size_t)n;
  int handed = -1;
  ssize_t got = recv_with_fd(c->fd[0], c->head + c->head_len, take, &handed);
  if (handed >= 0) {
    if (c->passed >= 0) close(c->passed);
    c->passed = handed;
  }
  if (got != (ssize_t)take) return conn_free(c);
  c->head_len += take;
  if (!nl) {
    if (c->head_len >= HEAD_MAX - 1) return conn_free(c); /* no head is this long */
    return;
  }
  c->head[c->head_len - 1] = '\0';
  if (relay_parse_head(c->head, &c->target) != 0) {
    note("dropped a connection with a malformed head", "expected \"tcp IP PORT\"");
    return conn_free(c);
  }
  if (c->passed >= 0) {
    /* Handed over: the connection to carry is the one that came with the head. */
    if (nonblocking(c->passed) < 0) return conn_free(c);
    close_side(c, 0);
    c->fd[0] = c->passed;
    c->passed = -1;
  }
  if (recently_allowed(&c->target)) return conn_connect(c);
  c->id = next_id++;
  c->state = WAIT_VERDICT;
  conn_rearm(c);
  char id[16];
  snprintf(id, sizeof id, "%u", c->id);
  char where[RELAY_ADDR_TEXT];
  relay_format_target(&c->target, where, sizeof where);
  say("check %s %s\n", id, where);
}

/* ---- listeners (listen mode) ---- */

static struct listener *find_listener(const char *key) {
  for (struct listener *l = listeners; l; l = l->next)
    if (strcmp(l->key, key) == 0) return l;
  return NULL;
}

/* Every connection waiting on a listener, each set on its way. */
static void accept_all(struct listener *l) {
  for (;;) {
    int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    struct conn *c = conn_new(fd);
    if (!c) {
      close(fd);
      return;
    }
    if (forward_mode) {
      /* The forwarder's socket: the head names the target. */
      c->state = WAIT_HEAD;
      conn_rearm(c);
    } else if (outbound_mode) {
      if (original_destination(fd, &c->target) == 0) conn_connect(c);
      else conn_refuse(c);
    } else if (l->has_target) {
      c->target = l->target;
      conn_connect(c);
    } else {
      /* Claimed before its container runs: wait for the address rather than reset. */
      c->listener = l;
      c->state = WAIT_TARGET;
      c->deadline_ms = now_ms() + TARGET_WAIT_MS;
      conn_rearm(c);
    }
  }
}

static const char *errno_name(int e) {
  switch (e) {
    case EADDRINUSE: return "EADDRINUSE";
    case EACCES: return "EACCES";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EINVAL: return "EINVAL";
    default: return "EIO";
  }
}

static void command_listen(const struct relay_command *cmd) {
  if (find_listener(cmd->key)) return say("ok %s%s\n", cmd->key, "");
  struct sockaddr_storage addr;
  socklen_t len = relay_sockaddr(&cmd->target, &addr);
  int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd >= 0 && addr.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (fd < 0 || bind(fd, (struct sockaddr *)&addr, len) < 0 || listen(fd, 4096) < 0) {
    int e = errno;
    if (fd >= 0) close(fd);
    return say("error %s %s\n", cmd->key, errno_name(e));
  }
  struct listener *l = calloc(1, sizeof *l);
  if (!l) {
    close(fd);
    return say("error %s %s\n", cmd->key, "ENOMEM");
  }
  snprintf(l->key, sizeof l->key, "%s", cmd->key);
  l->fd = fd;
  l->watch = (struct watch){WATCH_LISTENER, l, 0};
  int registered = 0;
  watch_fd(fd, &l->watch, EPOLLIN, &registered);
  l->next = listeners;
  listeners = l;
  say("ok %s%s\n", cmd->key, "");
}

static void command_target(const struct relay_command *cmd) {
  struct listener *l = find_listener(cmd->key);
  if (!l) return say("error %s %s\n", cmd->key, "ENOENT");
  l->target = cmd->target;
  l->has_target = 1;
  for (struct conn *c = conns, *next; c; c = next) {
    next = c->next;
    if (c->state == WAIT_TARGET && c->listener == l) {
      c->listener = NULL;
      c->target = l->target;
      conn_connect(c);
    }
  }
  say("ok %s%s\n", cmd->key, "");
}

static void command_close(const struct relay_command *cmd) {
  struct listener **at = &listeners;
  while (*at && strcmp((*at)->key, cmd->key) != 0) at = &(*at)->next;
  struct listener *l = *at;
  if (l) {
    *at = l->next;
    close(l->fd);
    for (struct conn *c = conns, *next; c; c = next) {
      next = c->next;
      if (c->listener == l) conn_free(c); /* it never had a target: nothing was sent */
    }
    free(l);
  }
  say("ok %s%s\n", cmd->key, "");
}

static void verdict(const struct relay_command *cmd) {
  for (struct conn *c = conns; c; c = c->next) {
    if (c->state != WAIT_VERDICT || c->id != cmd->id) continue;
    if (cmd->op == OP_ALLOW) {
      remember_allowed(&c->target);
      conn_connect(c);
    } else {
      conn_free(c);
    }
    return;
  }
}

/* ---- control (stdin) ---- */

static char line[LINE_MAX_BYTES];
static size_t line_len;
static int line_too_long;

static void control_line(char *text) {
  struct relay_command cmd;
  if (relay_parse_command(text, &cmd) != 0) {
    note("ignored a malformed command", text);
    return say("error %s %s\n", "-", "EBADMSG");
  }
  switch (cmd.op) {
    case OP_LISTEN: if (!forward_mode) return command_listen(&cmd); break;
    case OP_TARGET: if (!forward_mode) return command_target(&cmd); break;
    case OP_CLOSE: if (!forward_mode) return command_close(&cmd); break;
    case OP_ALLOW:
    case OP_DENY: if (forward_mode) return verdict(&cmd); break;
  }
  say("error %s %s\n", "-", "EBADMSG");
}

/* Returns 0 once stdin has closed. */
static int control_read(void) {
  char buf[4096];
  ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
  if (n == 0) return 0;
  if (n < 0) return errno == EAGAIN || errno == EINTR;
  for (ssize_t i = 0; i < n; i++) {
    if (buf[i] == '\n') {
      line[line_len] = '\0';
      if (line_too_long) say("error %s %s\n", "-", "EMSGSIZE");
      else control_line(line);
      line_len = 0;
      line_too_long = 0;
    } else if (line_len + 1 < sizeof line) {
      line[line_len++] = buf[i];
    } else {
      line_too_long = 1;
    }
  }
  return 1;
}

static void expire_waiting(void) {
  long long now = now_ms();
  for (struct conn *c = conns, *next; c; c = next) {
    next = c->next;
    if (c->state == WAIT_TARGET && c->deadline_ms <= now) conn_free(c);
  }
}

static int serve_forwarder_socket(const char *path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  struct sockaddr_un un = {.sun_family = AF_UNIX};
  if (fd < 0 || strlen(path) >= sizeof un.sun_path) return -1;
  memcpy(un.sun_path, path, strlen(path));
  unlink(path); /* one left by a killed engine */
  /* Root only, whatever the umask: it opens connections inside the engine's namespace. */
  mode_t old = umask(0077);
  int r = bind(fd, (struct sockaddr *)&un, sizeof un);
  umask(old);
  if (r < 0 || chmod(path, 0600) < 0 || listen(fd, 4096) < 0) return -1;
  return fd;
}

/*
 * Outbound mode: the listener is made inside the engine's namespace; then this process
 * returns to its own, where every connection out is opened.
 */
static int listen_in_namespace(const char *netns_path, unsigned port) {
  int own = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  int engine = open(netns_path, O_RDONLY | O_CLOEXEC);
  int fd = -1, e = 0;
  if (own < 0 || engine < 0 || setns(engine, CLONE_NEWNET) < 0) {
    e = errno;
  } else {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in any = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port), .sin_addr.s_addr = htonl(INADDR_ANY)};
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 || bind(fd, (struct sockaddr *)&any, sizeof any) < 0 || listen(fd, 4096) < 0) {
      e = errno;
      if (fd >= 0) close(fd);
      fd = -1;
    }
    if (setns(own, CLONE_NEWNET) < 0) _exit(1); /* never open a connection out from inside the engine */
  }
  if (own >= 0) close(own);
  if (engine >= 0) close(engine);
  errno = e;
  return fd;
}

static int usage(void) {
  fprintf(stderr, "usage: berth-relay listen --forwarder SOCKET | berth-relay listen --pass-to SOCKET | berth-relay forward --socket SOCKET | berth-relay outbound --netns PATH --port PORT --gateway IP | berth-relay api --listen SOCKET --gid GID --daemon SOCKET --translator SOCKET\n");
  return 2;
}

/* "outbound --netns PATH --port PORT --gateway IP" (eight words, checked by main): the listener, or -1 (said on stderr). */
static int start_outbound(char **argv) {
  if (strcmp(argv[2], "--netns") != 0 || strcmp(argv[4], "--port") != 0 || strcmp(argv[6], "--gateway") != 0) return usage(), -1;
  char *end;
  unsigned long port = strtoul(argv[5], &end, 10);
  if (*end || port < 1 || port > 65535 || inet_pton(AF_INET, argv[7], &gateway) != 1) return usage(), -1;
  int fd = listen_in_namespace(argv[3], (unsigned)port);
  if (fd < 0) fprintf(stderr, "berth-relay: cannot listen on port %lu in %s: %s\n", port, argv[3], strerror(errno));
  return fd;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "api") == 0) return api_front_main(argc, argv);
  outbound_mode = argc > 1 && strcmp(argv[1], "outbound") == 0;
  if (argc != (outbound_mode ? 8 : 4)) return usage();
  signal(SIGPIPE, SIG_IGN);
  /* Six descriptors a connection (two sockets, two pipes): take all the process may have. */
  struct rlimit files;
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  forward_mode = strcmp(argv[1], "forward") == 0;
  pass_mode = !forward_mode && !outbound_mode && strcmp(argv[2], "--pass-to") == 0;
  if (!outbound_mode && (forward_mode ? strcmp(argv[2], "--socket") != 0 : strcmp(argv[1], "listen") != 0 || (strcmp(argv[2], "--forwarder") != 0 && !pass_mode))) return usage();
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) return perror("berth-relay"), 1;
  struct watch control = {WATCH_CONTROL, NULL, 0};
  int control_registered = 0;
  if (!outbound_mode) {
    if (nonblocking(STDIN_FILENO) < 0) return perror("berth-relay"), 1;
    watch_fd(STDIN_FILENO, &control, EPOLLIN, &control_registered);
  }
  struct listener forwarder = {.fd = -1};
  if (outbound_mode) {
    forwarder.fd = start_outbound(argv);
    if (forwarder.fd < 0) return 1;
    forwarder.watch = (struct watch){WATCH_LISTENER, &forwarder, 0};
    int registered = 0;
    watch_fd(forwarder.fd, &forwarder.watch, EPOLLIN, &registered);
    say("ready %s%s\n", argv[5], "");
  } else if (forward_mode) {
    forwarder.fd = serve_forwarder_socket(argv[3]);
    if (forwarder.fd < 0) return fprintf(stderr, "berth-relay: cannot listen on %s: %s\n", argv[3], strerror(errno)), 1;
    forwarder.watch = (struct watch){WATCH_LISTENER, &forwarder, 0};
    int registered = 0;
    watch_fd(forwarder.fd, &forwarder.watch, EPOLLIN, &registered);
    say("ready %s%s\n", argv[3], "");
  } else {
    forwarder_path = argv[3];
    if (strlen(forwarder_path) >= sizeof((struct sockaddr_un *)0)->sun_path) return usage();
  }
  struct epoll_event events[256];
  for (;;) {
    int waiting = 0;
    for (struct conn *c = conns; c && !waiting; c = c->next) waiting = c->state == WAIT_TARGET;
    int n = epoll_wait(epfd, events, 256, waiting ? 100 : -1);
    if (n < 0 && errno != EINTR) return perror("berth-relay: epoll_wait"), 1;
    for (int i = 0; i < n; i++) {
      struct watch *w = events[i].data.ptr;
      if (w->kind == WATCH_CONTROL) {
        if (!control_read()) return 0;
      } else if (w->kind == WATCH_LISTENER) {
        accept_all(w->owner);
      } else {
        struct conn *c = w->owner;
        if (c->dead) continue; /* ended earlier in this batch */
        if (c->state == WAIT_HEAD) conn_read_head(c);
        else if (c->state == CONNECTING) conn_connected(c);
        else if (c->state == SPLICING) conn_pump(c);
        else if (events[i].events & (EPOLLHUP | EPOLLERR)) conn_free(c);
      }
    }
    expire_waiting();
    bury_the_dead();
  }
}
