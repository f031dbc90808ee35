/*
 * berth-relay api: the native front of a distro's Docker API proxy.
 *
 *   berth-relay api --listen SOCKET --gid GID --daemon SOCKET --translator SOCKET
 *
 * Listens on SOCKET (root and group GID, mode 0660) in Node's place. Each connection is
 * read one request head at a time. A request that Berth passes on unchanged (see
 * http_passes_through) is sent to the daemon's socket, and its answer read back, by this
 * program alone, on a daemon connection kept for the client's connection. The first
 * request that Berth translates, checks or answers itself, and anything this program does
 * not parse with certainty, hands the connection over: from then on its bytes, starting
 * with those already read, are carried to the Node translator's SOCKET, which serves the
 * rest of the connection. So the Docker API is known in one place, Node; this program only
 * frames messages.
 *
 * Resource Saver: before a request goes to the daemon, "wake" on stdout asks Node to make
 * sure the engine runs (at most every 5 s); Node answers "awake" on stdin. Prints "ready"
 * once listening; ends when stdin closes. One thread per connection: the code reads as the
 * protocol does, and an idle connection costs a sleeping thread.
 */
#define _GNU_SOURCE
#include "api-front.h"
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "http-frame.h"

#define BUFFER_BYTES (256 << 10)
#define WAKE_EVERY_MS 5000
#define WAKE_WAIT_MS 15000

static const char *daemon_path, *translator_path;
static pthread_mutex_t wake_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake_done = PTHREAD_COND_INITIALIZER;
static long long woke_at_ms = -WAKE_EVERY_MS;
static unsigned long wake_generation;
static int wake_asked;

struct buffer {
  char *data;
  size_t len;
};

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Reads more into b (up to its size): the count, 0 at end of stream, -1 on error. */
static ssize_t fill(int fd, struct buffer *b) {
  if (b->len >= BUFFER_BYTES) return -1;
  for (;;) {
    ssize_t n = read(fd, b->data + b->len, BUFFER_BYTES - b->len);
    if (n < 0 && errno == EINTR) continue;
    if (n > 0) b->len += (size_t)n;
    return n;
  }
}

static void consume(struct buffer *b, size_t n) {
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
}

static int connect_unix(const char *path) {
  struct sockaddr_un un = {.sun_family = AF_UNIX};
  snprintf(un.sun_path, sizeof un.sun_path, "%s", path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && connect(fd, (struct sockaddr *)&un, sizeof un) == 0) return fd;
  if (fd >= 0) close(fd);
  return -1;
}

static void say(const char *line) {
  static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_lock(&lock);
  if (write_all(STDOUT_FILENO, line, strlen(line)) < 0) _exit(1); /* Node went away */
  pthread_mutex_unlock(&lock);
}

/* Resource Saver: a paused engine resumes before a request reaches it (Node asks the agent). */
static void wake_engine(void) {
  pthread_mutex_lock(&wake_lock);
  if (now_ms() - woke_at_ms >= WAKE_EVERY_MS) {
    unsigned long generation = wake_generation;
    if (!wake_asked) {
      wake_asked = 1;
      say("wake\n");
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += WAKE_WAIT_MS / 1000;
    /* Without an answer in time, the request goes on and gets the daemon's own (as Node's proxy does). */
    while (wake_generation == generation && pthread_cond_timedwait(&wake_done, &wake_lock, &until) == 0) {
    }
    if (wake_generation == generation) wake_asked = 0; /* unanswered: the next request asks again */
  }
  pthread_mutex_unlock(&wake_lock);
}

static void woke(void) {
  pthread_mutex_lock(&wake_lock);
  woke_at_ms = now_ms();
  wake_asked = 0;
  wake_generation++;
  pthread_cond_broadcast(&wake_done);
  pthread_mutex_unlock(&wake_lock);
}

/* Node's lines on stdin: "awake" is the only one; anything else is reported and ignored. */
static void *read_control(void *unused) {
  (void)unused;
  char buf[256], line[64];
  size_t len = 0;
  int too_long = 0;
  for (;;) {
    ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) _exit(0); /* the proxy ended: so does its front */
    for (ssize_t i = 0; i < n; i++) {
      if (buf[i] != '\n') {
        if (len + 1 < sizeof line) line[len++] = buf[i];
        else too_long = 1;
        continue;
      }
      line[len] = '\0';
      if (!too_long && strcmp(line, "awake") == 0) woke();
      else fprintf(stderr, "berth-relay api: ignored an unexpected control line\n");
      len = 0;
      too_long = 0;
    }
  }
}

/* ---- raw streams: a handed-over connection, or an upgrade ---- */

struct one_way {
  int from, to;
};

static void copy_until_end(int from, int to) {
  char *buf = malloc(BUFFER_BYTES);
  for (ssize_t n; buf;) {
    n = read(from, buf, BUFFER_BYTES);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || write_all(to, buf, (size_t)n) < 0) break;
  }
  free(buf);
  shutdown(to, SHUT_WR); /* half-close passes through */
}

static void *copy_back(void *arg) {
  struct one_way *w = arg;
  copy_until_end(w->from, w->to);
  return NULL;
}

/* Carries a and b both ways until both have ended, starting with b's bytes already read from a. */
static void carry_raw(int a, int b, struct buffer *pending) {
  if (pending->len && write_all(b, pending->data, pending->len) < 0) return;
  pending->len = 0;
  struct one_way back = {b, a};
  pthread_t t;
  if (pthread_create(&t, NULL, copy_back, &back) != 0) return;
  copy_until_end(a, b);
  pthread_join(t, NULL);
}

/* From here on the translator serves the connection: Node's HTTP server sees it as its own client. */
static void hand_over(int client, struct buffer *read_already) {
  int translator = connect_unix(translator_path);
  if (translator < 0) {
    fprintf(stderr, "berth-relay api: cannot reach the translator at %s: %s\n", translator_path, strerror(errno));
    return;
  }
  carry_raw(client, translator, read_already);
  close(translator);
}

/* ---- framed messages ---- */

/*
 * Moves one message from `from` to `to`: its head (the first `head` bytes of b, already
 * read) and its body, first what b holds after the head, then reads. The head goes out in
 * one write with the body's first bytes: a small answer costs its reader one wake-up, as it
 * would straight from the daemon. 0 once the message ended.
 */
static int move_message(int from, int to, struct buffer *b, size_t head, enum http_body kind, unsigned long long length) {
  if (kind == BODY_LENGTH) {
    for (;;) {
      size_t have = b->len - head, take = have < length ? have : (size_t)length;
      if (head + take && write_all(to, b->data, head + take) < 0) return -1;
      consume(b, head + take);
      head = 0;
      length -= take;
      if (length == 0) return 0;
      if (fill(from, b) <= 0) return -1; /* it left mid-body */
    }
  }
  if (kind == BODY_CHUNKED) {
    struct chunk_state s = {0};
    for (;;) {
      long long take = chunk_advance(&s, b->data + head, b->len - head);
      if (take < 0) return -1;
      if (head + (size_t)take && write_all(to, b->data, head + (size_t)take) < 0) return -1;
      consume(b, head + (size_t)take);
      head = 0;
      if (s.at == CH_DONE) return 0;
      if (fill(from, b) <= 0) return -1;
    }
  }
  if (kind == BODY_NONE) {
    if (head && write_all(to, b->data, head) < 0) return -1;
    consume(b, head);
    return 0;
  }
  /* Until the sender closes. */
  for (;;) {
    if (b->len && write_all(to, b->data, b->len) < 0) return -1;
    b->len = 0;
    ssize_t n = fill(from, b);
    if (n == 0) return 0;
    if (n < 0) return -1;
  }
}

enum outcome { NEXT_REQUEST, CLOSE, RETRY };

/*
 * The daemon's answer to one request, passed to the client. RETRY: a kept daemon connection
 * had been closed before it answered anything (the request can go again on a new one).
 */
static enum outcome answer(int client, int daemon, struct buffer *in_reply, int head_request, int reused) {
  struct http_head h;
  for (;;) {
    int r;
    while ((r = http_parse_response(in_reply->data, in_reply->len, &h)) == 0) {
      ssize_t n = fill(daemon, in_reply);
      if (n <= 0 && in_reply->len == 0 && reused) return RETRY;
      if (n <= 0) return CLOSE;
    }
    if (r < 0) {
      fprintf(stderr, "berth-relay api: the daemon sent an answer this front cannot frame; the connection ends\n");
      return CLOSE;
    }
    if (h.status >= 200 || h.status == 101) break;
    /* 1xx before the answer itself */
    if (write_all(client, in_reply->data, h.head_len) < 0) return CLOSE;
    consume(in_reply, h.head_len);
  }
  if (h.status == 101) {
    carry_raw(daemon, client, in_reply);
    return CLOSE;
  }
  enum http_body body = head_request ? BODY_NONE : h.body;
  if (move_message(daemon, client, in_reply, h.head_len, body, h.content_length) < 0) return CLOSE;
  if (body == BODY_UNTIL_CLOSE || h.close) return CLOSE;
  return NEXT_REQUEST;
}

struct session {
  int client, daemon;
  struct buffer in, reply;
};

static void end_session(struct session *s) {
  if (s->daemon >= 0) close(s->daemon);
  close(s->client);
  free(s->in.data);
  free(s->reply.data);
  free(s);
}

/* One request passed to the daemon and answered: 1 if the connection goes on, 0 if it ends, -1 if there is no daemon. */
static int pass_one(struct session *s, const struct http_head *req) {
  int head_request = req->method_len == 4 && memcmp(s->in.data + req->method_off, "HEAD", 4) == 0;
  for (int attempt = 0; attempt < 2; attempt++) {
    int reused = s->daemon >= 0;
    if (s->daemon < 0) s->daemon = connect_unix(daemon_path);
    if (s->daemon < 0) return -1;
    s->reply.len = 0;
    enum outcome o;
    if (req->body == BODY_NONE) {
      /* The head stays in `in` until answered, so that it can go again on a new connection. */
      o = write_all(s->daemon, s->in.data, req->head_len) < 0 ? (reused ? RETRY : CLOSE) : answer(s->client, s->daemon, &s->reply, head_request, reused);
      if (o != RETRY) consume(&s->in, req->head_len);
    } else {
      /* A body is sent once: such a request is never retried (its bytes are gone). */
      o = move_message(s->client, s->daemon, &s->in, req->head_len, req->body, req->content_length) < 0 ? CLOSE : answer(s->client, s->daemon, &s->reply, head_request, 0);
    }
    if (o == NEXT_REQUEST) {
      if (s->reply.len) { /* the daemon said more than it framed: not a connection to keep */
        close(s->daemon);
        s->daemon = -1;
      }
      return !req->close;
    }
    close(s->daemon);
    s->daemon = -1;
    if (o == CLOSE) return 0;
  }
  return 0;
}

static void *serve_connection(void *arg) {
  struct session *s = arg;
  s->in.data = malloc(BUFFER_BYTES);
  s->reply.data = malloc(BUFFER_BYTES);
  if (!s->in.data || !s->reply.data) return end_session(s), NULL;
  for (;;) {
    struct http_head req;
    int r;
    while ((r = http_parse_request(s->in.data, s->in.len, &req)) == 0)
      if (fill(s->client, &s->in) <= 0) return end_session(s), NULL;
    if (r < 0 || !http_passes_through(s->in.data, &req)) break;
    wake_engine();
    int goes_on = pass_one(s, &req);
    if (goes_on < 0) break; /* no daemon: the translator says so in its own words */
    if (!goes_on) return end_session(s), NULL;
  }
  if (s->daemon >= 0) close(s->daemon);
  s->daemon = -1;
  hand_over(s->client, &s->in);
  end_session(s);
  return NULL;
}

/* Root and the docker group only, whatever the umask: born 0600, then opened to the group. */
static int listen_socket(const char *path, gid_t gid) {
  struct sockaddr_un un = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof un.sun_path) return errno = ENAMETOOLONG, -1;
  memcpy(un.sun_path, path, strlen(path));
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  unlink(path);
  mode_t old = umask(0177);
  int r = bind(fd, (struct sockaddr *)&un, sizeof un);
  umask(old);
  if (r < 0 || chown(path, 0, gid) < 0 || chmod(path, 0660) < 0 || listen(fd, 4096) < 0) {
    int e = errno;
    close(fd);
    return errno = e, -1;
  }
  return fd;
}

static int usage(void) {
  fprintf(stderr, "usage: berth-relay api --listen SOCKET --gid GID --daemon SOCKET --translator SOCKET\n");
  return 2;
}

int api_front_main(int argc, char **argv) {
  if (argc != 10 || strcmp(argv[2], "--listen") != 0 || strcmp(argv[4], "--gid") != 0 || strcmp(argv[6], "--daemon") != 0 || strcmp(argv[8], "--translator") != 0) return usage();
  char *end;
  unsigned long gid = strtoul(argv[5], &end, 10);
  if (*end || end == argv[5] || gid > 0xfffffffful) return usage();
  daemon_path = argv[7];
  translator_path = argv[9];
  if (strlen(daemon_path) >= sizeof((struct sockaddr_un *)0)->sun_path || strlen(translator_path) >= sizeof((struct sockaddr_un *)0)->sun_path) return usage();
  signal(SIGPIPE, SIG_IGN);
  /* Buffers go back to the system when a connection ends, rather than staying in per-thread arenas. */
  mallopt(M_MMAP_THRESHOLD, 64 << 10);
  struct rlimit files;
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  int listener = listen_socket(argv[3], (gid_t)gid);
  if (listener < 0) return fprintf(stderr, "berth-relay api: cannot listen on %s: %s\n", argv[3], strerror(errno)), 1;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 << 10);
  pthread_t control;
  if (pthread_create(&control, &attr, read_control, NULL) != 0) return perror("berth-relay api"), 1;
  say("ready\n");
  for (;;) {
    int client = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (client < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOMEM || errno == ENOBUFS) {
        perror("berth-relay api: accept");
        usleep(50 * 1000); /* out of descriptors: connections end soon and free some */
        continue;
      }
      return perror("berth-relay api: accept"), 1;
    }
    struct session *s = calloc(1, sizeof *s);
    pthread_t t;
    if (!s) {
      close(client);
      continue;
    }
    s->client = client;
    s->daemon = -1;
    if (pthread_create(&t, &attr, serve_connection, s) != 0) {
      close(client);
      free(s);
    }
  }
}
