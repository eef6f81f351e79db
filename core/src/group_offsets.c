/*
 * Committed offsets: OffsetFetch and OffsetCommit against the coordinator, for the claims and
 * for the application's kk_group_commit* calls.
 */
#include <stdlib.h>
#include <string.h>

#include "group_internal.h"

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
    /* KIP-848: v9 names the member, so the coordinator answers only a current member (v8 adds
     * nothing for us); a classic member stays on the single-group versions */
    bool kip848 = g->cfg.group_protocol == KK_GROUP_PROTOCOL_CONSUMER && version >= 9;
    if (!kip848 && version > KK_OFFSET_FETCH_SINGLE_GROUP_MAX)
        version = KK_OFFSET_FETCH_SINGLE_GROUP_MAX;
    for (int attempt = 0;; attempt++) {
        int32_t epoch = kip848 ? kk_grp_commit_generation(g) : -1;
        kk_writer_t *w = kk_conn_begin(conn, KK_API_OFFSET_FETCH, version);
        /* not a member yet (kk_group_committed before joining): no member to check */
        kk_encode_offset_fetch_member_request(w, version, g->group_id,
                                              kip848 && epoch >= 0 ? g->member_id : NULL, epoch,
                                              arg->partitions, arg->count, false);
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
        /* as for commits: the heartbeat thread may have moved the member epoch on meanwhile */
        if (arg->result.error_code != 113 /* STALE_MEMBER_EPOCH */ || attempt >= 2 ||
            kk_grp_commit_generation(g) == epoch)
            break;
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
int kk_grp_committed_in(const kk_partition_offsets_t *res, const char *topic, int32_t partition,
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
    bool kip848 = g->cfg.group_protocol == KK_GROUP_PROTOCOL_CONSUMER;
    int rc;
    for (int attempt = 0;; attempt++) {
        int32_t generation = kk_grp_commit_generation(g);
        kk_offset_commit_in_t in = {g->group_id,  generation,
                                    g->member_id, kip848 ? NULL : g->instance_id,
                                    arg->entries, arg->count};
        kk_writer_t *w = kk_conn_begin(conn, KK_API_OFFSET_COMMIT, version);
        kk_encode_offset_commit_request(w, version, &in);
        kk_reader_t r;
        rc = kk_conn_roundtrip(conn, &r, err);
        if (rc != KK_OK)
            return rc;
        kk_partition_offsets_free(&arg->result);
        rc = kk_decode_offset_commit_response(&r, version, &arg->result, err);
        if (rc != KK_OK) {
            kk_conn_close(conn);
            return rc;
        }
        /* KIP-848: the heartbeat thread may have moved the member epoch on meanwhile */
        bool stale = false;
        for (size_t i = 0; i < arg->result.count; i++)
            stale |= arg->result.partitions[i].error_code == 113; /* STALE_MEMBER_EPOCH */
        if (!stale || attempt >= 2 || kk_grp_commit_generation(g) == generation)
            break;
    }
    /* coordinator trouble on any partition: retry the whole commit (it is idempotent) */
    for (size_t i = 0; i < arg->result.count; i++) {
        int code = arg->result.partitions[i].error_code;
        if (code != 0 && coordinator_retriable(code))
            return kk_error_set_broker(err, (int16_t)code, "OffsetCommit");
    }
    return KK_OK;
}
int kk_grp_fetch_committed(kk_group_t *g, const kk_topic_partition_t *partitions, size_t count,
                           int64_t deadline, kk_partition_offsets_t *result, kk_error_t *err) {
    fetch_offsets_arg_t arg = {partitions, count, {0}};
    int rc = kk_grp_with_coordinator(g, fetch_offsets_op, &arg, deadline, err);
    *result = arg.result;
    return rc;
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
    int rc = kk_grp_with_coordinator(g, commit_op, &arg, deadline, err);
    if (rc == KK_OK) {
        for (size_t i = 0; i < arg.result.count && rc == KK_OK; i++) {
            const kk_partition_offset_t *p = &arg.result.partitions[i];
            claim_t *c = p->topic ? kk_grp_find_claim(g, p->topic, p->partition) : NULL;
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
int kk_grp_commit_consumed(kk_group_t *g, int64_t deadline, kk_error_t *err) {
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

int kk_group_commit(kk_group_t *g, const char *topic, int32_t partition, int64_t offset,
                    kk_error_t *err) {
    kk_error_clear(err);
    if (!g)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "kk_group_commit: the group is NULL");
    kk_grp_forked(g);
    if (g->state == GROUP_CLOSED)
        return kk_error_set(err, KK_ERR_STATE, "kk_group_commit: group %s is closed", g->group_id);
    if (!topic || offset < 0)
        return kk_error_set(err, KK_ERR_INVALID_ARG,
                            "kk_group_commit: need a topic and an offset >= 0");
    claim_t *c =
        g->state == GROUP_MEMBER || g->revoking ? kk_grp_find_claim(g, topic, partition) : NULL;
    int lost = atomic_load(&g->hb.rejoin);
    if (!c || !g->claims_started || lost == 22 || lost == 25 || lost == 110)
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
    kk_grp_forked(g);
    if (g->state == GROUP_CLOSED)
        return kk_error_set(err, KK_ERR_STATE, "kk_group_commit_consumed: group %s is closed",
                            g->group_id);
    int lost = atomic_load(&g->hb.rejoin);
    if (g->state == GROUP_MEMBER && (lost == 22 || lost == 25 || lost == 110))
        return kk_error_set(
            err, KK_ERR_NOT_ASSIGNED,
            "group %s: this member lost its claims in a rebalance; nothing committed", g->group_id);
    if (g->state != GROUP_MEMBER && !g->revoking)
        return KK_OK; /* nothing claimed, nothing consumed */
    return kk_grp_commit_consumed(g, kk_monotonic_ms() + g->cfg.session_timeout_ms, err);
}

int kk_group_committed(kk_group_t *g, const char *topic, int32_t partition, int64_t *offset,
                       kk_error_t *err) {
    kk_error_clear(err);
    if (!g || !topic || !offset || partition < 0)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "kk_group_committed: bad argument");
    kk_grp_forked(g);
    if (g->state == GROUP_CLOSED)
        return kk_error_set(err, KK_ERR_STATE, "kk_group_committed: group %s is closed",
                            g->group_id);
    *offset = -1;
    kk_topic_partition_t tp = {topic, partition};
    kk_partition_offsets_t result;
    int rc = kk_grp_fetch_committed(g, &tp, 1, kk_monotonic_ms() + g->cfg.session_timeout_ms,
                                    &result, err);
    if (rc == KK_OK)
        rc = kk_grp_committed_in(&result, topic, partition, offset, err);
    kk_partition_offsets_free(&result);
    return rc;
}

int kk_grp_auto_commit(kk_group_t *g, bool *soft_failure, kk_error_t *err) {
    *soft_failure = false;
    if (g->cfg.auto_commit_interval_ms <= 0 || kk_monotonic_ms() < g->next_auto_commit_ms)
        return KK_OK;
    g->next_auto_commit_ms = kk_monotonic_ms() + g->cfg.auto_commit_interval_ms;
    kk_error_t commit_err;
    kk_error_clear(&commit_err);
    int rc = kk_grp_commit_consumed(g, kk_monotonic_ms() + g->cfg.session_timeout_ms, &commit_err);
    if (rc == KK_ERR_NOT_ASSIGNED || (rc != KK_OK && kk_err_is_retriable(rc))) {
        kk_log(g->client, KK_LOG_WARNING, "group %s: auto-commit failed: %s", g->group_id,
               commit_err.message);
        *soft_failure = true;
        return KK_OK;
    }
    if (rc != KK_OK && err)
        *err = commit_err;
    return rc;
}

int32_t kk_grp_commit_generation(kk_group_t *g) {
    if (g->cfg.group_protocol != KK_GROUP_PROTOCOL_CONSUMER)
        return g->generation;
    return g->state == GROUP_MEMBER || g->revoking ? atomic_load(&g->hb.member_epoch) : -1;
}
