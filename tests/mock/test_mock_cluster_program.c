/*
 * kafkette-mock-cluster as a test script would use it: spawned with pipes on stdin and
 * stdout, its bootstrap line read back, then stopped by EOF on stdin or by a signal.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "raw_wire.h"

#ifndef KK_MOCK_CLUSTER_PROGRAM
#error "KK_MOCK_CLUSTER_PROGRAM must name the kafkette-mock-cluster binary"
#endif

typedef struct child {
    pid_t pid;
    int stdin_w; /* -1 once closed */
    int stdout_r;
} child_t;

/* argv without the program name, NULL-terminated. quiet: stderr to /dev/null. */
static child_t spawn_ex(const char *const *args, bool quiet) {
    int in[2], out[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    const char *argv[16] = {KK_MOCK_CLUSTER_PROGRAM};
    for (int i = 0; args[i]; i++) {
        assert_true(i + 2 < 16);
        argv[i + 1] = args[i];
    }
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(in[0], STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        if (quiet) {
            int devnull = open("/dev/null", O_WRONLY);
            if (devnull < 0 || dup2(devnull, STDERR_FILENO) < 0)
                _exit(126);
            close(devnull);
        }
        execv(KK_MOCK_CLUSTER_PROGRAM, (char *const *)argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    return (child_t){.pid = pid, .stdin_w = in[1], .stdout_r = out[0]};
}

static child_t spawn(const char *const *args) { return spawn_ex(args, false); }

/* Reads stdout up to the first newline (10 s limit); returns the line without it. */
static void read_line(const child_t *c, char *buf, size_t cap) {
    size_t n = 0;
    for (;;) {
        struct pollfd pfd = {.fd = c->stdout_r, .events = POLLIN};
        assert_int_equal(poll(&pfd, 1, 10000), 1);
        assert_true(n + 1 < cap);
        ssize_t r = read(c->stdout_r, buf + n, 1);
        assert_int_equal(r, 1);
        if (buf[n] == '\n') {
            buf[n] = '\0';
            return;
        }
        n++;
    }
}

/* Waits up to 10 s for the child to exit; returns its wait status, or -1 on timeout
 * (after killing it). */
static int wait_exit(child_t *c) {
    for (int i = 0; i < 1000; i++) {
        int status;
        pid_t r = waitpid(c->pid, &status, WNOHANG);
        assert_true(r >= 0);
        if (r == c->pid) {
            if (c->stdin_w >= 0)
                close(c->stdin_w);
            close(c->stdout_r);
            return status;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(c->pid, SIGKILL);
    waitpid(c->pid, NULL, 0);
    return -1;
}

static bool still_running_after_ms(const child_t *c, long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    return waitpid(c->pid, NULL, WNOHANG) == 0;
}

static int count_entries(const char *list) {
    int n = 1;
    for (const char *p = list; *p; p++)
        n += *p == ',';
    return n;
}

static const raw_topic_t *find_topic(const raw_metadata_t *md, const char *name) {
    for (int i = 0; i < md->topic_count; i++)
        if (strcmp(md->topics[i].name, name) == 0)
            return &md->topics[i];
    fail_msg("topic %s missing", name);
    return NULL;
}

static void test_serves_topics_and_stops_on_stdin_eof(void **state) {
    (void)state;
    const char *args[] = {"--brokers", "2", "--topic", "alpha:3", "--topic", "beta:1:1", NULL};
    child_t c = spawn(args);
    char line[512];
    read_line(&c, line, sizeof(line));
    assert_int_equal(count_entries(line), 2);

    char first[64];
    size_t len = strcspn(line, ",");
    assert_true(len < sizeof(first));
    memcpy(first, line, len);
    first[len] = '\0';

    int fd = raw_connect(first);
    assert_true(fd >= 0);
    raw_metadata_t md;
    assert_int_equal(raw_metadata_v1(fd, NULL, &md), 0);
    assert_false(md.malformed);
    assert_int_equal(md.broker_count, 2);
    assert_int_equal(md.topic_count, 2);
    assert_int_equal(find_topic(&md, "alpha")->partition_count, 3);
    assert_int_equal(find_topic(&md, "beta")->partition_count, 1);
    close(fd);

    assert_true(still_running_after_ms(&c, 200));
    close(c.stdin_w);
    c.stdin_w = -1;
    int status = wait_exit(&c);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* Gone for real: nothing listens on its port any more. */
    assert_int_equal(raw_connect(first), RAW_ERR_CONNECT);
}

static void test_stops_on_sigterm(void **state) {
    (void)state;
    const char *args[] = {NULL};
    child_t c = spawn(args);
    char line[512];
    read_line(&c, line, sizeof(line));
    assert_int_equal(count_entries(line), 3); /* default broker count */

    assert_int_equal(kill(c.pid, SIGTERM), 0);
    int status = wait_exit(&c);
    assert_true(WIFEXITED(status)); /* a clean exit, not death by the signal */
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_ignore_stdin_waits_for_sigint(void **state) {
    (void)state;
    const char *args[] = {"--brokers", "1", "--ignore-stdin", NULL};
    child_t c = spawn(args);
    close(c.stdin_w);
    c.stdin_w = -1;
    char line[512];
    read_line(&c, line, sizeof(line));
    assert_int_equal(count_entries(line), 1);
    assert_true(still_running_after_ms(&c, 300));

    assert_int_equal(kill(c.pid, SIGINT), 0);
    int status = wait_exit(&c);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void expect_exit_code(const char *const *args, int code) {
    child_t c = spawn_ex(args, true);
    int status = wait_exit(&c);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), code);
}

static void expect_usage_error(const char *const *args) { expect_exit_code(args, 2); }

static void test_rejects_bad_arguments(void **state) {
    (void)state;
    expect_usage_error((const char *const[]){"--brokers", "0", NULL});
    expect_usage_error((const char *const[]){"--brokers", "x", NULL});
    expect_usage_error((const char *const[]){"--topic", "nopartitions", NULL});
    expect_usage_error((const char *const[]){"--topic", "t:0", NULL});
    expect_usage_error((const char *const[]){"--bogus", NULL});
    /* Parses, but the fixture refuses more replicas than brokers. */
    expect_exit_code((const char *const[]){"--brokers", "1", "--topic", "t:1:2", NULL}, 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serves_topics_and_stops_on_stdin_eof),
        cmocka_unit_test(test_stops_on_sigterm),
        cmocka_unit_test(test_ignore_stdin_waits_for_sigint),
        cmocka_unit_test(test_rejects_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
