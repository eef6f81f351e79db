/* Consumer groups against the real broker: three member processes share six partitions and
 * survive one being killed; restarts resume at the committed offset; auto-commit; a partition
 * count change; a kcat (librdkafka) member in the same group; bad input. The session timeout is
 * the broker's minimum (6 s, group.min.session.timeout.ms) to keep this quick. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker_env.h"
#include "kafkette.h"

enum { SESSION_MS = 6000, HEARTBEAT_MS = 1000, PARTS = 6, MAX_OFFSETS = 256 };

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static kk_client_t *admin_client(void) {
    kk_client_config_t cfg;
    kk_client_config_init(&cfg);
    cfg.bootstrap_servers = kk_test_bootstrap();
    kk_error_t err;
    kk_client_t *c = kk_client_new(&cfg, &err);
    assert_non_null(c);
    return c;
}

static void create_topic(const char *topic, int partitions) {
    kk_client_t *client = admin_client();
    kk_error_t err;
    int64_t deadline = now_ms() + 20000;
    int rc;
    /* right after a deletion the name may still be taken for a moment */
    while ((rc = kk_client_create_topic(client, topic, partitions, 1, NULL, 0, 20000, &err)) ==
               36 &&
           now_ms() < deadline)
        sleep_ms(200);
    if (rc != KK_OK)
        fail_msg("create %s: %s", topic, err.message);
    kk_client_free(client);
}

/* Produces `count` records "p<partition>-<offset>" to each of `partitions` partitions, one
 * batch per partition; the topic must hold exactly `first` records per partition before. */
static void produce(const char *topic, int partitions, int first, int count) {
    kk_producer_config_t cfg;
    kk_producer_config_init(&cfg);
    cfg.client.bootstrap_servers = kk_test_bootstrap();
    kk_error_t err;
    kk_producer_t *p = kk_producer_new(&cfg, &err);
    assert_non_null(p);
    kk_message_t *msgs = calloc((size_t)count, sizeof(*msgs));
    char (*values)[32] = calloc((size_t)count, sizeof(*values));
    assert_true(msgs && values);
    for (int part = 0; part < partitions; part++) {
        for (int i = 0; i < count; i++) {
            snprintf(values[i], sizeof(values[i]), "p%d-%d", part, first + i);
            msgs[i] = (kk_message_t){.topic = topic,
                                     .value = values[i],
                                     .value_len = strlen(values[i]),
                                     .partition = part};
        }
        if (kk_producer_send(p, msgs, (size_t)count, &err) != KK_OK)
            fail_msg("produce: %s", err.message);
        assert_int_equal(msgs[0].offset, first);
    }
    free(msgs);
    free(values);
    kk_producer_free(p);
}

static void init_config(kk_group_config_t *cfg, const char *group, const char *const *topics,
                        size_t n) {
    kk_group_config_init(cfg);
    cfg->client.bootstrap_servers = kk_test_bootstrap();
    cfg->group_id = group;
    cfg->topics = topics;
    cfg->topic_count = n;
    cfg->session_timeout_ms = SESSION_MS;
    cfg->heartbeat_interval_ms = HEARTBEAT_MS;
    cfg->rebalance_timeout_ms = 10000;
    cfg->max_wait_ms = 100;
    cfg->auto_commit_interval_ms = 0; /* these tests commit by hand unless they say otherwise */
}

static kk_group_t *new_group(const char *group, const char *topic) {
    const char *topics[] = {topic};
    kk_group_config_t cfg;
    init_config(&cfg, group, topics, 1);
    kk_error_t err;
    kk_group_t *g = kk_group_new(&cfg, &err);
    if (!g)
        fail_msg("kk_group_new: %s", err.message);
    return g;
}

/* ---- member processes ------------------------------------------------------------------- */

/* A member process logs what it does, one line per event (each write is atomic):
 *   C <generation> <partition>...   its claims changed
 *   B <partition> <first> <last>     poll returned these offsets (values checked)
 *   k <partition> <offset>           about to commit
 *   K <partition> <offset>           committed
 *   N <partition>                    commit rejected: the partition was lost in a rebalance
 *   X <text>                         an error; the process exits with status 1 */
static void logf_fd(int fd, const char *fmt, ...) {
    char line[600];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (n > (int)sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    if (write(fd, line, (size_t)n) != n)
        _exit(3);
}

static void run_member(const char *group, const char *topic, const char *log_path,
                       const char *stop_path) {
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0)
        _exit(2);
    const char *topics[] = {topic};
    kk_group_config_t cfg;
    init_config(&cfg, group, topics, 1);
    kk_error_t err;
    kk_group_t *g = kk_group_new(&cfg, &err);
    if (!g) {
        logf_fd(fd, "X new: %s", err.message);
        _exit(1);
    }
    int32_t last_gen = -2;
    char last_claims[256] = "?";
    while (access(stop_path, F_OK) != 0) {
        kk_fetch_batch_t *b = NULL;
        kk_topic_partition_t tp;
        int rc = kk_group_poll(g, 200, &b, &tp, &err);
        if (rc != KK_OK) {
            logf_fd(fd, "X poll: %d %s", rc, err.message);
            _exit(1);
        }
        kk_topic_partition_t claimed[PARTS];
        size_t n = kk_group_claimed(g, claimed, PARTS);
        char claims[256] = "";
        for (size_t i = 0; i < n && i < PARTS; i++)
            snprintf(claims + strlen(claims), sizeof(claims) - strlen(claims), " %d",
                     (int)claimed[i].partition);
        if (kk_group_generation(g) != last_gen || strcmp(claims, last_claims) != 0) {
            last_gen = kk_group_generation(g);
            strcpy(last_claims, claims);
            logf_fd(fd, "C %d%s", (int)last_gen, claims);
        }
        if (!b)
            continue;
        for (size_t i = 0; i < b->count; i++) {
            char expected[32];
            snprintf(expected, sizeof(expected), "p%d-%lld", (int)tp.partition,
                     (long long)b->messages[i].offset);
            if (b->messages[i].value_len != strlen(expected) ||
                memcmp(b->messages[i].value, expected, strlen(expected)) != 0) {
                logf_fd(fd, "X bad value at %d/%lld", (int)tp.partition,
                        (long long)b->messages[i].offset);
                _exit(1);
            }
        }
        int64_t next = b->messages[b->count - 1].offset + 1;
        logf_fd(fd, "B %d %lld %lld", (int)tp.partition, (long long)b->messages[0].offset,
                (long long)next - 1);
        kk_fetch_batch_free(b);
        logf_fd(fd, "k %d %lld", (int)tp.partition, (long long)next);
        rc = kk_group_commit(g, tp.topic, tp.partition, next, &err);
        if (rc == KK_OK)
            logf_fd(fd, "K %d %lld", (int)tp.partition, (long long)next);
        else if (rc == KK_ERR_NOT_ASSIGNED)
            logf_fd(fd, "N %d", (int)tp.partition);
        else {
            logf_fd(fd, "X commit: %d %s", rc, err.message);
            _exit(1);
        }
    }
    int rc = kk_group_close(g, &err);
    if (rc != KK_OK)
        logf_fd(fd, "X close: %s", err.message);
    kk_group_free(g);
    _exit(rc == KK_OK ? 0 : 1);
}

/* What the parent reads back from one member's log. */
typedef struct member_view {
    pid_t pid;
    char log_path[256];
    int32_t generation;       /* from the last C line */
    unsigned claims;          /* bitmask of partitions, from the last C line */
    int64_t committed[PARTS]; /* last K */
    int64_t intent[PARTS];    /* last k */
    char error[512];          /* an X line */
} member_view_t;

static bool consumed[PARTS][MAX_OFFSETS];

/* Re-reads a member's log from `from` (a byte offset); returns the size read up to. B lines
 * mark the consumed offsets; first_after[p] gets the smallest first offset of a B line for p
 * at or after `mark` (when mark >= 0). */
static long read_view(member_view_t *m, long mark, int64_t *first_after) {
    FILE *f = fopen(m->log_path, "r");
    if (!f)
        return 0;
    char line[600];
    m->claims = 0;
    m->generation = -2;
    for (int p = 0; p < PARTS; p++)
        m->committed[p] = m->intent[p] = -1;
    long pos = 0;
    while (fgets(line, sizeof(line), f)) {
        long line_pos = pos;
        pos += (long)strlen(line);
        int p, gen, nread;
        long long a, b;
        if (line[0] == 'C' && sscanf(line, "C %d%n", &gen, &nread) == 1) {
            m->generation = gen;
            m->claims = 0;
            const char *s = line + nread;
            while (sscanf(s, " %d%n", &p, &nread) == 1) {
                if (p >= 0 && p < PARTS)
                    m->claims |= 1u << p;
                s += nread;
            }
        } else if (sscanf(line, "B %d %lld %lld", &p, &a, &b) == 3 && p >= 0 && p < PARTS) {
            for (long long o = a; o <= b && o < MAX_OFFSETS; o++)
                consumed[p][o] = true;
            if (mark >= 0 && line_pos >= mark && first_after &&
                (first_after[p] < 0 || a < first_after[p]))
                first_after[p] = a;
        } else if (sscanf(line, "K %d %lld", &p, &a) == 2 && p >= 0 && p < PARTS) {
            m->committed[p] = a;
        } else if (sscanf(line, "k %d %lld", &p, &a) == 2 && p >= 0 && p < PARTS) {
            m->intent[p] = a;
        } else if (line[0] == 'X') {
            snprintf(m->error, sizeof(m->error), "%.*s", (int)sizeof(m->error) - 1, line);
        }
    }
    fclose(f);
    return pos;
}

static void stop_members(member_view_t *members, int n) {
    for (int i = 0; i < n; i++)
        if (members[i].pid > 0) {
            kill(members[i].pid, SIGKILL);
            waitpid(members[i].pid, NULL, 0);
            members[i].pid = 0;
        }
}

#define MEMBER_FAIL(members, n, ...)                                                               \
    do {                                                                                           \
        stop_members(members, n);                                                                  \
        fail_msg(__VA_ARGS__);                                                                     \
    } while (0)

static bool all_consumed(int upto) {
    for (int p = 0; p < PARTS; p++)
        for (int o = 0; o < upto; o++)
            if (!consumed[p][o])
                return false;
    return true;
}

static void refresh(member_view_t *members, int n) {
    memset(consumed, 0, sizeof(consumed));
    for (int i = 0; i < n; i++) {
        read_view(&members[i], -1, NULL);
        if (members[i].error[0])
            MEMBER_FAIL(members, n, "member %d: %s", i, members[i].error);
    }
}

static int popcount(unsigned v) {
    int n = 0;
    for (; v; v &= v - 1)
        n++;
    return n;
}

static void test_three_members_survive_a_kill(void **state) {
    (void)state;
    const char *topic = kk_test_unique_topic("group-six");
    const char *group = kk_test_unique_topic("g-six");
    create_topic(topic, PARTS);
    produce(topic, PARTS, 0, 50);

    char dir[] = "/tmp/kafkette-group-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char stop_path[300];
    snprintf(stop_path, sizeof(stop_path), "%s/stop", dir);
    member_view_t members[3];
    memset(members, 0, sizeof(members));
    for (int i = 0; i < 3; i++) {
        snprintf(members[i].log_path, sizeof(members[i].log_path), "%s/member-%d.log", dir, i);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            run_member(group, topic, members[i].log_path, stop_path);
        members[i].pid = pid;
    }

    /* every member claims two partitions, all six are claimed, everything is consumed and
     * committed */
    int64_t start = now_ms();
    for (;;) {
        refresh(members, 3);
        bool split =
            members[0].generation >= 0 && members[0].generation == members[1].generation &&
            members[1].generation == members[2].generation &&
            (members[0].claims | members[1].claims | members[2].claims) == (1u << PARTS) - 1;
        for (int i = 0; i < 3; i++)
            split = split && popcount(members[i].claims) == 2;
        bool committed = true;
        for (int p = 0; p < PARTS; p++) {
            int64_t best = -1;
            for (int i = 0; i < 3; i++)
                if (members[i].committed[p] > best)
                    best = members[i].committed[p];
            committed = committed && best == 50;
        }
        if (split && committed && all_consumed(50))
            break;
        if (now_ms() - start > 40000)
            MEMBER_FAIL(members, 3,
                        "no 2-2-2 split with everything committed after 40 s (claims %x %x %x)",
                        members[0].claims, members[1].claims, members[2].claims);
        sleep_ms(100);
    }
    print_message("three members split the partitions 2-2-2 after %lld ms\n",
                  (long long)(now_ms() - start));
    unsigned killed_claims = members[0].claims;

    /* more records; member 0 is killed as soon as it has taken some of them */
    produce(topic, PARTS, 50, 50);
    start = now_ms();
    for (;;) {
        refresh(members, 3);
        bool took = false;
        for (int p = 0; p < PARTS; p++)
            took = took || (killed_claims & (1u << p) && members[0].intent[p] > 50);
        if (took)
            break;
        if (now_ms() - start > 10000)
            MEMBER_FAIL(members, 3, "member 0 did not consume the new records");
        sleep_ms(5);
    }
    kill(members[0].pid, SIGKILL);
    int64_t killed_at = now_ms();
    waitpid(members[0].pid, NULL, 0);
    members[0].pid = 0;
    long marks[3] = {0, 0, 0};
    for (int i = 1; i < 3; i++)
        marks[i] = read_view(&members[i], -1, NULL);
    produce(topic, PARTS, 100, 50);

    /* the survivors own all six within the session timeout (plus the rebalance) */
    for (;;) {
        refresh(members, 3);
        if (members[1].generation == members[2].generation &&
            (members[1].claims | members[2].claims) == (1u << PARTS) - 1 &&
            (members[1].claims & members[2].claims) == 0)
            break;
        if (now_ms() - killed_at > 30000)
            MEMBER_FAIL(members, 3, "the survivors did not take over within 30 s (claims %x %x)",
                        members[1].claims, members[2].claims);
        sleep_ms(50);
    }
    int64_t takeover_ms = now_ms() - killed_at;
    print_message("survivors own all partitions %lld ms after the kill\n", (long long)takeover_ms);
    if (takeover_ms > SESSION_MS + 6000)
        MEMBER_FAIL(members, 3, "takeover took %lld ms, more than the session timeout + 6 s",
                    (long long)takeover_ms);

    /* at least once: every record consumed by somebody */
    start = now_ms();
    while (refresh(members, 3), !all_consumed(150)) {
        if (now_ms() - start > 20000)
            MEMBER_FAIL(members, 3, "not every record was consumed");
        sleep_ms(100);
    }
    /* the killed member's partitions resume exactly at its last commit: it was either the
     * last commit it logged or the one it was about to make when it died */
    int64_t first_after[PARTS];
    for (int p = 0; p < PARTS; p++)
        first_after[p] = -1;
    for (int i = 1; i < 3; i++)
        read_view(&members[i], marks[i], first_after);
    read_view(&members[0], -1, NULL);
    for (int p = 0; p < PARTS; p++) {
        if (!(killed_claims & (1u << p)))
            continue;
        int64_t k = members[0].committed[p], intent = members[0].intent[p];
        if (first_after[p] != k && first_after[p] != intent)
            MEMBER_FAIL(members, 3,
                        "partition %d resumed at %lld; the killed member committed %lld (or %lld)",
                        p, (long long)first_after[p], (long long)k, (long long)intent);
    }

    /* the survivors leave cleanly */
    int fd = open(stop_path, O_WRONLY | O_CREAT, 0644);
    assert_true(fd >= 0);
    close(fd);
    for (int i = 1; i < 3; i++) {
        int status = 0;
        int64_t until = now_ms() + 20000;
        pid_t r;
        while ((r = waitpid(members[i].pid, &status, WNOHANG)) == 0 && now_ms() < until)
            sleep_ms(50);
        if (r != members[i].pid)
            MEMBER_FAIL(members, 3, "member %d did not exit", i);
        members[i].pid = 0;
        refresh(members, 3);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            MEMBER_FAIL(members, 3, "member %d exited with status %d", i, status);
    }
    if (!getenv("KAFKETTE_KEEP_GROUP_LOGS")) {
        for (int i = 0; i < 3; i++)
            unlink(members[i].log_path);
        unlink(stop_path);
        rmdir(dir);
    }
}

/* ---- in-process members ----------------------------------------------------------------- */

/* Polls until a batch arrives (or fails the test after timeout_ms). */
static kk_fetch_batch_t *poll_batch(kk_group_t *g, kk_topic_partition_t *tp, int timeout_ms) {
    int64_t until = now_ms() + timeout_ms;
    while (now_ms() < until) {
        kk_fetch_batch_t *b = NULL;
        kk_error_t err;
        if (kk_group_poll(g, 500, &b, tp, &err) != KK_OK)
            fail_msg("poll: %s", err.message);
        if (b)
            return b;
    }
    fail_msg("no batch within %d ms", timeout_ms);
    return NULL;
}

static int64_t committed(kk_group_t *g, const char *topic, int32_t partition) {
    int64_t offset = -2;
    kk_error_t err;
    if (kk_group_committed(g, topic, partition, &offset, &err) != KK_OK)
        fail_msg("committed: %s", err.message);
    return offset;
}

static void test_restart_resumes_at_commit(void **state) {
    (void)state;
    const char *topic = kk_test_unique_topic("group-resume");
    const char *group = kk_test_unique_topic("g-resume");
    create_topic(topic, 1);
    produce(topic, 1, 0, 20);
    kk_error_t err;

    kk_group_t *a = new_group(group, topic);
    assert_int_equal(committed(a, topic, 0), -1);
    kk_topic_partition_t tp;
    kk_fetch_batch_t *b = poll_batch(a, &tp, 20000);
    assert_string_equal(tp.topic, topic);
    assert_int_equal(tp.partition, 0);
    assert_int_equal(b->messages[0].offset, 0);
    kk_fetch_batch_free(b);
    /* "processing" for longer than the session timeout without polling: the heartbeat thread
     * keeps the membership, so the commit is accepted and no rebalance follows */
    int32_t generation = kk_group_generation(a);
    sleep_ms(SESSION_MS + 1500);
    assert_int_equal(kk_group_commit(a, topic, 0, 7, &err), KK_OK);
    b = NULL;
    assert_int_equal(kk_group_poll(a, 100, &b, &tp, &err), KK_OK);
    kk_fetch_batch_free(b);
    assert_int_equal(kk_group_generation(a), generation);
    assert_int_equal(committed(a, topic, 0), 7);
    /* never backwards */
    assert_int_equal(kk_group_commit(a, topic, 0, 5, &err), KK_OK);
    assert_int_equal(committed(a, topic, 0), 7);
    /* partitions this member does not own */
    assert_int_equal(kk_group_commit(a, topic, 1, 3, &err), KK_ERR_NOT_ASSIGNED);
    assert_non_null(strstr(err.message, "not claimed"));
    assert_int_equal(kk_group_commit(a, "some-other-topic", 0, 3, &err), KK_ERR_NOT_ASSIGNED);
    assert_int_equal(kk_group_commit(a, topic, 0, -1, &err), KK_ERR_INVALID_ARG);
    assert_int_equal(kk_group_close(a, &err), KK_OK);
    assert_int_equal(kk_group_commit(a, topic, 0, 9, &err), KK_ERR_STATE);
    kk_group_free(a);

    /* a new member of the same group starts where the last one committed */
    kk_group_t *c = new_group(group, topic);
    b = poll_batch(c, &tp, 20000);
    assert_int_equal(b->messages[0].offset, 7);
    assert_int_equal(b->messages[b->count - 1].offset, 19);
    kk_fetch_batch_free(b);
    assert_int_equal(committed(c, topic, 0), 7); /* nothing committed without being asked */
    assert_int_equal(kk_group_commit_consumed(c, &err), KK_OK);
    assert_int_equal(committed(c, topic, 0), 20);
    assert_int_equal(kk_group_close(c, &err), KK_OK);
    kk_group_free(c);
}

typedef struct assign_log {
    int64_t assigned_at;
    int assigns, revokes;
    size_t last_count;
} assign_log_t;

static void on_assign(void *opaque, const kk_topic_partition_t *parts, size_t n) {
    (void)parts;
    assign_log_t *log = opaque;
    log->assigned_at = now_ms();
    log->assigns++;
    log->last_count = n;
}

static void on_revoke(void *opaque, const kk_topic_partition_t *parts, size_t n) {
    (void)parts;
    (void)n;
    assign_log_t *log = opaque;
    log->revokes++;
}

static void test_auto_commit_on_interval(void **state) {
    (void)state;
    const char *topic = kk_test_unique_topic("group-auto");
    const char *group = kk_test_unique_topic("g-auto");
    create_topic(topic, 1);
    produce(topic, 1, 0, 20);
    const char *topics[] = {topic};
    kk_group_config_t cfg;
    init_config(&cfg, group, topics, 1);
    cfg.auto_commit_interval_ms = 1500;
    assign_log_t log = {0};
    cfg.on_assign = on_assign;
    cfg.on_revoke = on_revoke;
    cfg.rebalance_opaque = &log;
    kk_error_t err;
    kk_group_t *g = kk_group_new(&cfg, &err);
    assert_non_null(g);
    kk_topic_partition_t tp;
    kk_fetch_batch_t *b = poll_batch(g, &tp, 20000);
    assert_int_equal(log.assigns, 1);
    assert_int_equal(log.last_count, 1);
    assert_int_equal(b->count, 20);
    kk_fetch_batch_free(b);
    if (now_ms() - log.assigned_at < 1000)
        assert_int_equal(committed(g, topic, 0), -1); /* not yet: the interval has not passed */
    int64_t until = now_ms() + 6000;
    while (committed(g, topic, 0) != 20) {
        if (now_ms() > until)
            fail_msg("auto-commit did not happen within 6 s");
        b = NULL;
        assert_int_equal(kk_group_poll(g, 200, &b, &tp, &err), KK_OK);
        assert_null(b);
    }
    int64_t after = now_ms() - log.assigned_at;
    print_message("auto-commit landed %lld ms after the assignment\n", (long long)after);
    assert_true(after >= 1400);
    /* close commits what was consumed since (nothing here) and calls on_revoke */
    assert_int_equal(kk_group_close(g, &err), KK_OK);
    assert_int_equal(log.revokes, 1);
    kk_group_free(g);
}

static void test_partition_count_change_rebalances(void **state) {
    (void)state;
    const char *topic = kk_test_unique_topic("group-grow");
    const char *group = kk_test_unique_topic("g-grow");
    create_topic(topic, 2);
    const char *topics[] = {topic};
    kk_group_config_t cfg;
    init_config(&cfg, group, topics, 1);
    cfg.metadata_refresh_interval_ms = 500;
    kk_error_t err;
    kk_group_t *g = kk_group_new(&cfg, &err);
    assert_non_null(g);
    assert_int_equal(kk_group_join(g, 20000, &err), KK_OK);
    assert_int_equal(kk_group_claimed(g, NULL, 0), 2);
    int32_t generation = kk_group_generation(g);

    kk_client_t *admin = admin_client();
    assert_int_equal(kk_client_delete_topic(admin, topic, 20000, &err), KK_OK);
    kk_client_free(admin);
    create_topic(topic, 4);
    produce(topic, 4, 0, 1);
    int64_t until = now_ms() + 30000;
    while (kk_group_claimed(g, NULL, 0) != 4) {
        if (now_ms() > until)
            fail_msg("still %zu partitions claimed 30 s after the topic grew",
                     kk_group_claimed(g, NULL, 0));
        kk_fetch_batch_t *b = NULL;
        kk_topic_partition_t tp;
        if (kk_group_poll(g, 200, &b, &tp, &err) != KK_OK)
            fail_msg("poll: %s", err.message);
        kk_fetch_batch_free(b);
    }
    assert_true(kk_group_generation(g) > generation);
    assert_int_equal(kk_group_close(g, &err), KK_OK);
    kk_group_free(g);
}

/* The non-flexible versions on the real broker: the oldest it accepts, and the ones before
 * MEMBER_ID_REQUIRED and before batched LeaveGroup. */
static void test_old_versions(void **state) {
    (void)state;
    static const int16_t caps[][7] = {
        /* FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch */
        {0, 2, 0, 0, 0, 2, 1},
        {2, 4, 3, 3, 3, 7, 5},
    };
    static const int apis[7] = {KK_API_FIND_COORDINATOR, KK_API_JOIN_GROUP,  KK_API_SYNC_GROUP,
                                KK_API_HEARTBEAT,        KK_API_LEAVE_GROUP, KK_API_OFFSET_COMMIT,
                                KK_API_OFFSET_FETCH};
    const char *topic = kk_test_unique_topic("group-old");
    create_topic(topic, 2);
    produce(topic, 2, 0, 10);
    for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
        const char *topics[] = {topic};
        kk_group_config_t cfg;
        init_config(&cfg, kk_test_unique_topic("g-old"), topics, 1);
        for (int i = 0; i < 7; i++)
            cfg.client.max_api_version[apis[i]] = caps[c][i];
        kk_error_t err;
        kk_group_t *g = kk_group_new(&cfg, &err);
        assert_non_null(g);
        int got = 0;
        int64_t until = now_ms() + 20000;
        while (got < 20 && now_ms() < until) {
            kk_topic_partition_t tp;
            kk_fetch_batch_t *b = NULL;
            if (kk_group_poll(g, 200, &b, &tp, &err) != KK_OK)
                fail_msg("caps %zu: poll: %s", c, err.message);
            got += b ? (int)b->count : 0;
            kk_fetch_batch_free(b);
        }
        assert_int_equal(got, 20);
        assert_int_equal(kk_group_claimed(g, NULL, 0), 2);
        for (int i = 0; i < 7; i++) /* the caps were in force */
            assert_int_equal(kk_client_api_version(kk_group_client(g), apis[i]), caps[c][i]);
        assert_int_equal(kk_group_commit_consumed(g, &err), KK_OK);
        assert_int_equal(committed(g, topic, 1), 10);
        assert_int_equal(kk_group_close(g, &err), KK_OK);
        kk_group_free(g);
    }
}

/* on_revoke is the last chance to commit: a commit made there is accepted. */
typedef struct revoke_commit {
    kk_group_t *group;
    int calls;
    int rc;
} revoke_commit_t;

static void commit_on_revoke(void *opaque, const kk_topic_partition_t *parts, size_t n) {
    (void)parts;
    (void)n;
    revoke_commit_t *rc = opaque;
    kk_error_t err;
    rc->calls++;
    rc->rc = kk_group_commit_consumed(rc->group, &err);
    if (rc->rc != KK_OK)
        print_message("commit in on_revoke: %s\n", err.message);
}

typedef struct joiner {
    const char *group, *topic;
    int rc;
    size_t claimed;
} joiner_t;

static void *join_second_member(void *arg) {
    joiner_t *j = arg;
    const char *topics[] = {j->topic};
    kk_group_config_t cfg;
    init_config(&cfg, j->group, topics, 1);
    kk_error_t err;
    kk_group_t *g = kk_group_new(&cfg, &err);
    j->rc = g ? kk_group_join(g, 20000, &err) : err.code;
    j->claimed = g ? kk_group_claimed(g, NULL, 0) : 0;
    kk_group_free(g); /* without leaving: the first member will not need to rejoin in time */
    return NULL;
}

static void test_commit_in_on_revoke(void **state) {
    (void)state;
    const char *topic = kk_test_unique_topic("group-revoke");
    const char *group = kk_test_unique_topic("g-revoke");
    create_topic(topic, 2);
    produce(topic, 2, 0, 10);
    const char *topics[] = {topic};
    kk_group_config_t cfg;
    init_config(&cfg, group, topics, 1);
    revoke_commit_t rev = {NULL, 0, -999};
    cfg.on_revoke = commit_on_revoke;
    cfg.rebalance_opaque = &rev;
    kk_error_t err;
    kk_group_t *g = kk_group_new(&cfg, &err);
    assert_non_null(g);
    rev.group = g;
    int got = 0;
    int64_t until = now_ms() + 20000;
    while (got < 20 && now_ms() < until) {
        kk_topic_partition_t tp;
        kk_fetch_batch_t *b = NULL;
        assert_int_equal(kk_group_poll(g, 200, &b, &tp, &err), KK_OK);
        got += b ? (int)b->count : 0;
        kk_fetch_batch_free(b);
    }
    assert_int_equal(got, 20);
    assert_int_equal(committed(g, topic, 0), -1);

    pthread_t thread;
    joiner_t j = {group, topic, -999, 0};
    assert_int_equal(pthread_create(&thread, NULL, join_second_member, &j), 0);
    until = now_ms() + 20000;
    while (kk_group_claimed(g, NULL, 0) != 1 && now_ms() < until) {
        kk_topic_partition_t tp;
        kk_fetch_batch_t *b = NULL;
        assert_int_equal(kk_group_poll(g, 200, &b, &tp, NULL), KK_OK); /* err is optional */
        kk_fetch_batch_free(b);
    }
    pthread_join(thread, NULL);
    assert_int_equal(j.rc, KK_OK);
    assert_int_equal(j.claimed, 1);
    assert_int_equal(kk_group_claimed(g, NULL, 0), 1);
    assert_int_equal(rev.calls, 1);
    assert_int_equal(rev.rc, KK_OK);
    assert_int_equal(committed(g, topic, 0), 10);
    assert_int_equal(committed(g, topic, 1), 10);
    assert_int_equal(kk_group_close(g, &err), KK_OK);
    assert_int_equal(rev.calls, 2);
    kk_group_free(g);
}

/* ---- a librdkafka member (kcat) ------------------------------------------------------- */

static pid_t start_kcat(const char *group, const char *topic) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 1);
        dup2(null, 2);
        execlp("kcat", "kcat", "-b", kk_test_bootstrap(), "-q", "-X", "session.timeout.ms=6000",
               "-X", "heartbeat.interval.ms=1000", "-X", "partition.assignment.strategy=range",
               "-G", group, topic, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void stop_kcat(pid_t pid) {
    kill(pid, SIGTERM); /* kcat closes its consumer: it leaves the group */
    int64_t until = now_ms() + 10000;
    while (waitpid(pid, NULL, WNOHANG) == 0) {
        if (now_ms() > until) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            return;
        }
        sleep_ms(50);
    }
}

/* Polls until this member claims `want` partitions; returns the claim bitmask. */
static unsigned poll_until_claims(kk_group_t *g, size_t want, int timeout_ms, pid_t kcat) {
    int64_t until = now_ms() + timeout_ms;
    for (;;) {
        kk_fetch_batch_t *b = NULL;
        kk_topic_partition_t tp;
        kk_error_t err;
        if (kk_group_poll(g, 200, &b, &tp, &err) != KK_OK) {
            if (kcat > 0)
                stop_kcat(kcat);
            fail_msg("poll: %s", err.message);
        }
        kk_fetch_batch_free(b);
        kk_topic_partition_t claimed[PARTS];
        size_t n = kk_group_claimed(g, claimed, PARTS);
        if (n == want) {
            unsigned mask = 0;
            for (size_t i = 0; i < n; i++)
                mask |= 1u << claimed[i].partition;
            return mask;
        }
        if (now_ms() > until) {
            if (kcat > 0)
                stop_kcat(kcat);
            fail_msg("claimed %zu partitions, not %zu, after %d ms", n, want, timeout_ms);
        }
    }
}

static void test_shares_a_group_with_kcat(void **state) {
    (void)state;
    const char *topic = kk_test_unique_topic("group-kcat");
    const char *group = kk_test_unique_topic("g-kcat");
    create_topic(topic, PARTS);
    produce(topic, PARTS, 0, 5);
    kk_error_t err;

    /* we lead: our range assignment must be one librdkafka accepts */
    kk_group_t *g = new_group(group, topic);
    assert_int_equal(kk_group_join(g, 20000, &err), KK_OK);
    assert_int_equal(kk_group_claimed(g, NULL, 0), PARTS);
    assert_true(kk_group_is_leader(g));
    pid_t kcat = start_kcat(group, topic);
    unsigned mine = poll_until_claims(g, 3, 30000, kcat);
    assert_true(mine == 0x07 || mine == 0x38); /* range: one half each */
    assert_true(kk_group_is_leader(g));
    stop_kcat(kcat);
    poll_until_claims(g, PARTS, 30000, 0);
    assert_int_equal(kk_group_close(g, &err), KK_OK);
    kk_group_free(g);

    /* librdkafka leads: its assignment must decode here */
    kcat = start_kcat(group, topic);
    sleep_ms(3000); /* let it join alone first */
    g = new_group(group, topic);
    mine = poll_until_claims(g, 3, 30000, kcat);
    assert_true(mine == 0x07 || mine == 0x38);
    assert_false(kk_group_is_leader(g));
    stop_kcat(kcat);
    poll_until_claims(g, PARTS, 30000, 0);
    assert_int_equal(kk_group_close(g, &err), KK_OK);
    kk_group_free(g);
}

/* ---- bad input -------------------------------------------------------------------------- */

static void test_bad_input(void **state) {
    (void)state;
    const char *topics[] = {"t"};
    kk_group_config_t cfg;
    kk_error_t err;
    init_config(&cfg, "", topics, 1);
    assert_null(kk_group_new(&cfg, &err));
    assert_int_equal(err.code, KK_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "group id"));
    init_config(&cfg, NULL, topics, 1);
    assert_null(kk_group_new(&cfg, &err));
    assert_int_equal(err.code, KK_ERR_INVALID_ARG);
    init_config(&cfg, "g", topics, 0);
    assert_null(kk_group_new(&cfg, &err));
    assert_int_equal(err.code, KK_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "topic list is empty"));
    const char *empty_name[] = {""};
    init_config(&cfg, "g", empty_name, 1);
    assert_null(kk_group_new(&cfg, &err));
    assert_int_equal(err.code, KK_ERR_INVALID_ARG);
    init_config(&cfg, "g", topics, 1);
    cfg.assignor = "sticky";
    assert_null(kk_group_new(&cfg, &err));
    assert_int_equal(err.code, KK_ERR_INVALID_ARG);
    assert_string_equal(err.message,
                        "option 'assignor' takes one of 'range', 'roundrobin', not 'sticky'");
    init_config(&cfg, "g", topics, 1);
    cfg.heartbeat_interval_ms = cfg.session_timeout_ms;
    assert_null(kk_group_new(&cfg, &err));
    assert_int_equal(err.code, KK_ERR_INVALID_ARG);
    init_config(&cfg, "g", topics, 1);
    cfg.start_when_no_commit = KK_RESET_ERROR;
    assert_null(kk_group_new(&cfg, &err));
    assert_int_equal(err.code, KK_ERR_INVALID_ARG);

    /* topics that do not exist: named in the error, and not created */
    const char *existing = kk_test_unique_topic("group-exists");
    create_topic(existing, 1);
    char missing1[160], missing2[160];
    snprintf(missing1, sizeof(missing1), "%s-missing-a", existing);
    snprintf(missing2, sizeof(missing2), "%s-missing-b", existing);
    const char *mixed[] = {missing1, existing, missing2};
    init_config(&cfg, kk_test_unique_topic("g-missing"), mixed, 3);
    kk_group_t *g = kk_group_new(&cfg, &err);
    assert_non_null(g);
    kk_fetch_batch_t *b = NULL;
    assert_int_equal(kk_group_poll(g, 1000, &b, NULL, &err), 3);
    assert_null(b);
    assert_non_null(strstr(err.message, missing1));
    assert_non_null(strstr(err.message, missing2));
    assert_non_null(strstr(err.message, "2 subscribed topic(s) do not exist"));
    assert_int_equal(kk_group_claimed(g, NULL, 0), 0);
    assert_int_equal(kk_group_close(g, &err), KK_OK);
    assert_int_equal(kk_group_poll(g, 0, &b, NULL, &err), KK_ERR_STATE);
    kk_group_free(g);
    kk_client_t *admin = admin_client();
    kk_metadata_t *md = NULL;
    const char *check[] = {missing1};
    assert_int_equal(kk_client_metadata(admin, check, 1, &md, &err), KK_OK);
    const kk_topic_info_t *t = kk_metadata_topic(md, missing1);
    assert_true(!t || t->error_code == 3);
    kk_metadata_free(md);
    kk_client_free(admin);
}

int main(void) {
    printf("broker: %s\n", kk_test_bootstrap());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_restart_resumes_at_commit),
        cmocka_unit_test(test_auto_commit_on_interval),
        cmocka_unit_test(test_partition_count_change_rebalances),
        cmocka_unit_test(test_commit_in_on_revoke),
        cmocka_unit_test(test_old_versions),
        cmocka_unit_test(test_shares_a_group_with_kcat),
        cmocka_unit_test(test_three_members_survive_a_kill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
