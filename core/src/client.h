/* The client's private parts, shared by the modules built on it (producer, consumer). */
#ifndef KK_CLIENT_H
#define KK_CLIENT_H

#include <sys/types.h>

#include "connection.h"
#include "kafkette.h"
#include "sasl.h"
#include "stats.h"
#include "tls.h"

typedef struct kk_seed {
    char host[256];
    int port;
} kk_seed_t;

/* A connection to one broker of the cluster, by node id. */
typedef struct kk_broker_conn {
    int32_t node_id;
    kk_conn_t conn;
} kk_broker_conn_t;

struct kk_client {
    char *bootstrap_servers;
    char *client_id;
    kk_seed_t *seeds;
    size_t seed_count;
    kk_conn_options_t conn_opts;
    kk_security_protocol_t security_protocol;
    kk_tls_ctx_t *tls;      /* SSL and SASL_SSL; shared by every connection */
    kk_sasl_config_t sasl;  /* SASL_PLAINTEXT and SASL_SSL */
    int16_t version_caps[KK_API__COUNT];
    bool allow_auto_topic_creation;
    kk_log_cb log_cb;
    void *log_opaque;
    kk_waker_t waker;
    kk_metrics_t *metrics; /* shared with the other clients of the same object (stats.h) */
    pid_t pid; /* the process the connections belong to (see kk_client_forked) */

    kk_conn_t bootstrap; /* the seed we negotiated with; closed until connected */
    kk_broker_conn_t **brokers; /* each allocated once, so conn pointers stay valid */
    size_t broker_count;
};

/* Sends a log line to the callback, if any. */
void kk_log(const kk_client_t *client, kk_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* After fork(), the child shares the parent's sockets and wake-up pipe. Called before a client
 * touches the network: in a process other than the one that made the connections it closes
 * them (close, never shutdown, so the parent's streams go on), makes a new wake-up pipe and
 * returns true; otherwise it returns false. */
bool kk_client_forked(kk_client_t *client);

/* Counts into m (taking a reference) instead of the client's own metrics, on every connection:
 * a group's partition consumers and heartbeat client count into the group's. */
void kk_client_use_metrics(kk_client_t *client, kk_metrics_t *m);

/* The (opened, negotiated) connection to a broker node, using the host and port in md.
 * Reconnects a dropped connection. The pointer stays owned by the client. */
int kk_client_broker_conn(kk_client_t *client, const kk_metadata_t *md, int32_t node_id,
                          kk_conn_t **out, kk_error_t *err);

#endif
