/*
 * The heartbeat thread: one per member, it only keeps the session alive (see group_internal.h
 * for what it shares with the caller's thread).
 */
#include "group_internal.h"

static int hb_send(heartbeat_t *hb, kk_error_t *err) {
    int rc = kk_grp_hb_connect(hb, err);
    if (rc != KK_OK)
        return rc;
    int16_t version = kk_conn_version(&hb->conn, KK_API_HEARTBEAT);
    if (version < 0)
        return kk_error_set(err, KK_ERR_UNSUPPORTED_VERSION,
                            "%s: the coordinator supports no Heartbeat version we speak",
                            hb->conn.label);
    kk_heartbeat_in_t in = {hb->group_id, hb->generation, hb->member_id, hb->instance_id};
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
void kk_grp_heartbeat_stop(kk_group_t *g) {
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

int kk_grp_heartbeat_start(kk_group_t *g, void *(*thread_main)(void *), kk_error_t *err) {
    heartbeat_t *hb = &g->hb;
    kk_grp_heartbeat_stop(g);
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
    if (pthread_create(&hb->thread, NULL, thread_main ? thread_main : heartbeat_main, hb) != 0) {
        free(hb->member_id);
        hb->member_id = NULL;
        return kk_error_set(err, KK_ERR_NO_MEMORY, "could not start the heartbeat thread");
    }
    hb->running = true;
    return KK_OK;
}
