/*
 * kafkette-mock-cluster: runs librdkafka's mock cluster until told to stop, for test
 * scripts and binding tests that cannot link the C fixture.
 *
 *   kafkette-mock-cluster [--brokers N] [--topic name:partitions[:replication]]...
 *                         [--ignore-stdin]
 *
 * Prints the bootstrap list as one line on stdout, then runs until SIGINT/SIGTERM/SIGHUP
 * or until stdin reaches end-of-file, so a parent holding the write end of a pipe on our
 * stdin takes us down with it even if it dies without signalling. --ignore-stdin is for
 * shells that start background jobs with stdin on /dev/null.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mock_fixture.h"

#define MAX_TOPICS 64

typedef struct topic_spec {
    char *name; /* points into argv, cut at the first ':' */
    int partitions;
    int replication; /* 0: min(3, brokers) */
} topic_spec_t;

static void usage(FILE *out, const char *argv0) {
    fprintf(out,
            "usage: %s [--brokers N] [--topic name:partitions[:replication]]... "
            "[--ignore-stdin]\n"
            "Starts librdkafka's mock Kafka cluster (N brokers, default 3), prints its\n"
            "bootstrap list on stdout and runs until SIGINT/SIGTERM/SIGHUP or EOF on stdin.\n",
            argv0);
}

static bool parse_int(const char *s, int min, int max, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < min || v > max)
        return false;
    *out = (int)v;
    return true;
}

/* "name:partitions[:replication]", modified in place. */
static bool parse_topic(char *arg, topic_spec_t *spec) {
    char *colon = strchr(arg, ':');
    if (!colon || colon == arg)
        return false;
    *colon = '\0';
    spec->name = arg;
    char *parts = colon + 1;
    char *colon2 = strchr(parts, ':');
    spec->replication = 0;
    if (colon2) {
        *colon2 = '\0';
        if (!parse_int(colon2 + 1, 1, KK_MOCK_MAX_BROKERS, &spec->replication))
            return false;
    }
    return parse_int(parts, 1, 100000, &spec->partitions);
}

/* Returns when a stop signal is pending or stdin is at EOF (or fails). The signals are
 * blocked in every thread, so nothing but this loop ever sees them. */
static void wait_for_stop(const sigset_t *stop_signals, bool watch_stdin) {
    if (!watch_stdin) {
        int sig;
        while (sigwait(stop_signals, &sig) != 0) {
        }
        return;
    }
    const struct timespec no_wait = {0, 0};
    for (;;) {
        if (sigtimedwait(stop_signals, NULL, &no_wait) > 0)
            return;
        struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
        int n = poll(&pfd, 1, 100);
        if (n < 0 && errno != EINTR)
            return;
        if (n > 0) {
            if (pfd.revents & POLLNVAL)
                return;
            char buf[256];
            ssize_t r = read(STDIN_FILENO, buf, sizeof(buf));
            if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
                return;
        }
    }
}

int main(int argc, char **argv) {
    int brokers = 3;
    bool watch_stdin = true;
    topic_spec_t topics[MAX_TOPICS];
    int topic_count = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--brokers") == 0 && i + 1 < argc) {
            if (!parse_int(argv[++i], 1, KK_MOCK_MAX_BROKERS, &brokers)) {
                fprintf(stderr, "%s: --brokers wants 1..%d, got '%s'\n", argv[0],
                        KK_MOCK_MAX_BROKERS, argv[i]);
                return 2;
            }
        } else if (strcmp(a, "--topic") == 0 && i + 1 < argc) {
            if (topic_count == MAX_TOPICS) {
                fprintf(stderr, "%s: at most %d --topic options\n", argv[0], MAX_TOPICS);
                return 2;
            }
            char *spec = argv[++i];
            if (!parse_topic(spec, &topics[topic_count])) {
                fprintf(stderr, "%s: --topic wants name:partitions[:replication]\n", argv[0]);
                return 2;
            }
            topic_count++;
        } else if (strcmp(a, "--ignore-stdin") == 0) {
            watch_stdin = false;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout, argv[0]);
            return 0;
        } else {
            usage(stderr, argv[0]);
            return 2;
        }
    }

    /* Block before librdkafka starts its threads, which inherit the mask. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGHUP);
    int rc = pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    if (rc != 0) {
        fprintf(stderr, "%s: pthread_sigmask: %s\n", argv[0], strerror(rc));
        return 1;
    }
    /* A reader that went away must not kill us before we clean up. */
    signal(SIGPIPE, SIG_IGN);

    char errbuf[512];
    kk_mock_t *m = kk_mock_start(brokers, errbuf, sizeof(errbuf));
    if (!m) {
        fprintf(stderr, "%s: %s\n", argv[0], errbuf);
        return 1;
    }

    int status = 0;
    for (int i = 0; i < topic_count; i++) {
        int replication =
            topics[i].replication ? topics[i].replication : (brokers < 3 ? brokers : 3);
        int err = kk_mock_create_topic(m, topics[i].name, topics[i].partitions, replication);
        if (err) {
            fprintf(stderr, "%s: cannot create topic %s: %s\n", argv[0], topics[i].name,
                    rd_kafka_err2str((rd_kafka_resp_err_t)err));
            status = 1;
            break;
        }
    }

    if (status == 0) {
        if (printf("%s\n", kk_mock_bootstrap(m)) < 0 || fflush(stdout) != 0) {
            fprintf(stderr, "%s: cannot write to stdout\n", argv[0]);
            status = 1;
        } else {
            wait_for_stop(&stop_signals, watch_stdin);
        }
    }

    kk_mock_stop(m);
    return status;
}
