/*
 * Objects made before fork() and used in both processes at once, against the real broker: a
 * producer and a partition consumer that were already connected, and a group member. Without
 * fork handling parent and child would share TCP streams and read each other's responses
 * (correlation errors, malformed responses, lost messages).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <sys/wait.h>
#include <unistd.h>

#include "broker_env.h"
#include "kafkette.h"

enum { PER_PROCESS = 1000, BATCH = 50 };

/* Sends "<who>-<i>" for i in [0, PER_PROCESS) in batches; returns a failure text or NULL. */
static const char *send_all(kk_producer_t *p, const char *topic, const char *who, kk_error_t *err) {
    static char values[BATCH][32];
    kk_message_t msgs[BATCH];
    for (int base = 0; base < PER_PROCESS; base += BATCH) {
        for (int i = 0; i < BATCH; i++) {
            int n = snprintf(values[i], sizeof(values[i]), "%s-%d", who, base + i);
            msgs[i] = (kk_message_t){
                .topic = topic, .value = values[i], .value_len = (size_t)n, .partition = 0};
        }
        if (kk_producer_send(p, msgs, BATCH, err) != KK_OK)
            return err->message;
    }
    return NULL;
}

/* Reads from the start until both processes' messages are all there (or 60 s pass); each
 * value must be seen exactly once. Returns a failure text or NULL. */
static const char *read_all(kk_consumer_t *c, kk_error_t *err) {
    static char failure[256];
    static unsigned char seen[2][PER_PROCESS];
    memset(seen, 0, sizeof(seen));
    size_t total = 0;
    for (int round = 0; round < 600 && total < 2 * PER_PROCESS; round++) {
        kk_fetch_batch_t *batch;
        if (kk_consumer_fetch(c, NULL, &batch, err) != KK_OK)
            return err->message;
        for (size_t i = 0; i < batch->count; i++) {
            const kk_fetched_message_t *m = &batch->messages[i];
            char text[32];
            size_t n = m->value_len < sizeof(text) - 1 ? m->value_len : sizeof(text) - 1;
            memcpy(text, m->value, n);
            text[n] = '\0';
            int who = strncmp(text, "parent-", 7) == 0  ? 0
                      : strncmp(text, "child-", 6) == 0 ? 1
                                                        : -1;
            if (who < 0)
                continue; /* the warm-up message */
            int index = atoi(strchr(text, '-') + 1);
            if (index < 0 || index >= PER_PROCESS || seen[who][index]++) {
                snprintf(failure, sizeof(failure), "value %s seen twice or out of range", text);
                kk_fetch_batch_free(batch);
                return failure;
            }
            total++;
        }
        kk_fetch_batch_free(batch);
    }
    if (total != 2 * PER_PROCESS) {
        snprintf(failure, sizeof(failure), "read %zu of %d messages", total, 2 * PER_PROCESS);
        return failure;
    }
    return NULL;
}

static void test_producer_and_consumer_in_both_processes(void **state) {
    (void)state;
    const char *topic = kk_test_unique_topic("fork");
    kk_test_create_topic(topic, 1);
    kk_error_t err;

    kk_producer_config_t pc;
    kk_producer_config_init(&pc);
    pc.client.bootstrap_servers = kk_test_bootstrap();
    kk_producer_t *p = kk_producer_new(&pc, &err);
    assert_non_null(p);
    kk_message_t warm = {.topic = topic, .value = "warm-up", .value_len = 7, .partition = 0};
    assert_int_equal(kk_producer_send(p, &warm, 1, &err), KK_OK);

    kk_consumer_config_t cc;
    kk_consumer_config_init(&cc);
    cc.client.bootstrap_servers = kk_test_bootstrap();
    cc.topic = topic;
    cc.max_wait_ms = 100;
    kk_consumer_t *c = kk_consumer_new(&cc, &err);
    assert_non_null(c);
    kk_fetch_batch_t *batch;
    assert_int_equal(kk_consumer_fetch(c, NULL, &batch, &err), KK_OK); /* connected now */
    kk_fetch_batch_free(batch);
    /* the child reads from the start too */
    kk_consumer_free(c);
    c = kk_consumer_new(&cc, &err);
    assert_int_equal(kk_consumer_connect(c, &err), KK_OK);

    fflush(NULL);
    pid_t child = fork();
    assert_true(child >= 0);
    const char *failure = send_all(p, topic, child == 0 ? "child" : "parent", &err);
    if (!failure)
        failure = read_all(c, &err);
    if (child == 0) {
        if (failure)
            fprintf(stderr, "child: %s\n", failure);
        kk_consumer_free(c);
        kk_producer_free(p);
        _exit(failure ? 1 : 0);
    }
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    if (failure)
        fail_msg("parent: %s", failure);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* and the parent's objects still work afterwards */
    assert_int_equal(kk_producer_send(p, &warm, 1, &err), KK_OK);
    kk_consumer_free(c);
    kk_producer_free(p);
}

static kk_group_t *new_member(const char *group_id, const char *const *topics) {
    kk_group_config_t cfg;
    kk_group_config_init(&cfg);
    cfg.client.bootstrap_servers = kk_test_bootstrap();
    cfg.group_id = group_id;
    cfg.topics = topics;
    cfg.topic_count = 1;
    cfg.session_timeout_ms = 6000;
    cfg.rebalance_timeout_ms = 10000;
    cfg.auto_commit_interval_ms = 0;
    kk_error_t err;
    kk_group_t *g = kk_group_new(&cfg, &err);
    if (!g)
        fail_msg("group: %s", err.message);
    return g;
}

/* A member that joined before fork() joins again as a new member in the child, and the parent
 * stays the member it was. */
static void test_group_member_in_the_child_is_a_new_member(void **state) {
    (void)state;
    const char *topic = kk_test_unique_topic("fork-group");
    kk_test_create_topic(topic, 2);
    const char *topics[] = {topic};
    char group_id[128];
    snprintf(group_id, sizeof(group_id), "%s-g", topic);
    kk_group_t *g = new_member(group_id, topics);
    kk_error_t err;
    assert_int_equal(kk_group_join(g, 30000, &err), KK_OK);
    char parent_id[256];
    snprintf(parent_id, sizeof(parent_id), "%s", kk_group_member_id(g));
    assert_true(parent_id[0] != '\0');

    int pipe_fds[2];
    assert_int_equal(pipe(pipe_fds), 0);
    fflush(NULL);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(pipe_fds[0]);
        /* poll until this process is a member of its own, then report the member id */
        int rc = KK_OK;
        for (int i = 0; i < 60 && rc == KK_OK; i++) {
            kk_fetch_batch_t *batch = NULL;
            rc = kk_group_poll(g, 500, &batch, NULL, &err);
            kk_fetch_batch_free(batch);
            if (rc == KK_OK && kk_group_generation(g) >= 0 && kk_group_member_id(g)[0])
                break;
        }
        char line[300];
        int n = snprintf(line, sizeof(line), "%d %s\n", rc,
                         rc == KK_OK ? kk_group_member_id(g) : err.message);
        ssize_t ignored = write(pipe_fds[1], line, (size_t)n);
        (void)ignored;
        /* stay a member while the parent rebalances with us */
        for (int i = 0; i < 20; i++) {
            kk_fetch_batch_t *batch = NULL;
            kk_group_poll(g, 500, &batch, NULL, &err);
            kk_fetch_batch_free(batch);
        }
        kk_group_close(g, &err);
        kk_group_free(g);
        _exit(rc == KK_OK ? 0 : 1);
    }
    close(pipe_fds[1]);
    /* the parent keeps polling meanwhile, so it rejoins when the child joins */
    char line[300] = "";
    size_t got = 0;
    for (int i = 0; i < 120 && !memchr(line, '\n', got); i++) {
        kk_fetch_batch_t *batch = NULL;
        int rc = kk_group_poll(g, 250, &batch, NULL, &err);
        kk_fetch_batch_free(batch);
        if (rc != KK_OK)
            fail_msg("parent poll: %s", err.message);
        struct timeval tv = {0, 0};
        fd_set fds;
        FD_ZERO(&fds);
        FD_SET(pipe_fds[0], &fds);
        if (select(pipe_fds[0] + 1, &fds, NULL, NULL, &tv) > 0) {
            ssize_t n = read(pipe_fds[0], line + got, sizeof(line) - 1 - got);
            if (n > 0)
                got += (size_t)n;
            line[got] = '\0';
        }
    }
    int child_rc = -1;
    char child_id[280] = "";
    if (sscanf(line, "%d %279s", &child_rc, child_id) != 2)
        fail_msg("no answer from the child (%s)", line);
    assert_int_equal(child_rc, KK_OK);
    assert_string_not_equal(child_id, parent_id);
    assert_string_equal(kk_group_member_id(g), parent_id); /* the parent kept its membership */
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    close(pipe_fds[0]);
    assert_int_equal(kk_group_close(g, &err), KK_OK);
    kk_group_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_producer_and_consumer_in_both_processes),
        cmocka_unit_test(test_group_member_in_the_child_is_a_new_member),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
