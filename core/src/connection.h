/*
 * One TCP connection to one broker: connect with a deadline, framed request/response
 * round trips with correlation ids, ApiVersions negotiation, and a wake-up another thread
 * can trigger to abort any wait.
 */
#ifndef KK_CONNECTION_H
#define KK_CONNECTION_H

#include <stdatomic.h>

#include "buffer.h"
#include "kafkette.h"
#include "tls.h"

struct kk_sasl_config;
struct kk_conn;
struct kk_metrics;

/* Milliseconds on the monotonic clock: for deadlines and intervals. */
int64_t kk_monotonic_ms(void);

/* Shared by a client and all its connections: a self-pipe that kk_client_interrupt()
 * writes to, so a poll() in any connection wakes up. */
typedef struct kk_waker {
    int read_fd;
    int write_fd;
    atomic_bool interrupted;
} kk_waker_t;

int kk_waker_init(kk_waker_t *waker, kk_error_t *err);
void kk_waker_destroy(kk_waker_t *waker);
void kk_waker_wake(kk_waker_t *waker);
void kk_waker_clear(kk_waker_t *waker);
/* Sleeps up to ms milliseconds; returns KK_ERR_INTERRUPTED if woken or if the options'
 * interrupt_check says so. */
struct kk_conn_options;
int kk_conn_sleep(const struct kk_conn_options *opts, int ms);

typedef struct kk_conn_options {
    const char *client_id;
    int connect_timeout_ms;
    int request_timeout_ms;
    int32_t max_response_bytes;
    const int16_t *version_caps; /* KK_API__COUNT entries, negative = no cap; may be NULL */
    kk_waker_t *waker;           /* not owned; may be NULL */
    bool (*interrupt_check)(void *opaque); /* polled every KK_INTERRUPT_CHECK_MS; may be NULL */
    void *interrupt_opaque;
    kk_tls_ctx_t *tls;                 /* not owned; NULL: no TLS */
    const struct kk_sasl_config *sasl; /* not owned; NULL: no SASL */
    /* Authenticates a connection just opened, and again when its session runs out (set with
     * sasl: the client passes sasl.c's, so this layer does not depend on the mechanisms). */
    int (*authenticate)(struct kk_conn *c, kk_error_t *err);
    struct kk_metrics *metrics;        /* not owned; NULL: nothing counted (stats.h) */
} kk_conn_options_t;

#define KK_INTERRUPT_CHECK_MS 100

typedef struct kk_conn {
    int fd; /* -1 when closed */
    char host[256];
    int port;
    char label[300]; /* "host:port" for messages */
    kk_conn_options_t opts;
    int32_t next_correlation_id;
    int16_t versions[KK_API__COUNT]; /* negotiated; -1 = unsupported */
    bool legacy_broker;              /* no ApiVersions: versions assumed */
    kk_writer_t request;             /* reused for every request */
    uint8_t *response;               /* the last response body, valid until the next call */
    size_t response_cap;
    size_t response_len;
    kk_tls_t *tls;              /* the TLS session while open with TLS */
    int in_flight;              /* requests sent and not yet answered */
    bool answered;              /* a request other than ApiVersions was answered since open */
    int64_t reauth_at_ms;       /* monotonic time to re-authenticate (KIP-368); 0: never */
    int reauth_count;           /* re-authentications on this connection, for tests and logs */
    bool opened_before;         /* a later open is a reconnect */
    struct kk_metrics *slot_of; /* the metrics metrics_slot belongs to */
    int metrics_slot;           /* this broker's slot in them, -1: none */
    /* When each in-flight request was sent (answers come in order), for round trips; requests
     * beyond the ring's size are not timed. */
    int64_t sent_us[16];
    unsigned sent_first, sent_count;
} kk_conn_t;

void kk_conn_init(kk_conn_t *c, const char *host, int port, const kk_conn_options_t *opts);
/* Closes the socket and frees buffers. The struct can be opened again. */
void kk_conn_destroy(kk_conn_t *c);
void kk_conn_close(kk_conn_t *c);
static inline bool kk_conn_is_open(const kk_conn_t *c) { return c->fd >= 0; }

/* Resolves, connects within connect_timeout_ms and negotiates API versions. */
int kk_conn_open(kk_conn_t *c, kk_error_t *err);

/* Starts a request: clears the request buffer and writes the size slot and header.
 * The caller appends the body to the returned writer, then calls kk_conn_roundtrip(). */
kk_writer_t *kk_conn_begin(kk_conn_t *c, int api_key, int16_t version);

/* Sends the request begun with kk_conn_begin and waits for its response. On success r reads
 * the response body (after the header), valid until the next request on c. On any failure
 * the connection is closed, since its byte stream can no longer be trusted. */
int kk_conn_roundtrip(kk_conn_t *c, kk_reader_t *r, kk_error_t *err);
/* The same with its own deadline (a Fetch may legitimately wait max_wait_ms first). */
int kk_conn_roundtrip_within(kk_conn_t *c, int timeout_ms, kk_reader_t *r, kk_error_t *err);
/* A request sent and not yet answered: several may be in flight on one connection, and the
 * broker answers them in order. */
typedef struct kk_pending {
    int api_key;
    int16_t version;
    int32_t correlation_id;
} kk_pending_t;

/* KIP-368: whether the SASL session of c ends within within_ms, so that the next request would
 * re-authenticate first (blocking: an exchange with the broker), and may now (nothing is in
 * flight). */
bool kk_conn_reauth_due(const kk_conn_t *c, int64_t within_ms);
/* Re-authenticates c now, between requests, as the next request would have: for a caller that
 * must not wait on the broker when it sends (the asynchronous producer's I/O thread). On
 * failure c is closed. */
int kk_conn_reauthenticate(kk_conn_t *c, kk_error_t *err);

/* Sends the request begun with kk_conn_begin without waiting for the answer. */
int kk_conn_send(kk_conn_t *c, kk_pending_t *pending, kk_error_t *err);
/* Waits for the answer to the oldest pending request (pass them in the order sent). On
 * success r reads its body, valid until the next receive or request on c. */
int kk_conn_receive(kk_conn_t *c, const kk_pending_t *pending, int timeout_ms, kk_reader_t *r,
                    kk_error_t *err);

/* Takes ownership of the last response's buffer (the caller frees it), so that slices into
 * it outlive the next request. */
uint8_t *kk_conn_take_response(kk_conn_t *c);
/* Sends the request and expects no response (Produce with acks=0). */
int kk_conn_send_only(kk_conn_t *c, kk_error_t *err);

/* The negotiated version for api_key, or -1. */
static inline int16_t kk_conn_version(const kk_conn_t *c, int api_key) {
    return (api_key >= 0 && api_key < KK_API__COUNT) ? c->versions[api_key] : -1;
}

/* Splits "host:port" or "[v6addr]:port" into host and port. */
int kk_parse_host_port(const char *text, size_t text_len, char *host, size_t host_size, int *port,
                       kk_error_t *err);

#endif
