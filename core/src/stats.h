/*
 * The counters behind kk_stats_t: one kk_metrics_t per client, shared (reference-counted) by
 * the clients of one object (a group's partition consumers and heartbeat thread count into the
 * group's). Every counter is a relaxed atomic, so the thread that sends requests and the one
 * that reads kk_*_stats() need no lock; a broker's or an error code's slot is claimed once,
 * under a mutex. Recording never allocates (a broker's histogram is allocated with its slot).
 */
#ifndef KK_STATS_H
#define KK_STATS_H

#include <pthread.h>
#include <stdatomic.h>

#include "kafkette.h"

/* Round-trip histogram: log-scale buckets over microseconds, four per power of two (so a
 * bucket is at most 25% wide), from 1 us to about 71 minutes. */
#define KK_RTT_BUCKETS 128

typedef struct kk_metrics_broker {
    char name[KK_STATS_BROKER_NAME_SIZE]; /* "host:port"; set once, before count publishes it */
    atomic_uint_fast64_t requests;
    _Atomic uint32_t rtt[KK_RTT_BUCKETS];
} kk_metrics_broker_t;

typedef struct kk_metrics_error {
    atomic_int code; /* 0: free; set once, before count publishes it */
    atomic_uint_fast64_t count;
} kk_metrics_error_t;

typedef struct kk_metrics {
    atomic_int refs;
    pthread_mutex_t claim; /* claiming a broker or error slot */
    atomic_uint_fast64_t messages_sent, bytes_sent, messages_received, bytes_received;
    atomic_uint_fast64_t requests, request_bytes, response_bytes;
    atomic_uint_fast64_t retries, errors, reconnects;
    atomic_int_fast64_t in_flight;
    atomic_uint_fast64_t errors_dropped; /* codes beyond KK_STATS_MAX_ERRORS distinct ones */
    kk_metrics_error_t errs[KK_STATS_MAX_ERRORS];
    atomic_size_t broker_count;
    /* allocated when a broker first answers (once per broker: the struct stays small for the
     * many short-lived clients that never get that far) */
    kk_metrics_broker_t *brokers[KK_STATS_MAX_BROKERS];
} kk_metrics_t;

/* A new set of counters with one reference; NULL when out of memory. */
kk_metrics_t *kk_metrics_new(void);
void kk_metrics_ref(kk_metrics_t *m);
/* Drops a reference; frees on the last. NULL is fine. */
void kk_metrics_unref(kk_metrics_t *m);

/* The broker's slot for name (claimed on first use), or -1 when all are taken (or out of memory).
 */
int kk_metrics_broker_slot(kk_metrics_t *m, const char *name);
void kk_metrics_request(kk_metrics_t *m, size_t bytes);
void kk_metrics_response(kk_metrics_t *m, int slot, size_t bytes, int64_t rtt_us);
void kk_metrics_error(kk_metrics_t *m, int code);
/* The end of one kk_producer_send: delivered messages and their bytes (key, value, headers),
 * each failed message's code, and how many times the send went round again. */
void kk_metrics_produced(kk_metrics_t *m, const kk_message_t *msgs, size_t count, int retries);
/* A fetch that returned a batch. */
void kk_metrics_fetched(kk_metrics_t *m, const kk_fetch_batch_t *batch);

static inline void kk_metrics_add(atomic_uint_fast64_t *counter, uint64_t n) {
    atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

/* Microseconds on the monotonic clock, for round trips. */
int64_t kk_monotonic_us(void);

/* Copies the counters into out (every field; partitions left empty). */
void kk_metrics_read(kk_metrics_t *m, kk_stats_t *out);
/* Adds one partition's position to out (counted in partitions_total even when out is full). */
void kk_stats_add_partition(kk_stats_t *out, const char *topic, int32_t partition, int64_t position,
                            int64_t high_watermark);

#endif
