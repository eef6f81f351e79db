/*
 * The consumer group member: find the coordinator, join (the leader runs the assignor), sync,
 * start each claimed partition at its committed offset with one partition consumer, commit,
 * rejoin when the coordinator asks, leave.
 *
 * Two threads: the caller's, which does everything above, and a heartbeat thread per member
 * that only keeps the session alive. The heartbeat thread has its own client (for its waker
 * and for finding the coordinator again) and its own connection; it never logs and never calls
 * the application. What it shares with the caller's thread is a snapshot written before it
 * starts and read-only while it runs, and the atomics in heartbeat_t (the fatal error's text
 * is written before the atomic code is published, and read only after it is seen).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assignor.h"
#include "client.h"
#include "config.h"
#include "error.h"
#include "protocol_group.h"

/* One claimed partition. */
typedef struct claim {
    const char *topic; /* points into kk_group.topics */
    int32_t partition;
    kk_consumer_t *consumer; /* NULL until the claims are started */
    int64_t committed;       /* the highest commit this member knows of; -1 none */
    int64_t consumed;        /* the position after what poll returned; -1 nothing yet */
} claim_t;

/* A topic whose partition count a rebalance depends on. */
typedef struct watched {
    char *topic;
    int32_t partitions; /* -1: not known yet */
} watched_t;

typedef struct heartbeat {
    pthread_t thread;
    bool running;        /* touched by the caller's thread only */
    kk_client_t *client; /* no log callback: this thread must never call the application */
    kk_conn_t conn;
    bool coordinator_known;
    /* the snapshot: written before the thread starts */
    const char *group_id;
    char *member_id;
    int32_t generation;
    int interval_ms;
    int session_timeout_ms;
    int retry_backoff_ms;
    /* shared */
    atomic_bool stop;
    atomic_int rejoin; /* 0, or the error that means "rejoin" (22, 25, 27) */
    atomic_int fatal;  /* 0, or a code; fatal_err is complete once it is set */
    kk_error_t fatal_err;
    atomic_llong last_ok_ms; /* the last answer that kept the session alive */
} heartbeat_t;

typedef enum group_state {
    GROUP_UNJOINED = 0, /* not a member (or must rejoin) */
    GROUP_MEMBER,       /* a member of `generation` with `claims` */
    GROUP_CLOSED,
} group_state_t;

struct kk_group {
    kk_group_config_t cfg; /* strings below are our copies */
    char *group_id;
    char **topics;
    size_t topic_count;
    char *assignor;
    kk_client_t *client;

    kk_conn_t coord;
    bool coordinator_known;

    group_state_t state;
    bool topics_verified; /* the first join checks the subscription exists */
    char *member_id;      /* "" until the coordinator gives one */
    int32_t generation;
    char *protocol_name;
    bool is_leader;
    bool in_callback;
    bool revoking; /* inside on_revoke: the claims still count for commits */
    int lost_code; /* a commit found the generation over (22, 25, 27): rejoin, nothing to commit */

    claim_t *claims;
    size_t claim_count;
    bool claims_started; /* committed offsets fetched and consumers created */
    size_t next_claim;
    watched_t *watched;
    size_t watched_count;
    int64_t next_metadata_check_ms;
    int64_t next_auto_commit_ms;

    heartbeat_t hb;
};

/* ---- small helpers ---------------------------------------------------------------------- */

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    if (copy)
        memcpy(copy, s, n);
    return copy;
}

static int set_string(char **slot, const char *value, kk_error_t *err) {
    char *copy = dup_str(value ? value : "");
    if (!copy)
        return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
    free(*slot);
    *slot = copy;
    return KK_OK;
}

/* Errors after which the coordinator must be found again. */
static bool coordinator_moved(int code) {
    return code == 15 || code == 16 || (code < 0 && kk_err_is_retriable(code));
}

/* Errors worth retrying against the (possibly new) coordinator. */
static bool coordinator_retriable(int code) {
    return code == 14 || coordinator_moved(code) || (code > 0 && kk_err_is_retriable(code));
}

/* Errors that end this member's generation. */
static bool generation_lost(int code) { return code == 22 || code == 25 || code == 27; }

/* Answers that only mean "the group is still forming": never returned from kk_group_poll. */
static bool group_churn(int code) { return generation_lost(code) || code == 79; }

static int remaining_ms(int64_t deadline) {
    int64_t left = deadline - kk_monotonic_ms();
    return left <= 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
}

/* Finds the group's coordinator through the client's bootstrap connection. */
static int find_coordinator(kk_client_t *client, const char *group_id, kk_coordinator_result_t *res,
                            kk_error_t *err) {
    int rc = kk_client_connect(client, err);
    if (rc != KK_OK)
        return rc;
    kk_conn_t *c = &client->bootstrap;
    int16_t version = kk_conn_version(c, KK_API_FIND_COORDINATOR);
    if (version < 0)
        return kk_error_set(err, KK_ERR_UNSUPPORTED_VERSION,
                            "%s: the broker supports no FindCoordinator version we speak",
                            c->label);
    kk_writer_t *w = kk_conn_begin(c, KK_API_FIND_COORDINATOR, version);
    kk_encode_find_coordinator_request(w, version, group_id, KK_COORDINATOR_KEY_GROUP);
    kk_reader_t r;
    rc = kk_conn_roundtrip(c, &r, err);
    if (rc != KK_OK)
        return rc;
    rc = kk_decode_find_coordinator_response(&r, version, res, err);
    if (rc != KK_OK) {
        kk_conn_close(c);
        return rc;
    }
    if (res->error_code != 0) {
        int code = res->error_code;
        kk_error_set(err, code, "FindCoordinator for group %s: %s (%d)%s%s", group_id,
                     kk_err_name(code), code, res->error_message ? ": " : "",
                     res->error_message ? res->error_message : "");
        kk_coordinator_result_free(res);
        return code;
    }
    if (!res->host || res->port <= 0 || res->port > 65535) {
        kk_coordinator_result_free(res);
        return kk_error_set(err, KK_ERR_MALFORMED,
                            "FindCoordinator for group %s: no usable address", group_id);
    }
    return KK_OK;
}

/* ---- heartbeat thread ------------------------------------------------------------------- */

static int hb_ensure_coordinator(heartbeat_t *hb, kk_error_t *err) {
    if (!hb->coordinator_known) {
        kk_coordinator_result_t res;
        int rc = find_coordinator(hb->client, hb->group_id, &res, err);
        if (rc != KK_OK)
            return rc;
        kk_conn_destroy(&hb->conn);
        kk_conn_init(&hb->conn, res.host, res.port, &hb->client->conn_opts);
        kk_coordinator_result_free(&res);
        hb->coordinator_known = true;
    }
    if (kk_conn_is_open(&hb->conn))
        return KK_OK;
    int rc = kk_conn_open(&hb->conn, err);
    if (rc != KK_OK)
        hb->coordinator_known = false;
    return rc;
}

static int hb_send(heartbeat_t *hb, kk_error_t *err) {
    int rc = hb_ensure_coordinator(hb, err);
    if (rc != KK_OK)
        return rc;
    int16_t version = kk_conn_version(&hb->conn, KK_API_HEARTBEAT);
    if (version < 0)
        return kk_error_set(err, KK_ERR_UNSUPPORTED_VERSION,
                            "%s: the coordinator supports no Heartbeat version we speak",
                            hb->conn.label);
    kk_heartbeat_in_t in = {hb->group_id, hb->generation, hb->member_id, NULL};
    kk_writer_t *w = kk_conn_begin(&hb->conn, KK_API_HEARTBEAT, version);
    kk_encode_heartbeat_request(w, version, &in);
    kk_reader_t r;
    /* an answer later than the session timeout is useless anyway */
    rc = kk_conn_roundtrip_within(&hb->conn, hb->session_timeout_ms, &r, err);
    if (rc != KK_OK)
        return rc;
    int16_t code = 0;
    rc = kk_decode_heartbeat_response(&r, version, &code, err);
    if (rc != KK_OK) {
        kk_conn_close(&hb->conn);
        return rc;
    }
    if (code != 0)
        return kk_error_set_broker(err, code, "Heartbeat");
    return KK_OK;
}

static void *heartbeat_main(void *arg) {
    heartbeat_t *hb = arg;
    int wait_ms = hb->interval_ms;
    while (!atomic_load(&hb->stop)) {
        if (kk_conn_sleep(&hb->client->conn_opts, wait_ms) != KK_OK || atomic_load(&hb->stop))
            break;
        kk_error_t err;
        kk_error_clear(&err);
        int rc = hb_send(hb, &err);
        wait_ms = hb->interval_ms;
        if (rc == KK_OK || rc == 27) {
            /* during a rebalance the coordinator still counts the heartbeat */
            atomic_store(&hb->last_ok_ms, (long long)kk_monotonic_ms());
            if (rc == 27)
                atomic_store(&hb->rejoin, rc);
            continue;
        }
        if (rc == KK_ERR_INTERRUPTED)
            break;
        if (rc == 22 || rc == 25) {
            atomic_store(&hb->rejoin, rc);
            break; /* no longer a member: nothing left to keep alive */
        }
        if (coordinator_retriable(rc)) {
            if (coordinator_moved(rc)) {
                kk_conn_close(&hb->conn);
                hb->coordinator_known = false;
            }
            wait_ms =
                hb->retry_backoff_ms < hb->interval_ms ? hb->retry_backoff_ms : hb->interval_ms;
            continue;
        }
        hb->fatal_err = err;
        atomic_store(&hb->fatal, rc);
        break;
    }
    return NULL;
}

/* Stops and joins the heartbeat thread, if it runs. */
static void heartbeat_stop(kk_group_t *g) {
    heartbeat_t *hb = &g->hb;
    if (!hb->running)
        return;
    atomic_store(&hb->stop, true);
    kk_client_interrupt(hb->client);
    pthread_join(hb->thread, NULL);
    kk_client_clear_interrupt(hb->client);
    hb->running = false;
    free(hb->member_id);
    hb->member_id = NULL;
}

static int heartbeat_start(kk_group_t *g, kk_error_t *err) {
    heartbeat_t *hb = &g->hb;
    heartbeat_stop(g);
    if (!(hb->member_id = dup_str(g->member_id)))
        return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
    hb->generation = g->generation;
    /* the caller's thread already knows where the coordinator is */
    if (g->coordinator_known) {
        kk_conn_destroy(&hb->conn);
        kk_conn_init(&hb->conn, g->coord.host, g->coord.port, &hb->client->conn_opts);
        hb->coordinator_known = true;
    }
    atomic_store(&hb->stop, false);
    atomic_store(&hb->rejoin, 0);
    atomic_store(&hb->fatal, 0);
    atomic_store(&hb->last_ok_ms, (long long)kk_monotonic_ms());
    if (pthread_create(&hb->thread, NULL, heartbeat_main, hb) != 0) {
        free(hb->member_id);
        hb->member_id = NULL;
        return kk_error_set(err, KK_ERR_NO_MEMORY, "could not start the heartbeat thread");
    }
    hb->running = true;
    return KK_OK;
}

/* ---- construction ----------------------------------------------------------------------- */

void kk_group_config_init(kk_group_config_t *cfg) {
    memset(cfg, 0, sizeof(*cfg));
    kk_client_config_init(&cfg->client);
    cfg->client.allow_auto_topic_creation = false; /* a subscription must not create topics */
    cfg->assignor = "range";
    cfg->session_timeout_ms = 10000;
    cfg->rebalance_timeout_ms = 30000;
    cfg->heartbeat_interval_ms = 0; /* a third of the session timeout, at most 3 s */
    cfg->auto_commit_interval_ms = 5000;
    cfg->start_when_no_commit = KK_RESET_EARLIEST;
    cfg->max_bytes = 1048576;
    cfg->max_wait_ms = 100;
    cfg->metadata_refresh_interval_ms = 10000;
    cfg->retry_backoff_ms = 200;
}

static int check_config(const kk_group_config_t *cfg, kk_error_t *err) {
    if (!cfg)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "the group config is NULL");
    if (!cfg->group_id || !cfg->group_id[0])
        return kk_error_set(err, KK_ERR_INVALID_ARG, "the group id must not be empty");
    if (strlen(cfg->group_id) > INT16_MAX)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "the group id is longer than %d bytes",
                            INT16_MAX);
    if (cfg->topic_count == 0 || !cfg->topics)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "group %s: the topic list is empty",
                            cfg->group_id);
    for (size_t i = 0; i < cfg->topic_count; i++)
        if (!cfg->topics[i] || !cfg->topics[i][0] || strlen(cfg->topics[i]) > 249)
            return kk_error_set(err, KK_ERR_INVALID_ARG,
                                "group %s: topic %zu: topic names must be 1 to 249 characters long",
                                cfg->group_id, i);
    int rc = kk_config_check(KK_CONFIG_GROUP, cfg, err);
    if (rc != KK_OK)
        return rc;
    if (cfg->heartbeat_interval_ms > 0 && cfg->heartbeat_interval_ms >= cfg->session_timeout_ms)
        return kk_error_set(
            err, KK_ERR_INVALID_ARG,
            "group %s: heartbeat_interval_ms (%d) must be below session_timeout_ms (%d)",
            cfg->group_id, cfg->heartbeat_interval_ms, cfg->session_timeout_ms);
    return KK_OK;
}

kk_group_t *kk_group_new(const kk_group_config_t *cfg, kk_error_t *err) {
    kk_error_clear(err);
    if (check_config(cfg, err) != KK_OK)
        return NULL;
    kk_group_t *g = calloc(1, sizeof(*g));
    if (!g) {
        kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
        return NULL;
    }
    g->cfg = *cfg;
    g->generation = -1;
    kk_conn_init(&g->coord, "", 0, &(kk_conn_options_t){0});
    kk_conn_init(&g->hb.conn, "", 0, &(kk_conn_options_t){0});
    g->group_id = dup_str(cfg->group_id);
    g->assignor = dup_str(cfg->assignor ? cfg->assignor : "range");
    g->member_id = dup_str("");
    g->topics = calloc(cfg->topic_count, sizeof(*g->topics));
    bool oom = !g->group_id || !g->assignor || !g->member_id || !g->topics;
    for (size_t i = 0; i < cfg->topic_count && !oom; i++) {
        bool duplicate = false;
        for (size_t j = 0; j < g->topic_count && !duplicate; j++)
            duplicate = strcmp(g->topics[j], cfg->topics[i]) == 0;
        if (duplicate)
            continue;
        if (!(g->topics[g->topic_count] = dup_str(cfg->topics[i])))
            oom = true;
        else
            g->topic_count++;
    }
    if (oom) {
        kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
        kk_group_free(g);
        return NULL;
    }
    g->cfg.group_id = g->group_id;
    g->cfg.topics = (const char *const *)g->topics;
    g->cfg.topic_count = g->topic_count;
    g->cfg.assignor = g->assignor;
    g->cfg.client.bootstrap_servers = NULL; /* only the clients keep it */
    g->cfg.client.client_id = NULL;
    g->client = kk_client_new(&cfg->client, err);
    if (!g->client) {
        kk_group_free(g);
        return NULL;
    }
    /* The heartbeat thread's client: same cluster and timeouts, but nothing that calls back
     * into the application from that thread. */
    kk_client_config_t hb_cfg = cfg->client;
    hb_cfg.log_cb = NULL;
    hb_cfg.log_opaque = NULL;
    hb_cfg.interrupt_check = NULL;
    hb_cfg.interrupt_opaque = NULL;
    g->hb.client = kk_client_new(&hb_cfg, err);
    if (!g->hb.client) {
        kk_group_free(g);
        return NULL;
    }
    g->hb.group_id = g->group_id;
    g->hb.interval_ms = cfg->heartbeat_interval_ms > 0
                            ? cfg->heartbeat_interval_ms
                            : kk_config_default_heartbeat_ms(cfg->session_timeout_ms);
    g->hb.session_timeout_ms = cfg->session_timeout_ms;
    g->hb.retry_backoff_ms = cfg->retry_backoff_ms > 0 ? cfg->retry_backoff_ms : 100;
    /* the client's options, now that it exists, for the coordinator connection */
    kk_conn_destroy(&g->coord);
    kk_conn_init(&g->coord, "", 0, &g->client->conn_opts);
    return g;
}

static void free_claims(kk_group_t *g) {
    for (size_t i = 0; i < g->claim_count; i++)
        kk_consumer_free(g->claims[i].consumer);
    free(g->claims);
    g->claims = NULL;
    g->claim_count = 0;
    g->claims_started = false;
    g->next_claim = 0;
}

static void free_watched(kk_group_t *g) {
    for (size_t i = 0; i < g->watched_count; i++)
        free(g->watched[i].topic);
    free(g->watched);
    g->watched = NULL;
    g->watched_count = 0;
}

void kk_group_free(kk_group_t *g) {
    if (!g)
        return;
    heartbeat_stop(g);
    free_claims(g);
    free_watched(g);
    kk_conn_destroy(&g->coord);
    kk_conn_destroy(&g->hb.conn);
    kk_client_free(g->hb.client);
    kk_client_free(g->client);
    for (size_t i = 0; i < g->topic_count; i++)
        free(g->topics[i]);
    free(g->topics);
    free(g->group_id);
    free(g->assignor);
    free(g->member_id);
    free(g->protocol_name);
    free(g);
}

kk_client_t *kk_group_client(kk_group_t *g) { return g ? g->client : NULL; }
int32_t kk_group_generation(const kk_group_t *g) {
    return g && g->state == GROUP_MEMBER ? g->generation : -1;
}
const char *kk_group_member_id(const kk_group_t *g) {
    return g && g->member_id ? g->member_id : "";
}
bool kk_group_is_leader(const kk_group_t *g) {
    return g && g->state == GROUP_MEMBER && g->is_leader;
}

static size_t copy_claims(const kk_group_t *g, kk_topic_partition_t *out, size_t cap) {
    for (size_t i = 0; i < g->claim_count && i < cap && out; i++)
        out[i] = (kk_topic_partition_t){g->claims[i].topic, g->claims[i].partition};
    return g->claim_count;
}

size_t kk_group_claimed(const kk_group_t *g, kk_topic_partition_t *out, size_t cap) {
    if (!g || g->state != GROUP_MEMBER)
        return 0;
    return copy_claims(g, out, cap);
}

/* ---- the coordinator, from the caller's thread ------------------------------------------ */

static void coordinator_lost(kk_group_t *g) {
    kk_conn_close(&g->coord);
    g->coordinator_known = false;
}

static int ensure_coordinator(kk_group_t *g, kk_error_t *err) {
    if (!g->coordinator_known) {
        kk_coordinator_result_t res;
        int rc = find_coordinator(g->client, g->group_id, &res, err);
        if (rc != KK_OK)
            return rc;
        kk_log(g->client, KK_LOG_DEBUG, "group %s: coordinator is broker %d at %s:%d", g->group_id,
               (int)res.node_id, res.host, (int)res.port);
        kk_conn_destroy(&g->coord);
        kk_conn_init(&g->coord, res.host, res.port, &g->client->conn_opts);
        kk_coordinator_result_free(&res);
        g->coordinator_known = true;
    }
    if (kk_conn_is_open(&g->coord))
        return KK_OK;
    int rc = kk_conn_open(&g->coord, err);
    if (rc != KK_OK)
        g->coordinator_known = false;
    return rc;
}

/* Runs op against the coordinator, finding it again after coordinator errors, until the
 * deadline passes. */
typedef int (*coord_op_t)(kk_group_t *g, kk_conn_t *conn, void *arg, kk_error_t *err);

static int with_coordinator(kk_group_t *g, coord_op_t op, void *arg, int64_t deadline,
                            kk_error_t *err) {
    for (int attempt = 1;; attempt++) {
        int rc = ensure_coordinator(g, err);
        if (rc == KK_OK)
            rc = op(g, &g->coord, arg, err);
        if (rc == KK_OK || rc == KK_ERR_INTERRUPTED || !coordinator_retriable(rc))
            return rc;
        if (coordinator_moved(rc))
            coordinator_lost(g);
        if (kk_monotonic_ms() >= deadline) {
            kk_error_prefix(err, "group %s: gave up after %d tries: ", g->group_id, attempt);
            return rc;
        }
        /* the error's own message already names the group */
        if (err)
            kk_log(g->client, KK_LOG_INFO, "%s; retrying", err->message);
        else
            kk_log(g->client, KK_LOG_INFO, "group %s: %s; retrying", g->group_id, kk_err_name(rc));
        if (kk_conn_sleep(&g->client->conn_opts, g->cfg.retry_backoff_ms) != KK_OK)
            return kk_error_set(err, KK_ERR_INTERRUPTED, "group %s: interrupted", g->group_id);
    }
}

/* ---- offsets ---------------------------------------------------------------------------- */

typedef struct fetch_offsets_arg {
    const kk_topic_partition_t *partitions;
    size_t count;
    kk_partition_offsets_t result;
} fetch_offsets_arg_t;

static int fetch_offsets_op(kk_group_t *g, kk_conn_t *conn, void *arg_ptr, kk_error_t *err) {
    fetch_offsets_arg_t *arg = arg_ptr;
    int16_t version = kk_conn_version(conn, KK_API_OFFSET_FETCH);
    if (version < 0)
        return kk_error_set(err, KK_ERR_UNSUPPORTED_VERSION,
                            "%s: the coordinator supports no OffsetFetch version we speak",
                            conn->label);
    kk_writer_t *w = kk_conn_begin(conn, KK_API_OFFSET_FETCH, version);
    kk_encode_offset_fetch_request(w, version, g->group_id, arg->partitions, arg->count, false);
    kk_reader_t r;
    int rc = kk_conn_roundtrip(conn, &r, err);
    if (rc != KK_OK)
        return rc;
    kk_partition_offsets_free(&arg->result);
    rc = kk_decode_offset_fetch_response(&r, version, &arg->result, err);
    if (rc != KK_OK) {
        kk_conn_close(conn);
        return rc;
    }
    if (arg->result.error_code != 0)
        return kk_error_set_broker(err, arg->result.error_code, "OffsetFetch");
    /* a partition-level coordinator error means the whole answer is unusable */
    for (size_t i = 0; i < arg->result.count; i++) {
        int code = arg->result.partitions[i].error_code;
        if (code == 14 || code == 15 || code == 16 || code == 88 /* UNSTABLE_OFFSET_COMMIT */)
            return kk_error_set_broker(err, (int16_t)code, "OffsetFetch");
    }
    return KK_OK;
}

/* The committed offset for (topic, partition) in a fetch result (-1 when none). */
static int committed_in(const kk_partition_offsets_t *res, const char *topic, int32_t partition,
                        int64_t *offset, kk_error_t *err) {
    for (size_t i = 0; i < res->count; i++) {
        const kk_partition_offset_t *p = &res->partitions[i];
        if (p->partition != partition || !p->topic || strcmp(p->topic, topic) != 0)
            continue;
        if (p->error_code != 0) {
            kk_error_set_broker(err, p->error_code, "OffsetFetch");
            kk_error_prefix(err, "%s[%d]: ", topic, (int)partition);
            return p->error_code;
        }
        *offset = p->offset < 0 ? -1 : p->offset;
        return KK_OK;
    }
    *offset = -1; /* a broker may leave out partitions without commits */
    return KK_OK;
}

typedef struct commit_arg {
    kk_offset_commit_entry_t *entries;
    size_t count;
    kk_partition_offsets_t result;
} commit_arg_t;

static int commit_op(kk_group_t *g, kk_conn_t *conn, void *arg_ptr, kk_error_t *err) {
    commit_arg_t *arg = arg_ptr;
    int16_t version = kk_conn_version(conn, KK_API_OFFSET_COMMIT);
    if (version < 0)
        return kk_error_set(err, KK_ERR_UNSUPPORTED_VERSION,
                            "%s: the coordinator supports no OffsetCommit version we speak",
                            conn->label);
    kk_offset_commit_in_t in = {g->group_id, g->generation, g->member_id,
                                NULL,        arg->entries,  arg->count};
    kk_writer_t *w = kk_conn_begin(conn, KK_API_OFFSET_COMMIT, version);
    kk_encode_offset_commit_request(w, version, &in);
    kk_reader_t r;
    int rc = kk_conn_roundtrip(conn, &r, err);
    if (rc != KK_OK)
        return rc;
    kk_partition_offsets_free(&arg->result);
    rc = kk_decode_offset_commit_response(&r, version, &arg->result, err);
    if (rc != KK_OK) {
        kk_conn_close(conn);
        return rc;
    }
    /* coordinator trouble on any partition: retry the whole commit (it is idempotent) */
    for (size_t i = 0; i < arg->result.count; i++) {
        int code = arg->result.partitions[i].error_code;
        if (code != 0 && coordinator_retriable(code))
            return kk_error_set_broker(err, (int16_t)code, "OffsetCommit");
    }
    return KK_OK;
}

static claim_t *find_claim(kk_group_t *g, const char *topic, int32_t partition) {
    for (size_t i = 0; i < g->claim_count; i++)
        if (g->claims[i].partition == partition && strcmp(g->claims[i].topic, topic) == 0)
            return &g->claims[i];
    return NULL;
}

/* Commits offsets[i] for claims[i]; raises claim->committed on success. A lost generation
 * flags a rejoin and fails with KK_ERR_NOT_ASSIGNED. */
static int commit_claims(kk_group_t *g, claim_t **claims, const int64_t *offsets, size_t n,
                         int64_t deadline, kk_error_t *err) {
    if (n == 0)
        return KK_OK;
    commit_arg_t arg = {calloc(n, sizeof(*arg.entries)), n, {0}};
    if (!arg.entries)
        return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < n; i++)
        arg.entries[i] =
            (kk_offset_commit_entry_t){claims[i]->topic, claims[i]->partition, offsets[i], -1, ""};
    int rc = with_coordinator(g, commit_op, &arg, deadline, err);
    if (rc == KK_OK) {
        for (size_t i = 0; i < arg.result.count && rc == KK_OK; i++) {
            const kk_partition_offset_t *p = &arg.result.partitions[i];
            claim_t *c = p->topic ? find_claim(g, p->topic, p->partition) : NULL;
            if (p->error_code == 0) {
                for (size_t j = 0; j < n && c; j++)
                    if (claims[j] == c && offsets[j] > c->committed)
                        c->committed = offsets[j];
                continue;
            }
            if (generation_lost(p->error_code)) {
                g->state = GROUP_UNJOINED; /* the next poll rejoins */
                g->lost_code = p->error_code;
                rc = kk_error_set(err, KK_ERR_NOT_ASSIGNED,
                                  "group %s: commit of %s[%d] rejected (%s): the group rebalanced "
                                  "and this member must rejoin; its claims have ended",
                                  g->group_id, p->topic ? p->topic : "?", (int)p->partition,
                                  kk_err_name(p->error_code));
            } else {
                rc = kk_error_set_broker(err, p->error_code, "OffsetCommit");
                kk_error_prefix(err, "group %s: %s[%d]: ", g->group_id, p->topic ? p->topic : "?",
                                (int)p->partition);
            }
        }
    }
    kk_partition_offsets_free(&arg.result);
    free(arg.entries);
    return rc;
}

/* Commits every claim whose consumed position is past its last commit. */
static int commit_consumed(kk_group_t *g, int64_t deadline, kk_error_t *err) {
    if (!g->claims_started || g->claim_count == 0)
        return KK_OK;
    claim_t **claims = malloc(g->claim_count * sizeof(*claims));
    int64_t *offsets = malloc(g->claim_count * sizeof(*offsets));
    if (!claims || !offsets) {
        free(claims);
        free(offsets);
        return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
    }
    size_t n = 0;
    for (size_t i = 0; i < g->claim_count; i++) {
        claim_t *c = &g->claims[i];
        if (c->consumed >= 0 && c->consumed > c->committed) {
            claims[n] = c;
            offsets[n++] = c->consumed;
        }
    }
    int rc = commit_claims(g, claims, offsets, n, deadline, err);
    free(claims);
    free(offsets);
    return rc;
}

/* ---- rebalance callbacks ---------------------------------------------------------------- */

static void call_back(kk_group_t *g, kk_rebalance_cb cb) {
    if (!cb)
        return;
    kk_topic_partition_t *parts = g->claim_count ? malloc(g->claim_count * sizeof(*parts)) : NULL;
    if (g->claim_count && !parts) {
        kk_log(g->client, KK_LOG_ERROR, "group %s: out of memory for a rebalance callback",
               g->group_id);
        return;
    }
    size_t n = copy_claims(g, parts, g->claim_count);
    g->in_callback = true;
    cb(g->cfg.rebalance_opaque, parts, n);
    g->in_callback = false;
    free(parts);
}

/* Gives up every claim before a rejoin (or on close): auto-commits first unless the
 * generation is known to be lost, then tells the application, then stops heartbeats. */
static void revoke_claims(kk_group_t *g, bool lost) {
    if (g->state == GROUP_MEMBER || g->claim_count) {
        if (!lost && g->cfg.auto_commit_interval_ms > 0 && g->claims_started) {
            kk_error_t err;
            kk_error_clear(&err);
            if (commit_consumed(g, kk_monotonic_ms() + g->cfg.session_timeout_ms, &err) != KK_OK)
                kk_log(g->client, KK_LOG_WARNING,
                       "group %s: commit before the rebalance failed: %s", g->group_id,
                       err.message);
        }
        if (g->claim_count && g->claims_started) { /* on_assign saw them */
            g->revoking = true;
            call_back(g, g->cfg.on_revoke);
            g->revoking = false;
        }
    }
    heartbeat_stop(g);
    free_claims(g);
    g->state = GROUP_UNJOINED;
}

/* ---- joining ---------------------------------------------------------------------------- */

/* Partition counts of topics (0 for a topic that does not exist; -1 for one whose metadata
 * reports another error, which says nothing about its partitions). */
static int partition_counts(kk_group_t *g, const char *const *topics, size_t n, int32_t *counts,
                            kk_error_t *err) {
    kk_metadata_t *md = NULL;
    int rc = kk_client_metadata(g->client, topics, n, &md, err);
    if (rc != KK_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        const kk_topic_info_t *t = kk_metadata_topic(md, topics[i]);
        if (!t || t->error_code == 3)
            counts[i] = 0;
        else if (t->error_code != 0 && t->partition_count == 0)
            counts[i] = -1;
        else
            counts[i] = (int32_t)t->partition_count;
    }
    kk_metadata_free(md);
    return KK_OK;
}

static int set_watched(kk_group_t *g, const char *const *topics, const int32_t *counts, size_t n,
                       kk_error_t *err) {
    free_watched(g);
    g->watched = calloc(n ? n : 1, sizeof(*g->watched));
    if (!g->watched)
        return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (!(g->watched[i].topic = dup_str(topics[i])))
            return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
        g->watched[i].partitions = counts[i];
        g->watched_count++;
    }
    return KK_OK;
}

/* Before every join: the subscription's partition counts (what a change is measured against);
 * the first join also fails clearly on topics that do not exist. */
static int check_subscription(kk_group_t *g, kk_error_t *err) {
    int32_t *counts = malloc(g->topic_count * sizeof(*counts));
    if (!counts)
        return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
    int rc = partition_counts(g, (const char *const *)g->topics, g->topic_count, counts, err);
    if (rc == KK_OK && !g->topics_verified) {
        char missing[KK_ERROR_MESSAGE_SIZE] = "";
        size_t used = 0, n = 0;
        for (size_t i = 0; i < g->topic_count; i++) {
            if (counts[i] != 0)
                continue;
            n++;
            int w = snprintf(missing + used, sizeof(missing) - used, "%s%s", used ? ", " : "",
                             g->topics[i]);
            used += w > 0 && (size_t)w < sizeof(missing) - used ? (size_t)w : 0;
        }
        if (n)
            rc = kk_error_set(err, 3, "group %s: %zu subscribed topic(s) do not exist: %s",
                              g->group_id, n, missing);
        else
            g->topics_verified = true;
    }
    if (rc == KK_OK)
        rc = set_watched(g, (const char *const *)g->topics, counts, g->topic_count, err);
    free(counts);
    return rc;
}

/* The leader's work: decode every member's subscription, look up the partition counts of all
 * their topics, run the assignor and encode each member's share. */
typedef struct leader_plan {
    kk_sync_assignment_in_t *assignments;
    kk_writer_t *buffers;
    size_t count;
} leader_plan_t;

static void leader_plan_free(leader_plan_t *plan) {
    for (size_t i = 0; i < plan->count; i++)
        kk_writer_free(&plan->buffers[i]);
    free(plan->buffers);
    free(plan->assignments);
    memset(plan, 0, sizeof(*plan));
}

static int plan_assignment(kk_group_t *g, const kk_join_group_result_t *join, leader_plan_t *plan,
                           kk_error_t *err) {
    size_t n = join->member_count;
    kk_consumer_subscription_t *subs = calloc(n ? n : 1, sizeof(*subs));
    kk_assign_member_t *members = calloc(n ? n : 1, sizeof(*members));
    kk_member_assignment_t *shares = calloc(n ? n : 1, sizeof(*shares));
    const char **all = NULL;
    size_t all_count = 0, all_cap = 0;
    int32_t *counts = NULL;
    kk_assign_topic_t *topics = NULL;
    int rc = KK_OK;
    plan->buffers = calloc(n ? n : 1, sizeof(*plan->buffers));
    plan->assignments = calloc(n ? n : 1, sizeof(*plan->assignments));
    if (!subs || !members || !shares || !plan->buffers || !plan->assignments) {
        rc = kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
        goto done;
    }
    plan->count = n;
    for (size_t i = 0; i < n; i++) {
        const kk_join_group_member_t *m = &join->members[i];
        kk_error_t sub_err;
        if (kk_decode_consumer_subscription(m->metadata, m->metadata_len, &subs[i], &sub_err) !=
            KK_OK)
            kk_log(g->client, KK_LOG_WARNING, "group %s: member %s: %s; it gets no partitions",
                   g->group_id, m->member_id, sub_err.message);
        members[i] = (kk_assign_member_t){m->member_id, m->group_instance_id,
                                          (const char *const *)subs[i].topics, subs[i].topic_count};
        for (size_t t = 0; t < subs[i].topic_count; t++) {
            bool seen = false;
            for (size_t k = 0; k < all_count && !seen; k++)
                seen = strcmp(all[k], subs[i].topics[t]) == 0;
            if (seen || !subs[i].topics[t][0] || strlen(subs[i].topics[t]) > 249)
                continue;
            if (all_count == all_cap) {
                size_t cap = all_cap ? all_cap * 2 : 8;
                const char **grown = realloc(all, cap * sizeof(*grown));
                if (!grown) {
                    rc = kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
                    goto done;
                }
                all = grown;
                all_cap = cap;
            }
            all[all_count++] = subs[i].topics[t];
        }
    }
    counts = calloc(all_count ? all_count : 1, sizeof(*counts));
    topics = calloc(all_count ? all_count : 1, sizeof(*topics));
    if (!counts || !topics) {
        rc = kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
        goto done;
    }
    if (all_count && (rc = partition_counts(g, all, all_count, counts, err)) != KK_OK)
        goto done;
    for (size_t i = 0; i < all_count; i++)
        topics[i] = (kk_assign_topic_t){all[i], counts[i] > 0 ? counts[i] : 0};
    if ((rc = kk_assign(g->assignor, members, n, topics, all_count, shares, err)) != KK_OK)
        goto done;
    for (size_t i = 0; i < n; i++) {
        int16_t version = subs[i].version > KK_CONSUMER_PROTOCOL_VERSION
                              ? KK_CONSUMER_PROTOCOL_VERSION
                              : subs[i].version;
        kk_writer_init(&plan->buffers[i]);
        kk_encode_consumer_assignment(&plan->buffers[i], version < 0 ? 0 : version,
                                      shares[i].partitions, shares[i].count);
        if (plan->buffers[i].failed) {
            rc = kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
            goto done;
        }
        plan->assignments[i] = (kk_sync_assignment_in_t){
            join->members[i].member_id, plan->buffers[i].data, plan->buffers[i].len};
        kk_log(g->client, KK_LOG_DEBUG, "group %s: assigned %zu partition(s) to %s", g->group_id,
               shares[i].count, join->members[i].member_id);
    }
    /* the leader watches every member's topics for partition-count changes */
    rc = set_watched(g, all, counts, all_count, err);
done:
    if (rc != KK_OK)
        leader_plan_free(plan);
    kk_member_assignments_free(shares, n);
    for (size_t i = 0; i < n && subs; i++)
        kk_consumer_subscription_free(&subs[i]);
    free(subs);
    free(members);
    free(shares);
    free(all);
    free(counts);
    free(topics);
    return rc;
}

static int compare_claims(const void *a, const void *b) {
    const claim_t *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

/* Turns the assignment bytes into claims (only for topics we subscribed to). */
static int take_assignment(kk_group_t *g, const uint8_t *data, size_t len, kk_error_t *err) {
    kk_consumer_assignment_t a;
    int rc = kk_decode_consumer_assignment(data, len, &a, err);
    if (rc != KK_OK)
        return rc;
    free_claims(g);
    size_t n = a.partitions.count;
    g->claims = calloc(n ? n : 1, sizeof(*g->claims));
    if (!g->claims) {
        kk_consumer_assignment_free(&a);
        return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const kk_topic_partition_t *tp = &a.partitions.partitions[i];
        const char *topic = NULL;
        for (size_t t = 0; t < g->topic_count && !topic; t++)
            if (strcmp(g->topics[t], tp->topic) == 0)
                topic = g->topics[t];
        if (!topic || tp->partition < 0) {
            kk_log(g->client, KK_LOG_WARNING, "group %s: ignoring %s[%d]: not in our subscription",
                   g->group_id, tp->topic, (int)tp->partition);
            continue;
        }
        if (find_claim(g, topic, tp->partition))
            continue;
        g->claims[g->claim_count++] = (claim_t){topic, tp->partition, NULL, -1, -1};
    }
    qsort(g->claims, g->claim_count, sizeof(*g->claims), compare_claims);
    kk_consumer_assignment_free(&a);
    return KK_OK;
}

/* Extra time a JoinGroup / SyncGroup may take beyond the rebalance itself. */
#define GROUP_REQUEST_SLACK_MS 5000

/* One JoinGroup + SyncGroup round. KK_OK: a member with claims (not started yet). */
static int join_once(kk_group_t *g, kk_error_t *err) {
    int rc = ensure_coordinator(g, err);
    if (rc != KK_OK)
        return rc;
    kk_conn_t *conn = &g->coord;
    int16_t version = kk_conn_version(conn, KK_API_JOIN_GROUP);
    int16_t sync_version = kk_conn_version(conn, KK_API_SYNC_GROUP);
    if (version < 0 || sync_version < 0)
        return kk_error_set(err, KK_ERR_UNSUPPORTED_VERSION,
                            "%s: the coordinator supports no JoinGroup/SyncGroup version we speak",
                            conn->label);
    int request_timeout = g->cfg.rebalance_timeout_ms + GROUP_REQUEST_SLACK_MS;
    if (request_timeout < conn->opts.request_timeout_ms)
        request_timeout = conn->opts.request_timeout_ms;

    kk_writer_t meta;
    kk_writer_init(&meta);
    kk_encode_consumer_subscription(&meta, KK_CONSUMER_PROTOCOL_VERSION,
                                    (const char *const *)g->topics, g->topic_count, NULL, 0,
                                    g->generation, NULL);
    if (meta.failed) {
        kk_writer_free(&meta);
        return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
    }
    kk_group_protocol_in_t protocol = {g->assignor, meta.data, meta.len};
    kk_join_group_in_t in = {
        .group_id = g->group_id,
        .session_timeout_ms = g->cfg.session_timeout_ms,
        .rebalance_timeout_ms = g->cfg.rebalance_timeout_ms,
        .member_id = g->member_id,
        .protocol_type = KK_CONSUMER_PROTOCOL_TYPE,
        .protocols = &protocol,
        .protocol_count = 1,
    };
    kk_writer_t *w = kk_conn_begin(conn, KK_API_JOIN_GROUP, version);
    kk_encode_join_group_request(w, version, &in);
    kk_writer_free(&meta);
    kk_reader_t r;
    rc = kk_conn_roundtrip_within(conn, request_timeout, &r, err);
    if (rc != KK_OK)
        return rc;
    kk_join_group_result_t join;
    rc = kk_decode_join_group_response(&r, version, &join, err);
    if (rc != KK_OK) {
        kk_conn_close(conn);
        return rc;
    }
    if (join.error_code == 79 && join.member_id) {
        /* KIP-394: the coordinator hands out the id first; join again with it */
        rc = set_string(&g->member_id, join.member_id, err);
        kk_join_group_result_free(&join);
        return rc == KK_OK ? 79 : rc;
    }
    if (join.error_code != 0) {
        int code = join.error_code;
        kk_join_group_result_free(&join);
        kk_error_set_broker(err, (int16_t)code, NULL);
        kk_error_prefix(err, "group %s: JoinGroup: ", g->group_id);
        return code;
    }
    if ((rc = set_string(&g->member_id, join.member_id, err)) != KK_OK ||
        (rc = set_string(&g->protocol_name, join.protocol_name ? join.protocol_name : g->assignor,
                         err)) != KK_OK) {
        kk_join_group_result_free(&join);
        return rc;
    }
    g->generation = join.generation_id;
    g->is_leader = join.leader && strcmp(join.leader, g->member_id) == 0;
    kk_log(g->client, KK_LOG_INFO, "group %s: joined generation %d as %s%s (%zu member(s) listed)",
           g->group_id, (int)g->generation, g->member_id, g->is_leader ? ", the leader" : "",
           join.member_count);

    leader_plan_t plan = {0};
    if (g->is_leader && !join.skip_assignment &&
        (rc = plan_assignment(g, &join, &plan, err)) != KK_OK) {
        kk_join_group_result_free(&join);
        return rc;
    }

    kk_sync_group_in_t sync = {
        .group_id = g->group_id,
        .generation_id = g->generation,
        .member_id = g->member_id,
        .protocol_type = KK_CONSUMER_PROTOCOL_TYPE,
        .protocol_name = g->protocol_name,
        .assignments = plan.assignments,
        .assignment_count = plan.count,
    };
    w = kk_conn_begin(conn, KK_API_SYNC_GROUP, sync_version);
    kk_encode_sync_group_request(w, sync_version, &sync);
    leader_plan_free(&plan);
    kk_join_group_result_free(&join); /* the plan pointed at its member ids */
    rc = kk_conn_roundtrip_within(conn, request_timeout, &r, err);
    if (rc != KK_OK)
        return rc;
    kk_sync_group_result_t res;
    rc = kk_decode_sync_group_response(&r, sync_version, &res, err);
    if (rc != KK_OK) {
        kk_conn_close(conn);
        return rc;
    }
    if (res.error_code != 0) {
        int code = res.error_code;
        kk_sync_group_result_free(&res);
        kk_error_set_broker(err, (int16_t)code, NULL);
        kk_error_prefix(err, "group %s: SyncGroup: ", g->group_id);
        return code;
    }
    rc = take_assignment(g, res.assignment, res.assignment_len, err);
    kk_sync_group_result_free(&res);
    return rc;
}

/* Joins until this member has claims (not started yet) or the deadline passes. */
static int join_group(kk_group_t *g, bool lost, int64_t deadline, kk_error_t *err) {
    revoke_claims(g, lost);
    int rc = check_subscription(g, err);
    if (rc != KK_OK && g->topics_verified && kk_err_is_retriable(rc)) {
        /* the partition counts are only for noticing changes: join without fresh ones */
        kk_log(g->client, KK_LOG_WARNING, "group %s: %s", g->group_id,
               err ? err->message : kk_err_name(rc));
        kk_error_clear(err);
        rc = KK_OK;
    }
    if (rc != KK_OK)
        return rc;
    for (;;) {
        rc = join_once(g, err);
        if (rc == KK_OK)
            break;
        if (rc == KK_ERR_INTERRUPTED)
            return rc;
        if (rc == 79 && kk_monotonic_ms() < deadline)
            continue; /* at once, with the id we were given */
        if (!generation_lost(rc) && !coordinator_retriable(rc))
            return rc;
        if (rc == 25 && set_string(&g->member_id, "", err) != KK_OK)
            return KK_ERR_NO_MEMORY;
        if (coordinator_moved(rc))
            coordinator_lost(g);
        if (kk_monotonic_ms() >= deadline) {
            kk_error_prefix(err, "group %s: could not join in time: ", g->group_id);
            return rc;
        }
        kk_log(g->client, KK_LOG_INFO, "group %s: %s; joining again", g->group_id,
               err ? err->message : "");
        if (kk_conn_sleep(&g->client->conn_opts,
                          generation_lost(rc) ? 0 : g->cfg.retry_backoff_ms) != KK_OK)
            return kk_error_set(err, KK_ERR_INTERRUPTED, "group %s: interrupted", g->group_id);
    }
    g->state = GROUP_MEMBER;
    g->next_metadata_check_ms = kk_monotonic_ms() + g->cfg.metadata_refresh_interval_ms;
    rc = heartbeat_start(g, err);
    if (rc != KK_OK) {
        g->state = GROUP_UNJOINED;
        return rc;
    }
    return KK_OK;
}

/* After a consumer of the group waits on the network, it checks this about every 100 ms, so
 * that interrupting the group's client also interrupts fetches. */
static bool consumer_interrupt_check(void *opaque) {
    kk_group_t *g = opaque;
    if (atomic_load(&g->client->waker.interrupted))
        return true;
    return g->cfg.client.interrupt_check &&
           g->cfg.client.interrupt_check(g->cfg.client.interrupt_opaque);
}

/* Fetches the committed offsets of the claims and creates their consumers. */
static int start_claims(kk_group_t *g, int64_t deadline, kk_error_t *err) {
    if (g->claims_started)
        return KK_OK;
    kk_topic_partition_t *parts = calloc(g->claim_count ? g->claim_count : 1, sizeof(*parts));
    if (!parts)
        return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
    size_t n = copy_claims(g, parts, g->claim_count);
    fetch_offsets_arg_t arg = {parts, n, {0}};
    int rc = n ? with_coordinator(g, fetch_offsets_op, &arg, deadline, err) : KK_OK;
    for (size_t i = 0; i < g->claim_count && rc == KK_OK; i++) {
        claim_t *c = &g->claims[i];
        rc = committed_in(&arg.result, c->topic, c->partition, &c->committed, err);
        if (rc != KK_OK)
            break;
        c->consumed = -1;
        kk_consumer_config_t cc;
        kk_consumer_config_init(&cc);
        cc.client = g->cfg.client;
        cc.client.bootstrap_servers = g->client->bootstrap_servers;
        cc.client.client_id = g->client->client_id;
        cc.client.allow_auto_topic_creation = false;
        cc.client.interrupt_check = consumer_interrupt_check;
        cc.client.interrupt_opaque = g;
        cc.topic = c->topic;
        cc.partition = c->partition;
        if (c->committed >= 0)
            cc.offset = (kk_offset_spec_t){KK_OFFSET_AT, c->committed};
        else
            cc.offset = (kk_offset_spec_t){g->cfg.start_when_no_commit == KK_RESET_LATEST
                                               ? KK_OFFSET_LATEST
                                               : KK_OFFSET_EARLIEST,
                                           0};
        cc.offset_reset = g->cfg.start_when_no_commit;
        cc.max_bytes = g->cfg.max_bytes;
        cc.max_wait_ms = g->cfg.max_wait_ms;
        cc.retry_backoff_ms = g->cfg.retry_backoff_ms;
        kk_consumer_free(c->consumer);
        kk_error_t consumer_err;
        c->consumer = kk_consumer_new(&cc, &consumer_err);
        if (!c->consumer) {
            rc = consumer_err.code;
            if (err)
                *err = consumer_err;
        }
    }
    kk_partition_offsets_free(&arg.result);
    free(parts);
    if (rc != KK_OK)
        return rc;
    g->claims_started = true;
    g->next_auto_commit_ms = kk_monotonic_ms() + g->cfg.auto_commit_interval_ms;
    for (size_t i = 0; i < g->claim_count; i++) {
        const claim_t *c = &g->claims[i];
        if (c->committed >= 0)
            kk_log(g->client, KK_LOG_INFO, "group %s: claimed %s[%d] at committed offset %lld",
                   g->group_id, c->topic, (int)c->partition, (long long)c->committed);
        else
            kk_log(g->client, KK_LOG_INFO, "group %s: claimed %s[%d], no commit: starting at the %s",
                   g->group_id, c->topic, (int)c->partition,
                   g->cfg.start_when_no_commit == KK_RESET_LATEST ? "end" : "beginning");
    }
    call_back(g, g->cfg.on_assign);
    return KK_OK;
}

/* Whether the partition counts this member's assignment depends on have changed. */
static bool partitions_changed(kk_group_t *g) {
    if (g->watched_count == 0)
        return false;
    const char **names = malloc(g->watched_count * sizeof(*names));
    int32_t *counts = malloc(g->watched_count * sizeof(*counts));
    bool changed = false;
    kk_error_t err;
    if (names && counts) {
        for (size_t i = 0; i < g->watched_count; i++)
            names[i] = g->watched[i].topic;
        if (partition_counts(g, names, g->watched_count, counts, &err) != KK_OK) {
            kk_log(g->client, KK_LOG_WARNING, "group %s: metadata check failed: %s", g->group_id,
                   err.message);
        } else {
            for (size_t i = 0; i < g->watched_count; i++) {
                watched_t *w = &g->watched[i];
                if (counts[i] < 0)
                    continue;
                if (w->partitions >= 0 && counts[i] != w->partitions) {
                    kk_log(g->client, KK_LOG_INFO,
                           "group %s: topic %s now has %d partition(s), had %d; rebalancing",
                           g->group_id, w->topic, (int)counts[i], (int)w->partitions);
                    changed = true;
                }
                w->partitions = counts[i];
            }
        }
    }
    free(names);
    free(counts);
    return changed;
}

/* Everything a call does before it fetches: act on the heartbeat thread's flags, (re)join,
 * start claims, auto-commit and watch partition counts. */
static int maintain(kk_group_t *g, int64_t join_deadline, kk_error_t *err) {
    for (int round = 0;; round++) {
        int fatal = atomic_load(&g->hb.fatal);
        if (fatal) {
            heartbeat_stop(g);
            if (err)
                *err = g->hb.fatal_err;
            atomic_store(&g->hb.fatal, 0);
            g->state = GROUP_UNJOINED;
            kk_error_prefix(err, "group %s: heartbeat: ", g->group_id);
            return fatal;
        }
        bool lost = g->lost_code == 22 || g->lost_code == 25;
        if (g->lost_code == 25 && set_string(&g->member_id, "", err) != KK_OK)
            return KK_ERR_NO_MEMORY;
        g->lost_code = 0;
        if (g->state == GROUP_MEMBER) {
            int64_t now = kk_monotonic_ms();
            int code = atomic_exchange(&g->hb.rejoin, 0);
            if (code) {
                kk_log(g->client, KK_LOG_INFO, "group %s: heartbeat says %s; rejoining",
                       g->group_id, kk_err_name(code));
                g->state = GROUP_UNJOINED;
                lost = code != 27;
                if (code == 25 && set_string(&g->member_id, "", err) != KK_OK)
                    return KK_ERR_NO_MEMORY;
            } else if (now - (int64_t)atomic_load(&g->hb.last_ok_ms) > g->cfg.session_timeout_ms) {
                kk_log(g->client, KK_LOG_WARNING,
                       "group %s: no heartbeat answer within the session timeout; rejoining",
                       g->group_id);
                g->state = GROUP_UNJOINED;
                lost = true;
            } else if (g->claims_started && now >= g->next_metadata_check_ms) {
                g->next_metadata_check_ms = now + g->cfg.metadata_refresh_interval_ms;
                if (partitions_changed(g))
                    g->state = GROUP_UNJOINED;
            }
        }
        if (g->state != GROUP_MEMBER) {
            if (round > 0 && kk_monotonic_ms() >= join_deadline)
                return kk_error_set(err, 27, "group %s: the group kept rebalancing", g->group_id);
            int rc = join_group(g, lost, join_deadline, err);
            if (rc != KK_OK)
                return rc;
        }
        if (!g->claims_started) {
            int rc = start_claims(g, join_deadline, err); /* retried by the next call */
            if (rc != KK_OK)
                return rc;
        }
        if (g->state != GROUP_MEMBER)
            continue; /* a callback's commit found the generation lost */
        if (g->cfg.auto_commit_interval_ms > 0 && kk_monotonic_ms() >= g->next_auto_commit_ms) {
            g->next_auto_commit_ms = kk_monotonic_ms() + g->cfg.auto_commit_interval_ms;
            kk_error_t commit_err;
            kk_error_clear(&commit_err);
            int rc = commit_consumed(g, kk_monotonic_ms() + g->cfg.session_timeout_ms, &commit_err);
            if (rc == KK_ERR_NOT_ASSIGNED || (rc != KK_OK && kk_err_is_retriable(rc))) {
                kk_log(g->client, KK_LOG_WARNING, "group %s: auto-commit failed: %s", g->group_id,
                       commit_err.message);
                if (g->state != GROUP_MEMBER)
                    continue;
            } else if (rc != KK_OK) {
                if (err)
                    *err = commit_err;
                return rc;
            }
        }
        return KK_OK;
    }
}

static int check_usable(kk_group_t *g, const char *what, kk_error_t *err) {
    if (!g)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "%s: the group is NULL", what);
    if (g->state == GROUP_CLOSED)
        return kk_error_set(err, KK_ERR_STATE, "%s: group %s is closed", what, g->group_id);
    if (g->in_callback)
        return kk_error_set(err, KK_ERR_STATE, "%s: not allowed inside a rebalance callback", what);
    return KK_OK;
}

static int64_t join_deadline_for(const kk_group_t *g, int timeout_ms) {
    int budget = timeout_ms > g->cfg.session_timeout_ms ? timeout_ms : g->cfg.session_timeout_ms;
    return kk_monotonic_ms() + budget;
}

int kk_group_join(kk_group_t *g, int timeout_ms, kk_error_t *err) {
    kk_error_clear(err);
    int rc = check_usable(g, "kk_group_join", err);
    if (rc != KK_OK)
        return rc;
    rc = maintain(g, kk_monotonic_ms() + (timeout_ms < 0 ? 0 : timeout_ms), err);
    if (group_churn(rc)) {
        kk_error_prefix(err, "group %s: still rebalancing after %d ms: ", g->group_id, timeout_ms);
        if (err)
            err->code = KK_ERR_TIMED_OUT;
        return KK_ERR_TIMED_OUT;
    }
    return rc;
}

int kk_group_poll(kk_group_t *g, int timeout_ms, kk_fetch_batch_t **out,
                  kk_topic_partition_t *partition, kk_error_t *err) {
    kk_error_clear(err);
    int rc = check_usable(g, "kk_group_poll", err);
    if (rc != KK_OK)
        return rc;
    if (!out)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "kk_group_poll: out is NULL");
    *out = NULL;
    if (partition)
        *partition = (kk_topic_partition_t){NULL, -1};
    if (timeout_ms < 0)
        timeout_ms = 0;
    int64_t deadline = kk_monotonic_ms() + timeout_ms;
    for (;;) {
        rc = maintain(g, join_deadline_for(g, timeout_ms), err);
        if (group_churn(rc)) {
            /* the group is still forming: no batch yet, and nothing for the caller to do */
            kk_log(g->client, KK_LOG_INFO, "group %s: still rebalancing: %s", g->group_id,
                   err ? err->message : kk_err_name(rc));
            kk_error_clear(err);
            if (kk_monotonic_ms() >= deadline)
                return KK_OK;
            continue;
        }
        if (rc != KK_OK)
            return rc;
        int left = remaining_ms(deadline);
        if (g->claim_count == 0) {
            /* nothing claimed (more members than partitions): wait for a rebalance */
            int nap = left < 100 ? left : 100;
            if (kk_conn_sleep(&g->client->conn_opts, nap) != KK_OK)
                return kk_error_set(err, KK_ERR_INTERRUPTED, "group %s: interrupted", g->group_id);
            if (kk_monotonic_ms() >= deadline)
                return KK_OK;
            continue;
        }
        claim_t *c = &g->claims[g->next_claim++ % g->claim_count];
        kk_fetch_options_t opts = KK_FETCH_OPTIONS_DEFAULT;
        opts.max_wait_ms = g->cfg.max_wait_ms < left ? g->cfg.max_wait_ms : left;
        kk_fetch_batch_t *batch = NULL;
        rc = kk_consumer_fetch(c->consumer, &opts, &batch, err);
        if (rc == KK_ERR_INTERRUPTED)
            return rc;
        if (rc != KK_OK) {
            if (!kk_err_is_retriable(rc)) {
                kk_error_prefix(err, "group %s: %s[%d]: ", g->group_id, c->topic,
                                (int)c->partition);
                return rc;
            }
            kk_log(g->client, KK_LOG_WARNING, "group %s: fetching %s[%d]: %s", g->group_id,
                   c->topic, (int)c->partition, err ? err->message : kk_err_name(rc));
            kk_error_clear(err);
        } else {
            int64_t position = kk_consumer_next_offset(c->consumer);
            if (position > c->consumed)
                c->consumed = position;
            if (batch->count > 0) {
                *out = batch;
                if (partition)
                    *partition = (kk_topic_partition_t){c->topic, c->partition};
                return KK_OK;
            }
            kk_fetch_batch_free(batch);
        }
        if (kk_monotonic_ms() >= deadline)
            return KK_OK;
    }
}

int kk_group_commit(kk_group_t *g, const char *topic, int32_t partition, int64_t offset,
                    kk_error_t *err) {
    kk_error_clear(err);
    if (!g)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "kk_group_commit: the group is NULL");
    if (g->state == GROUP_CLOSED)
        return kk_error_set(err, KK_ERR_STATE, "kk_group_commit: group %s is closed", g->group_id);
    if (!topic || offset < 0)
        return kk_error_set(err, KK_ERR_INVALID_ARG,
                            "kk_group_commit: need a topic and an offset >= 0");
    claim_t *c = g->state == GROUP_MEMBER || g->revoking ? find_claim(g, topic, partition) : NULL;
    int lost = atomic_load(&g->hb.rejoin);
    if (!c || !g->claims_started || lost == 22 || lost == 25)
        return kk_error_set(err, KK_ERR_NOT_ASSIGNED,
                            "group %s: %s[%d] is not claimed by this member%s", g->group_id, topic,
                            (int)partition, c ? " any more (the group rebalanced)" : "");
    if (offset <= c->committed)
        return KK_OK; /* commits never go backwards */
    claim_t *claims[] = {c};
    return commit_claims(g, claims, &offset, 1, kk_monotonic_ms() + g->cfg.session_timeout_ms, err);
}

int kk_group_commit_consumed(kk_group_t *g, kk_error_t *err) {
    kk_error_clear(err);
    if (!g)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "kk_group_commit_consumed: the group is NULL");
    if (g->state == GROUP_CLOSED)
        return kk_error_set(err, KK_ERR_STATE, "kk_group_commit_consumed: group %s is closed",
                            g->group_id);
    int lost = atomic_load(&g->hb.rejoin);
    if (g->state == GROUP_MEMBER && (lost == 22 || lost == 25))
        return kk_error_set(
            err, KK_ERR_NOT_ASSIGNED,
            "group %s: this member lost its claims in a rebalance; nothing committed", g->group_id);
    if (g->state != GROUP_MEMBER && !g->revoking)
        return KK_OK; /* nothing claimed, nothing consumed */
    return commit_consumed(g, kk_monotonic_ms() + g->cfg.session_timeout_ms, err);
}

int kk_group_committed(kk_group_t *g, const char *topic, int32_t partition, int64_t *offset,
                       kk_error_t *err) {
    kk_error_clear(err);
    if (!g || !topic || !offset || partition < 0)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "kk_group_committed: bad argument");
    if (g->state == GROUP_CLOSED)
        return kk_error_set(err, KK_ERR_STATE, "kk_group_committed: group %s is closed",
                            g->group_id);
    *offset = -1;
    kk_topic_partition_t tp = {topic, partition};
    fetch_offsets_arg_t arg = {&tp, 1, {0}};
    int rc = with_coordinator(g, fetch_offsets_op, &arg,
                              kk_monotonic_ms() + g->cfg.session_timeout_ms, err);
    if (rc == KK_OK)
        rc = committed_in(&arg.result, topic, partition, offset, err);
    kk_partition_offsets_free(&arg.result);
    return rc;
}

static int leave_op(kk_group_t *g, kk_conn_t *conn, void *arg, kk_error_t *err) {
    (void)arg;
    int16_t version = kk_conn_version(conn, KK_API_LEAVE_GROUP);
    if (version < 0)
        return kk_error_set(err, KK_ERR_UNSUPPORTED_VERSION,
                            "%s: the coordinator supports no LeaveGroup version we speak",
                            conn->label);
    kk_writer_t *w = kk_conn_begin(conn, KK_API_LEAVE_GROUP, version);
    kk_encode_leave_group_request(w, version, g->group_id, g->member_id, NULL,
                                  "the member is closing");
    kk_reader_t r;
    int rc = kk_conn_roundtrip(conn, &r, err);
    if (rc != KK_OK)
        return rc;
    int16_t code = 0, member_code = 0;
    rc = kk_decode_leave_group_response(&r, version, &code, &member_code, err);
    if (rc != KK_OK) {
        kk_conn_close(conn);
        return rc;
    }
    if (code == 0)
        code = member_code;
    return code ? kk_error_set_broker(err, code, "LeaveGroup") : KK_OK;
}

int kk_group_close(kk_group_t *g, kk_error_t *err) {
    kk_error_clear(err);
    if (!g)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "kk_group_close: the group is NULL");
    if (g->state == GROUP_CLOSED)
        return KK_OK;
    if (g->in_callback)
        return kk_error_set(err, KK_ERR_STATE,
                            "kk_group_close: not allowed inside a rebalance callback");
    int rc = KK_OK;
    int lost = atomic_load(&g->hb.rejoin);
    if (g->state == GROUP_MEMBER && g->cfg.auto_commit_interval_ms > 0 && lost != 22 && lost != 25)
        rc = commit_consumed(g, kk_monotonic_ms() + g->cfg.session_timeout_ms, err);
    revoke_claims(g, true); /* committed above already */
    if (g->member_id[0]) {
        kk_error_t leave_err;
        kk_error_clear(&leave_err);
        int64_t deadline = kk_monotonic_ms() + g->cfg.retry_backoff_ms * 3;
        if (with_coordinator(g, leave_op, NULL, deadline, &leave_err) != KK_OK)
            kk_log(g->client, KK_LOG_WARNING,
                   "group %s: leaving failed (the coordinator drops us after the "
                   "session timeout): %s",
                   g->group_id, leave_err.message);
        else
            kk_log(g->client, KK_LOG_INFO, "group %s: left the group", g->group_id);
    }
    kk_conn_close(&g->coord);
    g->state = GROUP_CLOSED;
    g->generation = -1;
    return rc;
}
