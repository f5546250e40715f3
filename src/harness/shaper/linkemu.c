/*
 * linkemu: a point-to-point link emulated in user space between two TUN devices, for kernels without netem.
 *
 * Every IP packet read from one device is delivered to the other after it has been serialised at the
 * direction's rate (behind the packets before it, counting `overhead` link-layer bytes per packet) and then
 * delayed by the one-way propagation delay; packets are dropped at random with the direction's loss rate, and
 * at the tail when the queue holds `limit` bytes. This is what netem's rate/delay/loss do, so the kernels' TCP
 * stacks at both ends see a real link.
 *
 * Usage: linkemu NS_A DEV_A NS_B DEV_B   (a namespace name, or "-" for the current namespace)
 * It creates the two TUN devices (each in its namespace), prints "ready", then reads commands on stdin:
 *   set RATE_AB RATE_BA DELAY_AB_US DELAY_BA_US LOSS_AB LOSS_BA OVERHEAD LIMIT SEED   (rates in bit/s, 0: unlimited)
 *   stats
 * answering "ok" or one JSON line. It exits when stdin closes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define SLOTS 16384
#define SLOT_BYTES 2048

typedef struct {
  uint16_t len;
  int64_t due_ns;
  unsigned char data[SLOT_BYTES];
} packet_t;

typedef struct {
  packet_t *ring;
  size_t head, count;
  int64_t link_free_ns;
  int64_t queued_bytes;
  double rate_bps, loss;
  int64_t delay_ns;
  uint64_t forwarded, dropped_loss, dropped_queue, bytes;
} direction_t;

static int64_t overhead = 0, limit_bytes = 16 << 20;
static uint64_t rng = 88172645463325252ULL;

static double uniform(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (rng >> 11) * (1.0 / 9007199254740992.0);
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what) {
  fprintf(stderr, "linkemu: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void enter_ns(const char *ns) {
  if (strcmp(ns, "-") == 0) return;
  char path[512];
  snprintf(path, sizeof path, "/var/run/netns/%s", ns);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die(path);
  if (setns(fd, CLONE_NEWNET) < 0) die("setns");
  close(fd);
}

static int open_tun(const char *ns, const char *dev) {
  enter_ns(ns);
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) die("/dev/net/tun");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  strncpy(ifr.ifr_name, dev, IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) die("TUNSETIFF");
  return fd;
}

static void enqueue(direction_t *d, const unsigned char *buf, ssize_t n, int64_t now) {
  if (d->loss > 0 && uniform() < d->loss) {
    d->dropped_loss++;
    return;
  }
  if (d->count == SLOTS || d->queued_bytes + n > limit_bytes) {
    d->dropped_queue++;
    return;
  }
  int64_t tx = d->rate_bps > 0 ? (int64_t)((double)(n + overhead) * 8e9 / d->rate_bps) : 0;
  int64_t start = d->link_free_ns > now ? d->link_free_ns : now;
  d->link_free_ns = start + tx;
  packet_t *p = &d->ring[(d->head + d->count) % SLOTS];
  p->len = (uint16_t)n;
  p->due_ns = d->link_free_ns + d->delay_ns;
  memcpy(p->data, buf, (size_t)n);
  d->count++;
  d->queued_bytes += n;
}

static void deliver(direction_t *d, int out, int64_t now) {
  while (d->count && d->ring[d->head].due_ns <= now) {
    packet_t *p = &d->ring[d->head];
    if (write(out, p->data, p->len) < 0 && errno != EAGAIN && errno != EIO) die("write");
    d->forwarded++;
    d->bytes += p->len;
    d->queued_bytes -= p->len;
    d->head = (d->head + 1) % SLOTS;
    d->count--;
  }
}

static void command(char *line, direction_t dir[2]) {
  double rate[2], loss[2];
  long long delay[2], ovh, lim;
  unsigned long long seed;
  if (sscanf(line, "set %lf %lf %lld %lld %lf %lf %lld %lld %llu", &rate[0], &rate[1], &delay[0], &delay[1], &loss[0], &loss[1], &ovh, &lim, &seed) == 9) {
    for (int i = 0; i < 2; i++) {
      dir[i].rate_bps = rate[i];
      dir[i].delay_ns = delay[i] * 1000;
      dir[i].loss = loss[i];
    }
    overhead = ovh;
    limit_bytes = lim;
    rng = seed ? seed : 88172645463325252ULL;
    printf("ok\n");
  } else if (strncmp(line, "stats", 5) == 0) {
    printf("{\"ab\":{\"packets\":%llu,\"bytes\":%llu,\"lost\":%llu,\"queueDrops\":%llu},\"ba\":{\"packets\":%llu,\"bytes\":%llu,\"lost\":%llu,\"queueDrops\":%llu}}\n",
           (unsigned long long)dir[0].forwarded, (unsigned long long)dir[0].bytes, (unsigned long long)dir[0].dropped_loss, (unsigned long long)dir[0].dropped_queue,
           (unsigned long long)dir[1].forwarded, (unsigned long long)dir[1].bytes, (unsigned long long)dir[1].dropped_loss, (unsigned long long)dir[1].dropped_queue);
  } else {
    printf("error unknown command\n");
  }
  fflush(stdout);
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: linkemu NS_A DEV_A NS_B DEV_B\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  prctl(PR_SET_TIMERSLACK, 1UL); /* wake up on time, not up to 50 us late */
  int fd[2];
  fd[0] = open_tun(argv[1], argv[2]);
  fd[1] = open_tun(argv[3], argv[4]);
  direction_t dir[2];
  memset(dir, 0, sizeof dir);
  for (int i = 0; i < 2; i++) {
    dir[i].ring = malloc(sizeof(packet_t) * SLOTS);
    if (!dir[i].ring) die("malloc");
  }
  printf("ready\n");
  fflush(stdout);
  char line[512];
  size_t line_len = 0;
  unsigned char buf[65536];
  struct pollfd pfd[3] = {{fd[0], POLLIN, 0}, {fd[1], POLLIN, 0}, {0, POLLIN, 0}};
  for (;;) {
    int64_t now = now_ns();
    deliver(&dir[0], fd[1], now);
    deliver(&dir[1], fd[0], now);
    int64_t next = -1;
    for (int i = 0; i < 2; i++)
      if (dir[i].count && (next < 0 || dir[i].ring[dir[i].head].due_ns < next)) next = dir[i].ring[dir[i].head].due_ns;
    struct timespec ts, *timeout = NULL;
    if (next >= 0) {
      int64_t wait = next - now_ns();
      if (wait < 0) wait = 0;
      ts.tv_sec = wait / 1000000000LL;
      ts.tv_nsec = wait % 1000000000LL;
      timeout = &ts;
    }
    if (ppoll(pfd, 3, timeout, NULL) < 0) {
      if (errno == EINTR) continue;
      die("ppoll");
    }
    for (int i = 0; i < 2; i++) {
      if (!(pfd[i].revents & POLLIN)) continue;
      for (;;) {
        ssize_t n = read(fd[i], buf, sizeof buf);
        if (n < 0) {
          if (errno == EAGAIN || errno == EINTR) break;
          die("read");
        }
        if (n > 0 && n <= SLOT_BYTES) enqueue(&dir[i], buf, n, now_ns());
      }
    }
    if (pfd[2].revents & (POLLIN | POLLHUP)) {
      ssize_t n = read(0, line + line_len, sizeof line - 1 - line_len);
      if (n <= 0) return 0;
      line_len += (size_t)n;
      line[line_len] = 0;
      char *nl;
      while ((nl = strchr(line, '\n'))) {
        *nl = 0;
        command(line, dir);
        size_t rest = line_len - (size_t)(nl + 1 - line);
        memmove(line, nl + 1, rest);
        line_len = rest;
        line[line_len] = 0;
      }
      if (line_len == sizeof line - 1) line_len = 0; /* a line too long: drop it */
    }
  }
}
