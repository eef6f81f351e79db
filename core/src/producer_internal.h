/* The producer's private parts, shared by the synchronous path (producer.c) and the
 * asynchronous engine (producer_engine.c). */
#ifndef KK_PRODUCER_INTERNAL_H
#define KK_PRODUCER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "buffer.h"
#include "kafkette.h"
#include "partitioner.h"

typedef struct kk_engine kk_engine_t;

#define KK_PRODUCER_CLIENT_STRINGS 9

struct kk_producer {
    kk_client_t *client;
    kk_producer_config_t cfg;
    char **compressed_topics; /* owned copies */
    kk_metadata_t *metadata;
    int64_t metadata_time_ms;
    bool metadata_stale;
    kk_round_robin_t round_robin;
    int32_t *available; /* scratch: partitions with a leader (see topic_cache_t) */
    size_t available_cap;
    kk_writer_t *chunk_writers; /* scratch: one per batch of a request, kept between sends */
    size_t chunk_writer_count;

    /* The asynchronous engine: started by the first kk_producer_produce (or event_fd),
     * replaced in a forked child. engine_lock guards changes of the pointer and the
     * caller-side metadata above when produce calls a callback partitioner; produce reads
     * the pointer without it when it is this process's engine (it changes only in a child). */
    pthread_mutex_t engine_lock;
    _Atomic(kk_engine_t *) engine;
    bool closed; /* kk_producer_close was called */
    /* Copies of cfg.client's strings (the caller's are valid only during kk_producer_new):
     * the engine makes its own client from cfg.client later. */
    char *client_strings[KK_PRODUCER_CLIENT_STRINGS];
};

/* The codec for a topic (compression_codec, limited to compressed_topics). */
kk_codec_t kk_producer_codec_for_topic(const kk_producer_t *p, const char *topic);
/* Kafka's rule for topic names. */
bool kk_producer_valid_topic(const char *topic);
/* For kk_producer_send (engine and direct path): resets m's results and checks its input; 0, or
 * the code the message fails with (17 INVALID_TOPIC_EXCEPTION, KK_ERR_INVALID_PARTITION,
 * KK_ERR_INVALID_ARG). *last_valid_topic (NULL at first) spares re-checking a name. */
int kk_producer_check_message(kk_message_t *m, const char **last_valid_topic);
/* The callback partitioner's choice for a keyed message, on the calling thread, with the
 * caller-side metadata (fetched when the topic is not in it). */
int kk_producer_callback_partition(kk_producer_t *p, const char *topic, const void *key,
                                   size_t key_len, int32_t *partition, kk_error_t *err);

/* kk_producer_send without the engine, on the calling thread: kept for brokers whose Produce
 * is v0-v2 (producer.c). */
int kk_producer_send_direct(kk_producer_t *p, kk_message_t *msgs, size_t count, kk_error_t *err);

/* The engine's side (producer_engine.c). */
void kk_engine_free(kk_engine_t *engine, bool release_reports);
/* Closes (with timeout 0) and frees the producer's engine, for kk_producer_free; in a forked
 * child only closes the descriptors of the parent's. */
void kk_engine_release(kk_producer_t *p);
/* For tests: the engine reads the next `count` Produce answers (the broker has applied those
 * requests) and then acts as if the connection had dropped before they arrived, so the
 * batches are sent again. Starts the engine. */
int kk_producer_test_drop_answers(kk_producer_t *p, int count, kk_error_t *err);

#endif
