/*
 * Statistics: the counters every request, response and message updates, and their copy into
 * a kk_stats_t (see stats.h and docs/STATISTICS.md).
 */
#include "stats.h"

#include "client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RELAXED memory_order_relaxed

int64_t kk_monotonic_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

kk_metrics_t *kk_metrics_new(void) {
    kk_metrics_t *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    if (pthread_mutex_init(&m->claim, NULL) != 0) {
        free(m);
        return NULL;
    }
    atomic_init(&m->refs, 1);
    return m;
}

void kk_metrics_ref(kk_metrics_t *m) {
    if (m)
        atomic_fetch_add(&m->refs, 1);
}

void kk_metrics_unref(kk_metrics_t *m) {
    if (!m || atomic_fetch_sub(&m->refs, 1) != 1)
        return;
    for (size_t i = 0; i < KK_STATS_MAX_BROKERS; i++)
        free(m->brokers[i]);
    pthread_mutex_destroy(&m->claim);
    free(m);
}

int kk_metrics_broker_slot(kk_metrics_t *m, const char *name) {
    size_t n = atomic_load(&m->broker_count);
    for (size_t i = 0; i < n; i++)
        if (strcmp(m->brokers[i]->name, name) == 0)
            return (int)i;
    pthread_mutex_lock(&m->claim);
    n = atomic_load(&m->broker_count);
    int slot = -1;
    for (size_t i = 0; i < n && slot < 0; i++)
        if (strcmp(m->brokers[i]->name, name) == 0)
            slot = (int)i;
    if (slot < 0 && n < KK_STATS_MAX_BROKERS &&
        (m->brokers[n] = calloc(1, sizeof(kk_metrics_broker_t)))) {
        snprintf(m->brokers[n]->name, sizeof(m->brokers[n]->name), "%s", name);
        atomic_store(&m->broker_count, n + 1); /* publishes the slot */
        slot = (int)n;
    }
    pthread_mutex_unlock(&m->claim);
    return slot;
}

void kk_metrics_request(kk_metrics_t *m, size_t bytes) {
    kk_metrics_add(&m->requests, 1);
    kk_metrics_add(&m->request_bytes, bytes);
}

static int rtt_bucket(int64_t us) {
    if (us < 4)
        return us < 0 ? 0 : (int)us;
    int e = 63 - __builtin_clzll((unsigned long long)us); /* >= 2 */
    int b = 4 * (e - 1) + (int)((us >> (e - 2)) & 3);
    return b < KK_RTT_BUCKETS ? b : KK_RTT_BUCKETS - 1;
}

/* A bucket's middle, in microseconds. */
static uint64_t bucket_value(int b) {
    if (b < 4)
        return (uint64_t)b;
    int e = b / 4 + 1;
    uint64_t low = (uint64_t)(4 + b % 4) << (e - 2), width = (uint64_t)1 << (e - 2);
    return low + width / 2;
}

void kk_metrics_response(kk_metrics_t *m, int slot, size_t bytes, int64_t rtt_us) {
    kk_metrics_add(&m->response_bytes, bytes);
    if (slot >= 0) {
        kk_metrics_add(&m->brokers[slot]->requests, 1);
        atomic_fetch_add_explicit(&m->brokers[slot]->rtt[rtt_bucket(rtt_us)], 1, RELAXED);
    }
}

void kk_metrics_error(kk_metrics_t *m, int code) {
    if (code == KK_OK)
        return;
    kk_metrics_add(&m->errors, 1);
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < KK_STATS_MAX_ERRORS; i++) {
            int have = atomic_load(&m->errs[i].code);
            if (have == code) {
                kk_metrics_add(&m->errs[i].count, 1);
                return;
            }
            if (have == 0)
                break;
        }
        if (pass == 0) { /* claim a slot, unless another thread just did */
            pthread_mutex_lock(&m->claim);
            for (size_t i = 0; i < KK_STATS_MAX_ERRORS; i++) {
                int have = atomic_load(&m->errs[i].code);
                if (have == code)
                    break;
                if (have == 0) {
                    atomic_store(&m->errs[i].code, code);
                    break;
                }
            }
            pthread_mutex_unlock(&m->claim);
        }
    }
    kk_metrics_add(&m->errors_dropped, 1);
}

void kk_metrics_produced(kk_metrics_t *m, const kk_message_t *msgs, size_t count, int retries) {
    if (!m)
        return;
    uint64_t delivered = 0, bytes = 0;
    for (size_t i = 0; i < count; i++) {
        const kk_message_t *msg = &msgs[i];
        if (msg->error != KK_OK) {
            kk_metrics_error(m, msg->error);
            continue;
        }
        delivered++;
        bytes += msg->key_len + msg->value_len;
        for (size_t h = 0; h < msg->header_count; h++)
            bytes += msg->headers[h].key_len + msg->headers[h].value_len;
    }
    kk_metrics_add(&m->messages_sent, delivered);
    kk_metrics_add(&m->bytes_sent, bytes);
    kk_metrics_add(&m->retries, retries > 0 ? (uint64_t)retries : 0);
}

void kk_metrics_fetched(kk_metrics_t *m, const kk_fetch_batch_t *batch) {
    if (!m || !batch)
        return;
    uint64_t bytes = 0;
    for (size_t i = 0; i < batch->count; i++) {
        const kk_fetched_message_t *msg = &batch->messages[i];
        bytes += msg->key_len + msg->value_len;
        for (size_t h = 0; h < msg->header_count; h++)
            bytes += msg->headers[h].key_len + msg->headers[h].value_len;
    }
    kk_metrics_add(&m->messages_received, batch->count);
    kk_metrics_add(&m->bytes_received, bytes);
}

/* The value below which a fraction q of the round trips fall (a bucket's middle). */
static uint64_t percentile(const uint64_t *counts, uint64_t total, double q) {
    uint64_t want = (uint64_t)(q * (double)total + 0.999999), seen = 0;
    for (int b = 0; b < KK_RTT_BUCKETS; b++) {
        seen += counts[b];
        if (seen >= want && seen > 0)
            return bucket_value(b);
    }
    return 0;
}

void kk_metrics_read(kk_metrics_t *m, kk_stats_t *out) {
    memset(out, 0, offsetof(kk_stats_t, partitions));
    out->partition_count = out->partitions_total = 0;
    if (!m)
        return;
    out->messages_sent = atomic_load_explicit(&m->messages_sent, RELAXED);
    out->bytes_sent = atomic_load_explicit(&m->bytes_sent, RELAXED);
    out->messages_received = atomic_load_explicit(&m->messages_received, RELAXED);
    out->bytes_received = atomic_load_explicit(&m->bytes_received, RELAXED);
    out->requests = atomic_load_explicit(&m->requests, RELAXED);
    out->request_bytes = atomic_load_explicit(&m->request_bytes, RELAXED);
    out->response_bytes = atomic_load_explicit(&m->response_bytes, RELAXED);
    out->retries = atomic_load_explicit(&m->retries, RELAXED);
    out->errors = atomic_load_explicit(&m->errors, RELAXED);
    out->reconnects = atomic_load_explicit(&m->reconnects, RELAXED);
    int64_t in_flight = atomic_load_explicit(&m->in_flight, RELAXED);
    out->in_flight_requests = in_flight > 0 ? (uint64_t)in_flight : 0;
    out->queued_bytes = 0; /* the synchronous producer queues nothing */
    for (size_t i = 0; i < KK_STATS_MAX_ERRORS; i++) {
        int code = atomic_load(&m->errs[i].code);
        if (code == 0)
            break;
        out->errors_by_code[out->error_code_count++] =
            (kk_error_count_t){code, atomic_load_explicit(&m->errs[i].count, RELAXED)};
    }
    size_t brokers = atomic_load(&m->broker_count);
    for (size_t i = 0; i < brokers; i++) {
        uint64_t counts[KK_RTT_BUCKETS], total = 0;
        for (int b = 0; b < KK_RTT_BUCKETS; b++)
            total += counts[b] = atomic_load_explicit(&m->brokers[i]->rtt[b], RELAXED);
        kk_broker_stats_t *bs = &out->brokers[out->broker_count++];
        memcpy(bs->name, m->brokers[i]->name, sizeof(bs->name));
        bs->requests = atomic_load_explicit(&m->brokers[i]->requests, RELAXED);
        bs->rtt_p50_us = percentile(counts, total, 0.50);
        bs->rtt_p99_us = percentile(counts, total, 0.99);
    }
}

void kk_stats_add_partition(kk_stats_t *out, const char *topic, int32_t partition, int64_t position,
                            int64_t high_watermark) {
    out->partitions_total++;
    if (out->partition_count >= KK_STATS_MAX_PARTITIONS)
        return;
    out->partitions[out->partition_count++] = (kk_partition_stats_t){
        .topic = topic,
        .partition = partition,
        .position = position,
        .high_watermark = high_watermark,
        .lag = position >= 0 && high_watermark >= 0
                   ? (high_watermark > position ? high_watermark - position : 0)
                   : -1,
    };
}
