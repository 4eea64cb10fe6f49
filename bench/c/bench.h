/*
 * Shared by the C baselines: argument parsing, a monotonic clock, and the one-line result format
 * ("<ns per operation>\n" on stdout) that bench/run.js reads. Every baseline makes exactly the system
 * calls that the memseal side of its scenario asks for, and nothing else inside the timed loop.
 * Output: "<wall ns per op> <cpu ns per op>" (CPU time of the whole process, which a loaded machine
 * disturbs less than wall time), optionally followed by a check value.
 */
#ifndef MEMSEAL_BENCH_H
#define MEMSEAL_BENCH_H

#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t clock_ns(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The start of a timed loop: wall clock and process CPU time. */
struct stopwatch {
  uint64_t wall, cpu;
};

static inline struct stopwatch start(void) {
  struct stopwatch w = {clock_ns(CLOCK_MONOTONIC), clock_ns(CLOCK_PROCESS_CPUTIME_ID)};
  return w;
}

/* Dies with the failing call's name and errno: a baseline that silently measured failures would lie. */
#define CHECK(expr)                                                                    \
  do {                                                                                 \
    if ((long)(expr) < 0) {                                                            \
      fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #expr, strerror(errno)); \
      exit(2);                                                                         \
    }                                                                                  \
  } while (0)

static void* idle_thread(void* arg) {
  (void)arg;
  for (;;) pause();
  return NULL;
}

/*
 * argv: <iterations> [warm-up iterations] — the same counts the memseal side receives.
 * With MEMSEAL_BENCH_C_THREADS=n in the environment, n idle threads are started first. Node is always
 * multi-threaded, and the kernel takes a slower path for fd lookups (no fdget "light" fast path) and
 * TLB flushes in multi-threaded processes; this shows how much of a ratio is that and not memseal.
 */
static inline void parse_counts(int argc, char** argv, long* iterations, long* warmup) {
  const char* threads = getenv("MEMSEAL_BENCH_C_THREADS");
  for (long n = threads ? strtol(threads, NULL, 10) : 0; n > 0; n--) {
    pthread_t t;
    if (pthread_create(&t, NULL, idle_thread, NULL) != 0) exit(2);
  }
  if (argc < 2 || (*iterations = strtol(argv[1], NULL, 10)) <= 0) {
    fprintf(stderr, "usage: %s <iterations> [warm-up iterations]\n", argv[0]);
    exit(64);
  }
  *warmup = argc > 2 ? strtol(argv[2], NULL, 10) : 0;
}

/* Prints "<wall ns/op> <cpu ns/op>" without a newline, so a caller may append a check value. */
static inline void report_partial(struct stopwatch w, long iterations) {
  uint64_t wall = clock_ns(CLOCK_MONOTONIC) - w.wall, cpu = clock_ns(CLOCK_PROCESS_CPUTIME_ID) - w.cpu;
  printf("%.3f %.3f", (double)wall / (double)iterations, (double)cpu / (double)iterations);
}

static inline void report(struct stopwatch w, long iterations) {
  report_partial(w, iterations);
  printf("\n");
}

/*
 * The whole main() of a baseline whose operation needs no setup: `warm-up` untimed calls of once(), then
 * `iterations` timed ones, reported. Inlined with a constant `once`, the call is direct.
 */
static inline int time_ops(int argc, char** argv, void (*once)(void)) {
  long iterations, warmup;
  parse_counts(argc, argv, &iterations, &warmup);
  for (long i = 0; i < warmup; i++) once();
  struct stopwatch t0 = start();
  for (long i = 0; i < iterations; i++) once();
  report(t0, iterations);
  return 0;
}

#endif
