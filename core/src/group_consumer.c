/*
 * The next-generation consumer group protocol (KIP-848, group_protocol consumer). The
 * coordinator assigns; a member only says what it subscribes to and what it owns, with
 * ConsumerGroupHeartbeat, and reconciles: it gives up (on_revoke, commit) exactly the
 * partitions the coordinator took away, acknowledges by listing what it still owns, and
 * starts the partitions it was given (the coordinator gives a partition only once its
 * previous owner has released it). Members that keep their partitions never stop.
 *
 * Threads: the caller's thread sends heartbeats from kk_group_poll when they are due, and all
 * that changes membership (join, acknowledgements, leaving). The heartbeat thread only keeps
 * the session alive while the application is busy: it sends "nothing changed" heartbeats
 * when the caller's thread has not sent one for an interval, and keeps any assignment the
 * answer carries in hb->pending for the caller's thread. Both send under hb->lock, one at a
 * time, so the member epoch they send is always the coordinator's latest.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "group_internal.h"

/* ---- member ids (KIP-1082: v1+ members make their own) ---------------------------------- */

static void random_bytes(uint8_t *out, size_t n) {
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    size_t got = 0;
    while (fd >= 0 && got < n) {
        ssize_t r = read(fd, out + got, n - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (fd >= 0)
        close(fd);
    if (got < n) { /* no /dev/urandom: time and pid are unique enough for a member id */
        uint64_t x = (uint64_t)kk_monotonic_ms() * 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();
        for (size_t i = got; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            out[i] = (uint8_t)x;
        }
    }
}

/* A random UUID written as Kafka writes one: URL-safe base64 without padding (22 chars). */
static void make_member_id(char out[23]) {
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint8_t b[18] = {0};
    random_bytes(b, 16);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    size_t o = 0;
    for (size_t i = 0; i < 18 && o < 22; i += 3) {
        uint32_t v = (uint32_t)b[i] << 16 | (uint32_t)b[i + 1] << 8 | b[i + 2];
        for (int k = 3; k >= 0 && o < 22; k--)
            out[o++] = alphabet[(v >> (6 * k)) & 63];
    }
    out[22] = '\0';
}

/* ---- one heartbeat, from either thread -------------------------------------------------- */

static bool all_zero(const uint8_t id[16]) {
    for (int i = 0; i < 16; i++)
        if (id[i])
            return false;
    return true;
}

/* Sends one heartbeat on conn (hb->lock held) and takes in the answer: epoch, interval, and
 * an assignment for the caller's thread. Returns the broker's error code as an error. */
static int cg_send_locked(heartbeat_t *hb, kk_conn_t *conn, kk_cg_heartbeat_in_t *in,
                          char **member_id_out, kk_error_t *err) {
    int16_t version = kk_conn_version(conn, KK_API_CONSUMER_GROUP_HEARTBEAT);
    if (version < 0)
        return kk_error_set(err, KK_ERR_UNSUPPORTED_VERSION,
                            "%s: the coordinator does not speak ConsumerGroupHeartbeat (KIP-848 "
                            "needs Kafka 4.0+); use group_protocol classic",
                            conn->label);
    kk_writer_t *w = kk_conn_begin(conn, KK_API_CONSUMER_GROUP_HEARTBEAT, version);
    kk_encode_cg_heartbeat_request(w, version, in);
    kk_reader_t r;
    int rc = kk_conn_roundtrip(conn, &r, err);
    if (rc != KK_OK) {
        hb->cg_send_full = true; /* the answer may have carried an assignment */
        return rc;
    }
    kk_cg_heartbeat_result_t res;
    rc = kk_decode_cg_heartbeat_response(&r, version, &res, err);
    if (rc != KK_OK) {
        kk_conn_close(conn);
        hb->cg_send_full = true;
        return rc;
    }
    hb->cg_last_sent_ms = kk_monotonic_ms();
    if (res.error_code != 0) {
        int code = res.error_code;
        kk_error_set(err, code, "ConsumerGroupHeartbeat: %s (%d)%s%s", kk_err_name(code), code,
                     res.error_message ? ": " : "", res.error_message ? res.error_message : "");
        kk_cg_heartbeat_result_free(&res);
        if (coordinator_retriable(code))
            hb->cg_send_full = true;
        return code;
    }
    if (in->member_epoch < 0) { /* we left: nothing more to keep */
        kk_cg_heartbeat_result_free(&res);
        return KK_OK;
    }
    if (member_id_out && res.member_id && res.member_id[0]) {
        *member_id_out = res.member_id;
        res.member_id = NULL;
    }
    atomic_store(&hb->member_epoch, res.member_epoch);
    if (res.heartbeat_interval_ms > 0)
        atomic_store(&hb->cg_interval_ms, res.heartbeat_interval_ms);
    atomic_store(&hb->last_ok_ms, (long long)kk_monotonic_ms());
    if (res.has_assignment) {
        kk_cg_topic_partitions_free(hb->pending_assigned, hb->pending_count);
        hb->pending_assigned = res.assigned;
        hb->pending_count = res.assigned_count;
        hb->pending = true;
        res.assigned = NULL;
        res.assigned_count = 0;
    }
    kk_cg_heartbeat_result_free(&res);
    return KK_OK;
}

/* ---- the heartbeat thread ----------------------------------------------------------------- */

void *kk_grp_cg_heartbeat_main(void *arg) {
    heartbeat_t *hb = arg;
    int wait_ms = 0;
    while (!atomic_load(&hb->stop)) {
        int interval = atomic_load(&hb->cg_interval_ms);
        int nap = wait_ms > 0 ? wait_ms : interval / 4 > 0 ? interval / 4 : 1;
        if (kk_conn_sleep(&hb->client->conn_opts, nap) != KK_OK || atomic_load(&hb->stop))
            break;
        wait_ms = 0;
        pthread_mutex_lock(&hb->lock);
        if (kk_monotonic_ms() - hb->cg_last_sent_ms < interval) {
            pthread_mutex_unlock(&hb->lock); /* the caller's thread keeps it alive */
            continue;
        }
        kk_error_t err;
        kk_error_clear(&err);
        int rc = kk_grp_hb_connect(hb, &err);
        if (rc == KK_OK) {
            kk_cg_heartbeat_in_t in = {
                .group_id = hb->group_id,
                .member_id = hb->member_id,
                .member_epoch = atomic_load(&hb->member_epoch),
                .rebalance_timeout_ms = -1,
            };
            rc = cg_send_locked(hb, &hb->conn, &in, NULL, &err);
        }
        pthread_mutex_unlock(&hb->lock);
        if (rc == KK_OK)
            continue;
        if (rc == KK_ERR_INTERRUPTED)
            break;
        if (rc == 25 || rc == 110) {
            atomic_store(&hb->rejoin, rc);
            break; /* fenced: the caller's thread gives up the partitions and joins again */
        }
        if (coordinator_retriable(rc)) {
            if (coordinator_moved(rc)) {
                kk_conn_close(&hb->conn);
                hb->coordinator_known = false;
            }
            wait_ms = hb->retry_backoff_ms < interval ? hb->retry_backoff_ms : interval;
            continue;
        }
        hb->fatal_err = err;
        atomic_store(&hb->fatal, rc);
        break;
    }
    return NULL;
}

/* ---- the caller's thread ------------------------------------------------------------------ */

typedef struct cg_send_arg {
    int32_t epoch; /* what to send; > 0: the current epoch */
    bool full;     /* every field, as a join does */
    bool owned;    /* list the owned partitions (an acknowledgement) */
    char *given_member_id;
} cg_send_arg_t;

/* The owned partitions, grouped by topic id. */
static kk_cg_topic_partitions_t *owned_partitions(kk_group_t *g, size_t *count, bool *oom) {
    *count = 0;
    kk_cg_topic_partitions_t *tps = calloc(g->topic_count ? g->topic_count : 1, sizeof(*tps));
    if (!tps) {
        *oom = true;
        return NULL;
    }
    for (size_t t = 0; t < g->topic_count; t++) {
        size_t n = 0;
        for (size_t i = 0; i < g->claim_count; i++)
            n += strcmp(g->claims[i].topic, g->topics[t]) == 0;
        if (n == 0)
            continue;
        kk_cg_topic_partitions_t *tp = &tps[(*count)++];
        memcpy(tp->topic_id, g->topic_ids[t], 16);
        if (!(tp->partitions = malloc(n * sizeof(*tp->partitions)))) {
            *oom = true;
            break;
        }
        for (size_t i = 0; i < g->claim_count; i++)
            if (strcmp(g->claims[i].topic, g->topics[t]) == 0)
                tp->partitions[tp->count++] = g->claims[i].partition;
    }
    return tps;
}

static int cg_send_op(kk_group_t *g, kk_conn_t *conn, void *arg_ptr, kk_error_t *err) {
    cg_send_arg_t *arg = arg_ptr;
    bool oom = false;
    size_t owned_count = 0;
    kk_cg_topic_partitions_t *owned =
        arg->owned || arg->full ? owned_partitions(g, &owned_count, &oom) : NULL;
    if (oom) {
        kk_cg_topic_partitions_free(owned, owned_count);
        return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
    }
    heartbeat_t *hb = &g->hb;
    pthread_mutex_lock(&hb->lock);
    bool full = arg->full || (hb->cg_send_full && arg->epoch >= 0);
    kk_cg_heartbeat_in_t in = {
        .group_id = g->group_id,
        .member_id = g->member_id,
        .member_epoch = arg->epoch > 0 ? atomic_load(&hb->member_epoch) : arg->epoch,
        .instance_id = full || arg->epoch < 0 ? g->instance_id : NULL,
        .rebalance_timeout_ms = full ? g->cfg.rebalance_timeout_ms : -1,
        .send_topics = full,
        .topics = (const char *const *)g->topics,
        .topic_count = g->topic_count,
        .server_assignor = full ? g->remote_assignor : NULL,
        .send_owned = full || arg->owned,
        .owned = owned,
        .owned_count = owned_count,
    };
    int rc = cg_send_locked(hb, conn, &in, &arg->given_member_id, err);
    if (rc == KK_OK && full)
        hb->cg_send_full = false;
    pthread_mutex_unlock(&hb->lock);
    kk_cg_topic_partitions_free(owned, owned_count);
    return rc;
}

/* The subscription's topic ids (Metadata v10+); the first join also fails clearly on topics
 * that do not exist. */
static int resolve_topic_ids(kk_group_t *g, kk_error_t *err) {
    kk_metadata_t *md = NULL;
    int rc =
        kk_client_metadata(g->client, (const char *const *)g->topics, g->topic_count, &md, err);
    if (rc != KK_OK)
        return rc;
    char missing[KK_ERROR_MESSAGE_SIZE] = "";
    size_t used = 0, n = 0;
    for (size_t i = 0; i < g->topic_count; i++) {
        const kk_topic_info_t *t = kk_metadata_topic(md, g->topics[i]);
        if (t && t->error_code == 0 && !all_zero(t->topic_id)) {
            memcpy(g->topic_ids[i], t->topic_id, 16);
            continue;
        }
        if (t && t->error_code != 0 && t->error_code != 3)
            continue; /* says nothing about the topic; keep what we knew */
        n++;
        int w = snprintf(missing + used, sizeof(missing) - used, "%s%s", used ? ", " : "",
                         g->topics[i]);
        used += w > 0 && (size_t)w < sizeof(missing) - used ? (size_t)w : 0;
    }
    kk_metadata_free(md);
    if (n && !g->topics_verified)
        return kk_error_set(err, 3, "group %s: %zu subscribed topic(s) do not exist: %s",
                            g->group_id, n, missing);
    g->topics_verified = true;
    return KK_OK;
}

static const char *topic_of_id(const kk_group_t *g, const uint8_t id[16]) {
    for (size_t t = 0; t < g->topic_count; t++)
        if (memcmp(g->topic_ids[t], id, 16) == 0 && !all_zero(id))
            return g->topics[t];
    return NULL;
}

static int compare_claims(const void *a, const void *b) {
    const claim_t *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

static bool target_has(const kk_topic_partition_t *target, size_t n, const claim_t *c) {
    for (size_t i = 0; i < n; i++)
        if (target[i].partition == c->partition && strcmp(target[i].topic, c->topic) == 0)
            return true;
    return false;
}

/* Makes the claims the coordinator's assignment: revokes what it took away (commit, then
 * on_revoke while still owned), adds what it gave (started by kk_grp_start_claims).
 * *changed: whether anything changed, so the caller acknowledges. */
static int reconcile(kk_group_t *g, kk_cg_topic_partitions_t *assigned, size_t count, bool *changed,
                     kk_error_t *err) {
    size_t total = 0;
    for (size_t i = 0; i < count; i++)
        total += assigned[i].count;
    kk_topic_partition_t *target = calloc(total ? total : 1, sizeof(*target));
    if (!target)
        return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
    size_t n = 0;
    bool refreshed = false;
    for (size_t i = 0; i < count; i++) {
        const char *topic = topic_of_id(g, assigned[i].topic_id);
        if (!topic && !refreshed) { /* a topic recreated under a new id */
            refreshed = true;
            kk_error_t md_err;
            if (resolve_topic_ids(g, &md_err) != KK_OK)
                kk_log(g->client, KK_LOG_WARNING, "group %s: %s", g->group_id, md_err.message);
            topic = topic_of_id(g, assigned[i].topic_id);
        }
        if (!topic) {
            kk_log(g->client, KK_LOG_WARNING,
                   "group %s: ignoring %zu assigned partition(s) of a topic id we do not know",
                   g->group_id, assigned[i].count);
            continue;
        }
        for (size_t p = 0; p < assigned[i].count; p++)
            if (assigned[i].partitions[p] >= 0)
                target[n++] = (kk_topic_partition_t){topic, assigned[i].partitions[p]};
    }

    /* what the coordinator took away: commit it and tell the application while it is ours */
    size_t revoked = 0;
    kk_topic_partition_t *gone = calloc(g->claim_count ? g->claim_count : 1, sizeof(*gone));
    if (!gone) {
        free(target);
        return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
    }
    for (size_t i = 0; i < g->claim_count; i++)
        if (!target_has(target, n, &g->claims[i]))
            gone[revoked++] = (kk_topic_partition_t){g->claims[i].topic, g->claims[i].partition};
    if (revoked) {
        *changed = true;
        if (g->cfg.auto_commit_interval_ms > 0 && g->claims_started) {
            kk_error_t commit_err;
            kk_error_clear(&commit_err);
            if (kk_grp_commit_consumed(g, kk_monotonic_ms() + g->cfg.session_timeout_ms,
                                       &commit_err) != KK_OK)
                kk_log(g->client, KK_LOG_WARNING, "group %s: commit before revoking failed: %s",
                       g->group_id, commit_err.message);
        }
        size_t announced = 0;
        for (size_t i = 0; i < revoked; i++) {
            claim_t *c = kk_grp_find_claim(g, gone[i].topic, gone[i].partition);
            if (c && c->announced)
                gone[announced++] = gone[i];
        }
        g->revoking = true;
        if (announced)
            kk_grp_call_back_with(g, g->cfg.on_revoke, gone, announced);
        g->revoking = false;
        size_t kept = 0;
        for (size_t i = 0; i < g->claim_count; i++) {
            if (target_has(target, n, &g->claims[i])) {
                g->claims[kept++] = g->claims[i];
            } else {
                kk_log(g->client, KK_LOG_INFO, "group %s: gave up %s[%d]", g->group_id,
                       g->claims[i].topic, (int)g->claims[i].partition);
                kk_consumer_free(g->claims[i].consumer);
            }
        }
        g->claim_count = kept;
        g->next_claim = 0;
    }
    free(gone);

    /* what it gave: new claims, started (committed offsets, consumers, on_assign) below */
    size_t added = 0;
    for (size_t i = 0; i < n; i++)
        added += kk_grp_find_claim(g, target[i].topic, target[i].partition) == NULL;
    if (added) {
        *changed = true;
        claim_t *grown = realloc(g->claims, (g->claim_count + added) * sizeof(*grown));
        if (!grown) {
            free(target);
            return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
        }
        g->claims = grown;
        size_t before = g->claim_count;
        for (size_t i = 0; i < n; i++) {
            bool known = false;
            for (size_t j = 0; j < before && !known; j++)
                known = g->claims[j].partition == target[i].partition &&
                        strcmp(g->claims[j].topic, target[i].topic) == 0;
            for (size_t j = before; j < g->claim_count && !known; j++)
                known = g->claims[j].partition == target[i].partition &&
                        strcmp(g->claims[j].topic, target[i].topic) == 0;
            if (!known)
                g->claims[g->claim_count++] =
                    kk_grp_new_claim(target[i].topic, target[i].partition);
        }
        qsort(g->claims, g->claim_count, sizeof(*g->claims), compare_claims);
        kk_grp_apply_carried(g); /* after a fence: what the claims had before */
        g->claims_started = false;
        g->next_claim = 0;
    }
    free(target);
    return KK_OK;
}

/* Gives up every claim without committing (fenced: another member may own them by now). */
static void lose_claims(kk_group_t *g, int code) {
    kk_log(g->client, KK_LOG_WARNING,
           "group %s: the coordinator fenced this member (%s); giving up %zu partition(s) "
           "without committing and joining again",
           g->group_id, kk_err_name(code), g->claim_count);
    kk_grp_revoke_claims(g, true);
    pthread_mutex_lock(&g->hb.lock);
    kk_cg_topic_partitions_free(g->hb.pending_assigned, g->hb.pending_count);
    g->hb.pending_assigned = NULL;
    g->hb.pending_count = 0;
    g->hb.pending = false;
    pthread_mutex_unlock(&g->hb.lock);
    atomic_store(&g->hb.member_epoch, 0);
    g->generation = -1;
    if (code == 25 && kk_conn_version(&g->coord, KK_API_CONSUMER_GROUP_HEARTBEAT) == 0)
        set_string(&g->member_id, "", NULL); /* v0: the coordinator names us again */
}

static int cg_join(kk_group_t *g, int64_t deadline, kk_error_t *err) {
    kk_grp_revoke_claims(g, true); /* nothing is claimed here; stops an old heartbeat thread */
    int rc = resolve_topic_ids(g, err);
    if (rc != KK_OK && g->topics_verified && kk_err_is_retriable(rc)) {
        kk_log(g->client, KK_LOG_WARNING, "group %s: %s", g->group_id, err ? err->message : "");
        kk_error_clear(err);
        rc = KK_OK;
    }
    if (rc != KK_OK)
        return rc;
    for (;;) {
        rc = kk_grp_ensure_coordinator(g, err);
        if (rc == KK_OK && !g->member_id[0] &&
            kk_conn_version(&g->coord, KK_API_CONSUMER_GROUP_HEARTBEAT) >= 1) {
            char id[23];
            make_member_id(id);
            rc = set_string(&g->member_id, id, err);
        }
        cg_send_arg_t arg = {KK_MEMBER_EPOCH_JOIN, true, true, NULL};
        if (rc == KK_OK)
            rc = cg_send_op(g, &g->coord, &arg, err);
        if (arg.given_member_id) {
            if (rc == KK_OK && strcmp(arg.given_member_id, g->member_id) != 0)
                rc = set_string(&g->member_id, arg.given_member_id, err);
            free(arg.given_member_id);
        }
        if (rc == KK_OK)
            break;
        if (rc == KK_ERR_INTERRUPTED)
            return rc;
        /* 111: a static member of this name has not left yet (it may be our last life) */
        if (!coordinator_retriable(rc) && rc != 111)
            return kk_error_prefix(err, "group %s: joining: ", g->group_id), rc;
        if (coordinator_moved(rc))
            kk_grp_coordinator_lost(g);
        if (kk_monotonic_ms() >= deadline) {
            kk_error_prefix(err, "group %s: could not join in time: ", g->group_id);
            return rc;
        }
        kk_log(g->client, KK_LOG_INFO, "group %s: %s; joining again", g->group_id,
               err ? err->message : "");
        if (kk_conn_sleep(&g->client->conn_opts, g->cfg.retry_backoff_ms) != KK_OK)
            return kk_error_set(err, KK_ERR_INTERRUPTED, "group %s: interrupted", g->group_id);
    }
    g->state = GROUP_MEMBER;
    g->generation = atomic_load(&g->hb.member_epoch);
    g->claims_started = true; /* nothing claimed yet; the assignment adds claims */
    kk_log(g->client, KK_LOG_INFO, "group %s: joined (KIP-848) as %s%s%s at epoch %d", g->group_id,
           g->member_id, g->instance_id ? ", instance " : "", g->instance_id ? g->instance_id : "",
           (int)g->generation);
    rc = kk_grp_heartbeat_start(g, kk_grp_cg_heartbeat_main, err);
    if (rc != KK_OK) {
        g->state = GROUP_UNJOINED;
        return rc;
    }
    return KK_OK;
}

/* Sends a heartbeat from the caller's thread (retrying coordinator errors until deadline). */
static int cg_heartbeat(kk_group_t *g, bool ack, int64_t deadline, kk_error_t *err) {
    cg_send_arg_t arg = {1, false, ack, NULL};
    int rc = kk_grp_with_coordinator(g, cg_send_op, &arg, deadline, err);
    free(arg.given_member_id);
    return rc;
}

int kk_grp_cg_maintain(kk_group_t *g, int64_t join_deadline, kk_error_t *err) {
    heartbeat_t *hb = &g->hb;
    for (int round = 0;; round++) {
        int fatal = atomic_load(&hb->fatal);
        if (fatal) {
            kk_grp_heartbeat_stop(g);
            if (err)
                *err = hb->fatal_err;
            atomic_store(&hb->fatal, 0);
            g->state = GROUP_UNJOINED;
            kk_error_prefix(err, "group %s: heartbeat: ", g->group_id);
            return fatal;
        }
        int lost = g->lost_code ? g->lost_code : atomic_exchange(&hb->rejoin, 0);
        g->lost_code = 0;
        if (lost == 25 || lost == 110) {
            lose_claims(g, lost);
            g->state = GROUP_UNJOINED;
        }
        if (g->state != GROUP_MEMBER) {
            if (round > 0 && kk_monotonic_ms() >= join_deadline)
                return kk_error_set(err, 27, "group %s: could not join in time", g->group_id);
            int rc = cg_join(g, join_deadline, err);
            if (rc != KK_OK)
                return rc;
        }
        /* an assignment either thread received: reconcile, then acknowledge */
        bool ack = false;
        for (int changes = 0; changes < 8; changes++) {
            pthread_mutex_lock(&hb->lock);
            bool pending = hb->pending;
            kk_cg_topic_partitions_t *assigned = hb->pending_assigned;
            size_t count = hb->pending_count;
            hb->pending = false;
            hb->pending_assigned = NULL;
            hb->pending_count = 0;
            bool full = hb->cg_send_full;
            pthread_mutex_unlock(&hb->lock);
            g->generation = atomic_load(&hb->member_epoch);
            if (!pending && !full && !ack)
                break;
            bool changed = false;
            int rc = pending ? reconcile(g, assigned, count, &changed, err) : KK_OK;
            kk_cg_topic_partitions_free(assigned, count);
            if (rc != KK_OK)
                return rc;
            if (!g->claims_started && (rc = kk_grp_start_claims(g, join_deadline, err)) != KK_OK) {
                /* the acknowledgement waits until the new partitions could be started */
                if (rc == KK_ERR_INTERRUPTED || !kk_err_is_retriable(rc))
                    return rc;
                kk_log(g->client, KK_LOG_WARNING, "group %s: %s", g->group_id,
                       err ? err->message : "");
                kk_error_clear(err);
                break;
            }
            if (!changed && !full && !ack)
                break;
            rc = cg_heartbeat(g, true, kk_monotonic_ms() + g->cfg.retry_backoff_ms * 5, err);
            ack = false;
            if (rc == 25 || rc == 110) {
                g->lost_code = rc;
                break;
            }
            if (rc == KK_ERR_INTERRUPTED)
                return rc;
            if (rc != KK_OK) {
                kk_log(g->client, KK_LOG_WARNING, "group %s: acknowledging: %s", g->group_id,
                       err ? err->message : "");
                kk_error_clear(err);
                pthread_mutex_lock(&hb->lock);
                hb->cg_send_full = true; /* the next heartbeat says everything again */
                pthread_mutex_unlock(&hb->lock);
                break;
            }
            g->generation = atomic_load(&hb->member_epoch);
        }
        if (g->lost_code)
            continue;
        /* the caller's thread keeps the session alive while it polls */
        pthread_mutex_lock(&hb->lock);
        bool due = kk_monotonic_ms() - hb->cg_last_sent_ms >= atomic_load(&hb->cg_interval_ms);
        pthread_mutex_unlock(&hb->lock);
        if (due) {
            int rc = cg_heartbeat(g, false, kk_monotonic_ms() + g->cfg.retry_backoff_ms, err);
            if (rc == 25 || rc == 110) {
                g->lost_code = rc;
                continue;
            }
            if (rc == KK_ERR_INTERRUPTED)
                return rc;
            if (rc != KK_OK) { /* the heartbeat thread retries too */
                kk_log(g->client, KK_LOG_INFO, "group %s: heartbeat: %s", g->group_id,
                       err ? err->message : "");
                kk_error_clear(err);
            }
            pthread_mutex_lock(&hb->lock);
            bool pending = hb->pending;
            pthread_mutex_unlock(&hb->lock);
            if (pending)
                continue; /* take the new assignment at once */
        }
        bool soft_failure = false;
        int commit_rc = kk_grp_auto_commit(g, &soft_failure, err);
        if (commit_rc != KK_OK)
            return commit_rc;
        if (soft_failure && g->lost_code)
            continue;
        return KK_OK;
    }
}

int kk_grp_cg_leave(kk_group_t *g, int64_t deadline, kk_error_t *err) {
    if (atomic_load(&g->hb.member_epoch) <= 0)
        return KK_OK; /* never joined, or fenced: nothing to leave */
    cg_send_arg_t arg = {g->instance_id ? KK_MEMBER_EPOCH_LEAVE_STATIC : KK_MEMBER_EPOCH_LEAVE,
                         false, false, NULL};
    int rc = kk_grp_with_coordinator(g, cg_send_op, &arg, deadline, err);
    free(arg.given_member_id);
    atomic_store(&g->hb.member_epoch, 0);
    return rc;
}

bool kk_grp_cg_still_member(kk_group_t *g, kk_error_t *err) {
    heartbeat_t *hb = &g->hb;
    int64_t quiet = kk_monotonic_ms() - (int64_t)atomic_load(&hb->last_ok_ms);
    int code = atomic_load(&hb->rejoin);
    if (!code && quiet <= atomic_load(&hb->cg_interval_ms))
        return true;
    /* no answer for an interval (the process may have been stopped): ask before handing out
     * records of partitions that may have moved on */
    if (!code) {
        code = cg_heartbeat(g, false, kk_monotonic_ms() + g->cfg.retry_backoff_ms, err);
        kk_error_clear(err);
    }
    if (code == 25 || code == 110) {
        g->lost_code = code;
        return false;
    }
    return true;
}
