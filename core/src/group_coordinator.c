/*
 * Finding the group's coordinator and running requests against it from the caller's thread,
 * finding it again after coordinator errors.
 */
#include "group_internal.h"

/* Finds the group's coordinator through the client's bootstrap connection. */
int kk_grp_find_coordinator(kk_client_t *client, const char *group_id, kk_coordinator_result_t *res,
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

void kk_grp_coordinator_lost(kk_group_t *g) {
    kk_conn_close(&g->coord);
    g->coordinator_known = false;
}

int kk_grp_ensure_coordinator(kk_group_t *g, kk_error_t *err) {
    if (!g->coordinator_known) {
        kk_coordinator_result_t res;
        int rc = kk_grp_find_coordinator(g->client, g->group_id, &res, err);
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

int kk_grp_with_coordinator(kk_group_t *g, coord_op_t op, void *arg, int64_t deadline,
                            kk_error_t *err) {
    for (int attempt = 1;; attempt++) {
        int rc = kk_grp_ensure_coordinator(g, err);
        if (rc == KK_OK)
            rc = op(g, &g->coord, arg, err);
        if (rc == KK_OK || rc == KK_ERR_INTERRUPTED || !coordinator_retriable(rc))
            return rc;
        if (coordinator_moved(rc))
            kk_grp_coordinator_lost(g);
        if (rc > 0) /* a coordinator's answer; connection failures counted themselves */
            kk_metrics_error(g->client->metrics, rc);
        if (kk_monotonic_ms() >= deadline) {
            kk_error_prefix(err, "group %s: gave up after %d tries: ", g->group_id, attempt);
            return rc;
        }
        /* the error's own message already names the group */
        if (err)
            kk_log(g->client, KK_LOG_INFO, "%s; retrying", err->message);
        else
            kk_log(g->client, KK_LOG_INFO, "group %s: %s; retrying", g->group_id, kk_err_name(rc));
        kk_metrics_add(&g->client->metrics->retries, 1);
        if (kk_conn_sleep(&g->client->conn_opts, g->cfg.retry_backoff_ms) != KK_OK)
            return kk_error_set(err, KK_ERR_INTERRUPTED, "group %s: interrupted", g->group_id);
    }
}

int kk_grp_hb_connect(heartbeat_t *hb, kk_error_t *err) {
    if (!hb->coordinator_known) {
        kk_coordinator_result_t res;
        int rc = kk_grp_find_coordinator(hb->client, hb->group_id, &res, err);
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
