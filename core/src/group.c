/*
 * The consumer group member's public face: configuration, construction, accessors, and the
 * calls that drive it (kk_group_join, kk_group_poll, kk_group_close). The member finds the
 * coordinator, joins (the leader runs the assignor), syncs, starts each claimed partition at
 * its committed offset with one partition consumer, commits, rejoins when the coordinator
 * asks, and leaves; the pieces live in the group_*.c files (see group_internal.h).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "consumer_internal.h"
#include "group_internal.h"

/* Answers that only mean "the group is still forming": never returned from kk_group_poll. */
static bool group_churn(int code) { return generation_lost(code) || code == 79; }

static int remaining_ms(int64_t deadline) {
    int64_t left = deadline - kk_monotonic_ms();
    return left <= 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
}

/* ---- construction ----------------------------------------------------------------------- */

void kk_group_config_init(kk_group_config_t *cfg) { kk_config_defaults(KK_CONFIG_GROUP, cfg); }

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
    const char *remote = cfg->group_remote_assignor;
    if (remote && remote[0] && strcmp(remote, "uniform") != 0 && strcmp(remote, "range") != 0)
        return kk_error_set(err, KK_ERR_INVALID_ARG,
                            "option 'group_remote_assignor' takes 'uniform', 'range' or nothing "
                            "(the broker's default), not '%s'",
                            remote);
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
    g->pid = getpid();
    kk_conn_init(&g->coord, "", 0, &(kk_conn_options_t){0});
    kk_conn_init(&g->hb.conn, "", 0, &(kk_conn_options_t){0});
    g->group_id = dup_str(cfg->group_id);
    g->assignor = dup_str(cfg->assignor ? cfg->assignor : "range");
    g->member_id = dup_str("");
    g->topics = calloc(cfg->topic_count, sizeof(*g->topics));
    g->topic_ids = calloc(cfg->topic_count, sizeof(*g->topic_ids));
    bool oom = !g->group_id || !g->assignor || !g->member_id || !g->topics || !g->topic_ids;
    if (cfg->group_instance_id && cfg->group_instance_id[0])
        oom |= !(g->instance_id = dup_str(cfg->group_instance_id));
    if (cfg->group_remote_assignor && cfg->group_remote_assignor[0])
        oom |= !(g->remote_assignor = dup_str(cfg->group_remote_assignor));
    pthread_mutex_init(&g->hb.lock, NULL);
    g->hb.consumer_protocol = cfg->group_protocol == KK_GROUP_PROTOCOL_CONSUMER;
    g->hb.instance_id = g->instance_id;
    atomic_store(&g->hb.member_epoch, 0);
    atomic_store(&g->hb.cg_interval_ms, 1000);
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
    g->cfg.group_instance_id = g->instance_id;
    g->cfg.group_remote_assignor = g->remote_assignor;
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
    /* nor an OAUTHBEARER token provider: it borrows the tokens the caller's thread obtains */
    kk_sasl_share_oauth(&g->hb.client->sasl, &g->client->sasl);
    kk_client_use_metrics(g->hb.client, g->client->metrics); /* counters are atomics */
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
void kk_group_free(kk_group_t *g) {
    if (!g)
        return;
    kk_grp_forked(g);
    kk_grp_heartbeat_stop(g);
    kk_grp_free_claims(g);
    kk_grp_free_watched(g);
    free(g->carried);
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
    free(g->instance_id);
    free(g->remote_assignor);
    free(g->topic_ids);
    kk_cg_topic_partitions_free(g->hb.pending_assigned, g->hb.pending_count);
    pthread_mutex_destroy(&g->hb.lock);
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
size_t kk_group_claimed(const kk_group_t *g, kk_topic_partition_t *out, size_t cap) {
    if (!g || g->state != GROUP_MEMBER)
        return 0;
    return kk_grp_copy_claims(g, out, cap);
}

/* ---- pause, resume, seek ---------------------------------------------------------------- */

/* The claim of (topic, partition), or NULL with err filled. Allowed inside the callbacks. */
static claim_t *claim_for(kk_group_t *g, const char *what, const char *topic, int32_t partition,
                          kk_error_t *err) {
    kk_error_clear(err);
    if (!g || !topic) {
        kk_error_set(err, KK_ERR_INVALID_ARG, "%s: NULL argument", what);
        return NULL;
    }
    kk_grp_forked(g);
    if (g->state == GROUP_CLOSED) {
        kk_error_set(err, KK_ERR_STATE, "%s: group %s is closed", what, g->group_id);
        return NULL;
    }
    claim_t *c = kk_grp_find_claim(g, topic, partition);
    if (!c)
        kk_error_set(err, KK_ERR_NOT_ASSIGNED, "%s: group %s: this member does not own %s[%d]",
                     what, g->group_id, topic, (int)partition);
    return c;
}

int kk_group_pause(kk_group_t *g, const char *topic, int32_t partition, kk_error_t *err) {
    claim_t *c = claim_for(g, "kk_group_pause", topic, partition, err);
    if (!c)
        return err ? err->code : KK_ERR_NOT_ASSIGNED;
    c->paused = true;
    return KK_OK;
}

int kk_group_resume(kk_group_t *g, const char *topic, int32_t partition, kk_error_t *err) {
    claim_t *c = claim_for(g, "kk_group_resume", topic, partition, err);
    if (!c)
        return err ? err->code : KK_ERR_NOT_ASSIGNED;
    c->paused = false;
    return KK_OK;
}

int kk_group_seek(kk_group_t *g, const char *topic, int32_t partition, int64_t offset,
                  kk_error_t *err) {
    if (offset < 0)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "kk_group_seek: offset %lld is negative",
                            (long long)offset);
    claim_t *c = claim_for(g, "kk_group_seek", topic, partition, err);
    if (!c)
        return err ? err->code : KK_ERR_NOT_ASSIGNED;
    c->seek_to = offset; /* until a batch from there is returned, or the claim's start */
    if (c->consumer)
        kk_consumer_set_position(c->consumer, offset);
    return KK_OK;
}

size_t kk_group_paused(const kk_group_t *g, kk_topic_partition_t *out, size_t cap) {
    size_t n = 0;
    for (size_t i = 0; g && i < g->claim_count; i++) {
        if (!g->claims[i].paused)
            continue;
        if (out && n < cap)
            out[n] = (kk_topic_partition_t){g->claims[i].topic, g->claims[i].partition};
        n++;
    }
    return n;
}

static int check_usable(kk_group_t *g, const char *what, kk_error_t *err) {
    if (!g)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "%s: the group is NULL", what);
    kk_grp_forked(g);
    if (g->state == GROUP_CLOSED)
        return kk_error_set(err, KK_ERR_STATE, "%s: group %s is closed", what, g->group_id);
    if (g->in_callback)
        return kk_error_set(err, KK_ERR_STATE, "%s: not allowed inside a rebalance callback", what);
    return KK_OK;
}

/* The protocol's own steps: KIP-848's in group_consumer.c, the classic ones in
 * group_membership.c (neither calls the other's). */
static int maintain(kk_group_t *g, int64_t join_deadline, kk_error_t *err) {
    if (g->cfg.group_protocol == KK_GROUP_PROTOCOL_CONSUMER)
        return kk_grp_cg_maintain(g, join_deadline, err);
    return kk_grp_maintain(g, join_deadline, err);
}

static int leave(kk_group_t *g, int64_t deadline, kk_error_t *err) {
    if (g->cfg.group_protocol == KK_GROUP_PROTOCOL_CONSUMER)
        return kk_grp_cg_leave(g, deadline, err);
    return kk_grp_leave(g, deadline, err);
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
    /* the heartbeat thread authenticates with the OAUTHBEARER token this thread last obtained */
    rc = kk_sasl_oauth_refresh(&g->client->sasl, false, err);
    if (rc != KK_OK)
        return rc;
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
        claim_t *c = NULL;
        for (size_t tried = 0; tried < g->claim_count && !c; tried++) {
            claim_t *next = &g->claims[g->next_claim++ % g->claim_count];
            if (!next->paused)
                c = next;
        }
        if (!c) {
            /* nothing claimed (more members than partitions) or everything paused: wait for a
             * rebalance or the deadline */
            int nap = left < 100 ? left : 100;
            if (kk_conn_sleep(&g->client->conn_opts, nap) != KK_OK)
                return kk_error_set(err, KK_ERR_INTERRUPTED, "group %s: interrupted", g->group_id);
            if (kk_monotonic_ms() >= deadline)
                return KK_OK;
            continue;
        }
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
            if (batch->count > 0 && g->cfg.group_protocol == KK_GROUP_PROTOCOL_CONSUMER &&
                !kk_grp_cg_still_member(g, err)) {
                kk_fetch_batch_free(batch); /* fenced: these partitions are not ours now */
                continue;
            }
            if (batch->count > 0) {
                c->seek_to = -1; /* the position has moved on from the sought offset */
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
int kk_group_close(kk_group_t *g, kk_error_t *err) {
    kk_error_clear(err);
    if (!g)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "kk_group_close: the group is NULL");
    kk_grp_forked(g);
    if (g->state == GROUP_CLOSED)
        return KK_OK;
    if (g->in_callback)
        return kk_error_set(err, KK_ERR_STATE,
                            "kk_group_close: not allowed inside a rebalance callback");
    int rc = KK_OK;
    int lost = atomic_load(&g->hb.rejoin);
    if (g->state == GROUP_MEMBER && g->cfg.auto_commit_interval_ms > 0 && lost != 22 &&
        lost != 25 && lost != 110)
        rc = kk_grp_commit_consumed(g, kk_monotonic_ms() + g->cfg.session_timeout_ms, err);
    kk_grp_revoke_claims(g, true); /* committed above already */
    if (g->member_id[0]) {
        kk_error_t leave_err;
        kk_error_clear(&leave_err);
        int64_t deadline = kk_monotonic_ms() + g->cfg.retry_backoff_ms * 3;
        if (leave(g, deadline, &leave_err) != KK_OK)
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

void kk_group_stats(kk_group_t *g, kk_stats_t *out) {
    kk_metrics_read(g ? g->client->metrics : NULL, out);
    for (size_t i = 0; g && i < g->claim_count; i++) {
        const claim_t *c = &g->claims[i];
        int64_t position = c->consumer        ? kk_consumer_next_offset(c->consumer)
                           : c->consumed >= 0 ? c->consumed
                                              : c->committed;
        kk_stats_add_partition(out, c->topic, c->partition, position,
                               c->consumer ? kk_consumer_highwater_mark(c->consumer) : -1);
    }
}
