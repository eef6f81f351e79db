/*
 * Membership: JoinGroup + SyncGroup (the leader runs the assignor), starting the claims at
 * their committed offsets, the rebalance callbacks, rejoining when the coordinator or the
 * heartbeat thread asks, LeaveGroup.
 */
#include <stdlib.h>
#include <string.h>

#include "group_internal.h"

/* ---- rebalance callbacks ---------------------------------------------------------------- */

void kk_grp_call_back_with(kk_group_t *g, kk_rebalance_cb cb, const kk_topic_partition_t *parts,
                           size_t n) {
    if (!cb)
        return;
    g->in_callback = true;
    cb(g->cfg.rebalance_opaque, parts, n);
    g->in_callback = false;
}

static void call_back(kk_group_t *g, kk_rebalance_cb cb) {
    if (!cb)
        return;
    kk_topic_partition_t *parts = g->claim_count ? malloc(g->claim_count * sizeof(*parts)) : NULL;
    if (g->claim_count && !parts) {
        kk_log(g->client, KK_LOG_ERROR, "group %s: out of memory for a rebalance callback",
               g->group_id);
        return;
    }
    size_t n = kk_grp_copy_claims(g, parts, g->claim_count);
    g->in_callback = true;
    cb(g->cfg.rebalance_opaque, parts, n);
    g->in_callback = false;
    free(parts);
}

/* Gives up every claim before a rejoin (or on close): auto-commits first unless the
 * generation is known to be lost, then tells the application, then stops heartbeats. */
void kk_grp_revoke_claims(kk_group_t *g, bool lost) {
    if (g->state == GROUP_MEMBER || g->claim_count) {
        if (!lost && g->cfg.auto_commit_interval_ms > 0 && g->claims_started) {
            kk_error_t err;
            kk_error_clear(&err);
            if (kk_grp_commit_consumed(g, kk_monotonic_ms() + g->cfg.session_timeout_ms, &err) !=
                KK_OK)
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
    kk_grp_heartbeat_stop(g);
    kk_grp_carry_claims(g); /* for the partitions that come back in the next generation */
    kk_grp_free_claims(g);
    g->state = GROUP_UNJOINED;
}

#define GROUP_REQUEST_SLACK_MS 5000

/* One JoinGroup + SyncGroup round. KK_OK: a member with claims (not started yet). */
static int join_once(kk_group_t *g, kk_error_t *err) {
    int rc = kk_grp_ensure_coordinator(g, err);
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
        .group_instance_id = g->instance_id,
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
        (rc = kk_grp_plan_assignment(g, &join, &plan, err)) != KK_OK) {
        kk_join_group_result_free(&join);
        return rc;
    }

    kk_sync_group_in_t sync = {
        .group_id = g->group_id,
        .generation_id = g->generation,
        .member_id = g->member_id,
        .group_instance_id = g->instance_id,
        .protocol_type = KK_CONSUMER_PROTOCOL_TYPE,
        .protocol_name = g->protocol_name,
        .assignments = plan.assignments,
        .assignment_count = plan.count,
    };
    w = kk_conn_begin(conn, KK_API_SYNC_GROUP, sync_version);
    kk_encode_sync_group_request(w, sync_version, &sync);
    kk_grp_leader_plan_free(&plan);
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
    rc = kk_grp_take_assignment(g, res.assignment, res.assignment_len, err);
    kk_sync_group_result_free(&res);
    return rc;
}

/* Joins until this member has claims (not started yet) or the deadline passes. */
static int join_group(kk_group_t *g, bool lost, int64_t deadline, kk_error_t *err) {
    kk_grp_revoke_claims(g, lost);
    int rc = kk_grp_check_subscription(g, err);
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
            kk_grp_coordinator_lost(g);
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
    rc = kk_grp_heartbeat_start(g, NULL, err);
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

/* Fetches the committed offsets of the claims without a consumer and creates their
 * consumers (all of them after a classic join; the new ones after a KIP-848 change). */
int kk_grp_start_claims(kk_group_t *g, int64_t deadline, kk_error_t *err) {
    if (g->claims_started)
        return KK_OK;
    kk_topic_partition_t *parts = calloc(g->claim_count ? g->claim_count : 1, sizeof(*parts));
    if (!parts)
        return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < g->claim_count; i++)
        if (!g->claims[i].consumer)
            parts[n++] = (kk_topic_partition_t){g->claims[i].topic, g->claims[i].partition};
    kk_partition_offsets_t committed = {0};
    int rc = n ? kk_grp_fetch_committed(g, parts, n, deadline, &committed, err) : KK_OK;
    for (size_t i = 0; i < g->claim_count && rc == KK_OK; i++) {
        claim_t *c = &g->claims[i];
        if (c->consumer)
            continue;
        rc = kk_grp_committed_in(&committed, c->topic, c->partition, &c->committed, err);
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
        if (c->seek_to >= 0) /* kk_group_seek wins over the commit */
            cc.offset = (kk_offset_spec_t){KK_OFFSET_AT, c->seek_to};
        else if (c->committed >= 0)
            cc.offset = (kk_offset_spec_t){KK_OFFSET_AT, c->committed};
        else
            cc.offset = (kk_offset_spec_t){g->cfg.start_when_no_commit == KK_RESET_LATEST
                                               ? KK_OFFSET_LATEST
                                               : KK_OFFSET_EARLIEST,
                                           0};
        cc.offset_reset = g->cfg.start_when_no_commit;
        cc.max_bytes = g->cfg.max_bytes;
        cc.max_wait_ms = g->cfg.max_wait_ms;
        cc.max_decompressed_bytes = g->cfg.max_decompressed_bytes;
        cc.max_records = g->cfg.max_records;
        cc.retry_backoff_ms = g->cfg.retry_backoff_ms;
        kk_error_t consumer_err;
        c->consumer = kk_consumer_new(&cc, &consumer_err);
        if (!c->consumer) {
            rc = consumer_err.code;
            if (err)
                *err = consumer_err;
        } else {
            kk_client_use_metrics(kk_consumer_client(c->consumer), g->client->metrics);
        }
    }
    kk_partition_offsets_free(&committed);
    if (rc != KK_OK) {
        free(parts);
        return rc;
    }
    g->claims_started = true;
    g->next_auto_commit_ms = kk_monotonic_ms() + g->cfg.auto_commit_interval_ms;
    n = 0;
    for (size_t i = 0; i < g->claim_count; i++) {
        claim_t *c = &g->claims[i];
        if (c->announced)
            continue;
        c->announced = true;
        parts[n++] = (kk_topic_partition_t){c->topic, c->partition};
        if (c->committed >= 0)
            kk_log(g->client, KK_LOG_INFO, "group %s: claimed %s[%d] at committed offset %lld",
                   g->group_id, c->topic, (int)c->partition, (long long)c->committed);
        else
            kk_log(g->client, KK_LOG_INFO,
                   "group %s: claimed %s[%d], no commit: starting at the %s", g->group_id, c->topic,
                   (int)c->partition,
                   g->cfg.start_when_no_commit == KK_RESET_LATEST ? "end" : "beginning");
    }
    if (n)
        kk_grp_call_back_with(g, g->cfg.on_assign, parts, n);
    free(parts);
    return KK_OK;
}

/* Everything a call does before it fetches: act on the heartbeat thread's flags, (re)join,
 * start claims, auto-commit and watch partition counts. */
int kk_grp_maintain(kk_group_t *g, int64_t join_deadline, kk_error_t *err) {
    for (int round = 0;; round++) {
        int fatal = atomic_load(&g->hb.fatal);
        if (fatal) {
            kk_grp_heartbeat_stop(g);
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
                if (kk_grp_partitions_changed(g))
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
            int rc = kk_grp_start_claims(g, join_deadline, err); /* retried by the next call */
            if (rc != KK_OK)
                return rc;
        }
        if (g->state != GROUP_MEMBER)
            continue; /* a callback's commit found the generation lost */
        bool soft_failure = false;
        int commit_rc = kk_grp_auto_commit(g, &soft_failure, err);
        if (commit_rc != KK_OK)
            return commit_rc;
        if (soft_failure && g->state != GROUP_MEMBER)
            continue;
        return KK_OK;
    }
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

int kk_grp_leave(kk_group_t *g, int64_t deadline, kk_error_t *err) {
    if (g->instance_id) /* KIP-345: the coordinator keeps a static member's place */
        return KK_OK;
    return kk_grp_with_coordinator(g, leave_op, NULL, deadline, err);
}
