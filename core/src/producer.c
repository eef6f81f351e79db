/*
 * The direct synchronous producer, for brokers that need Produce v0-v2 (MessageSet v0/v1):
 * partition every message, group by leader, one Produce request per broker (split under
 * max_request_bytes), retry what is retriable after refreshing metadata, and report per
 * message. kk_producer_send uses the asynchronous engine (producer_engine.c) for every newer
 * broker.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "config.h"
#include "error.h"
#include "partitioner.h"
#include "protocol.h"
#include "producer_internal.h"
#include "protocol_produce.h"
#include "stats.h"
#include "record_batch.h"

/* A message's state during one kk_producer_send call. */
enum {
    MSG_PENDING = 0, /* not yet delivered, may be (re)tried */
    MSG_DONE = 1,    /* delivered, or failed for good: see kk_message_t.error */
};


/* One message's place in the send order: grouped by leader, topic, partition. */
typedef struct routed {
    int32_t leader;
    int32_t topic_index; /* into the metadata's topics */
    int32_t partition;
    size_t message;
    size_t size_bound; /* its encoded size at most, filled in when chunks are planned */
} routed_t;

static int64_t wall_clock_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void kk_producer_config_init(kk_producer_config_t *cfg) {
    kk_config_defaults(KK_CONFIG_PRODUCER, cfg);
}

kk_producer_t *kk_producer_new(const kk_producer_config_t *cfg, kk_error_t *err) {
    kk_error_clear(err);
    if (!cfg) {
        kk_error_set(err, KK_ERR_INVALID_ARG, "producer config is NULL");
        return NULL;
    }
    if (kk_config_check(KK_CONFIG_PRODUCER, cfg, err) != KK_OK)
        return NULL;
    if (cfg->partitioner == KK_PARTITIONER_CALLBACK && !cfg->partitioner_cb) {
        kk_error_set(err, KK_ERR_INVALID_ARG, "the callback partitioner needs partitioner_cb");
        return NULL;
    }
    kk_producer_t *p = calloc(1, sizeof(*p));
    if (!p) {
        kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&p->engine_lock, NULL);
    p->cfg = *cfg;
    const char **strings[KK_PRODUCER_CLIENT_STRINGS] = {
        &p->cfg.client.bootstrap_servers, &p->cfg.client.client_id,     &p->cfg.client.ssl_cafile,
        &p->cfg.client.ssl_certfile,      &p->cfg.client.ssl_keyfile,   &p->cfg.client.ssl_password,
        &p->cfg.client.sasl_username,     &p->cfg.client.sasl_password, &p->cfg.client.sasl_oauth_token};
    for (size_t i = 0; i < KK_PRODUCER_CLIENT_STRINGS; i++) {
        if (!*strings[i])
            continue;
        p->client_strings[i] = strdup(*strings[i]);
        if (!p->client_strings[i]) {
            for (size_t j = 0; j < i; j++)
                free(p->client_strings[j]);
            free(p);
            kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
            return NULL;
        }
        *strings[i] = p->client_strings[i];
    }
    p->client = kk_client_new(&cfg->client, err);
    if (!p->client) {
        for (size_t i = 0; i < KK_PRODUCER_CLIENT_STRINGS; i++)
            free(p->client_strings[i]);
        free(p);
        return NULL;
    }
    if (cfg->compressed_topic_count > 0) {
        p->compressed_topics = calloc(cfg->compressed_topic_count, sizeof(char *));
        for (size_t i = 0; p->compressed_topics && i < cfg->compressed_topic_count; i++)
            p->compressed_topics[i] = cfg->compressed_topics[i] ? strdup(cfg->compressed_topics[i]) : NULL;
        for (size_t i = 0; p->compressed_topics && i < cfg->compressed_topic_count; i++)
            if (!p->compressed_topics[i]) {
                kk_error_set(err, KK_ERR_INVALID_ARG, "compressed_topics holds a NULL or out of memory");
                p->cfg.compressed_topic_count = i;
                kk_producer_free(p);
                return NULL;
            }
    }
    p->cfg.compressed_topics = NULL; /* the caller's array is not kept */
    kk_round_robin_init(&p->round_robin, (uint32_t)(kk_monotonic_ms() ^ (uint64_t)getpid() * 2654435761u));
    return p;
}

void kk_producer_free(kk_producer_t *p) {
    if (!p)
        return;
    kk_engine_release(p);
    pthread_mutex_destroy(&p->engine_lock);
    for (size_t i = 0; i < KK_PRODUCER_CLIENT_STRINGS; i++) {
        if (p->client_strings[i] && (i == 5 || i == 7 || i == 8)) /* secrets: wipe */
            memset(p->client_strings[i], 0, strlen(p->client_strings[i]));
        free(p->client_strings[i]);
    }
    for (size_t i = 0; p->compressed_topics && i < p->cfg.compressed_topic_count; i++)
        free(p->compressed_topics[i]);
    free(p->compressed_topics);
    kk_metadata_free(p->metadata);
    kk_client_free(p->client);
    free(p->available);
    for (size_t i = 0; i < p->chunk_writer_count; i++)
        kk_writer_free(&p->chunk_writers[i]);
    free(p->chunk_writers);
    free(p);
}

kk_client_t *kk_producer_client(kk_producer_t *p) { return p ? p->client : NULL; }

kk_codec_t kk_producer_codec_for_topic(const kk_producer_t *p, const char *topic) {
    if (p->cfg.compression == KK_CODEC_NONE || !p->compressed_topics)
        return p->cfg.compression;
    for (size_t i = 0; i < p->cfg.compressed_topic_count; i++)
        if (strcmp(p->compressed_topics[i], topic) == 0)
            return p->cfg.compression;
    return KK_CODEC_NONE;
}

/* Kafka's rule for topic names: 1..249 of [a-zA-Z0-9._-], and not "." or "..". */
bool kk_producer_valid_topic(const char *topic) {
    if (!topic)
        return false;
    size_t n = strlen(topic);
    if (n == 0 || n > 249 || strcmp(topic, ".") == 0 || strcmp(topic, "..") == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = topic[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

int kk_producer_check_message(kk_message_t *m, const char **last_valid_topic) {
    m->result_partition = -1;
    m->offset = -1;
    m->error = 0;
    bool topic_ok = m->topic && *last_valid_topic &&
                    (m->topic == *last_valid_topic || strcmp(m->topic, *last_valid_topic) == 0);
    if (!topic_ok && kk_producer_valid_topic(m->topic)) {
        topic_ok = true;
        *last_valid_topic = m->topic;
    }
    if (!topic_ok)
        return 17; /* INVALID_TOPIC_EXCEPTION */
    if (m->partition < -1)
        return KK_ERR_INVALID_PARTITION;
    if ((m->header_count && !m->headers) || (m->key_len && !m->key) || (m->value_len && !m->value))
        return KK_ERR_INVALID_ARG;
    return 0;
}

static void finish(kk_message_t *m, uint8_t *state, int error) {
    m->error = error;
    *state = MSG_DONE;
}

/* Refreshes metadata for the topics of the still-pending messages. */
static int refresh_metadata(kk_producer_t *p, const kk_message_t *msgs, const uint8_t *state,
                            size_t count, kk_error_t *err) {
    const char **topics = malloc(count * sizeof(*topics));
    if (!topics)
        return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        if (state[i] != MSG_PENDING)
            continue;
        bool seen = false;
        /* batches usually hold one or a few topics: compare with the last few added */
        for (size_t j = n; j > 0 && j + 8 > n && !seen; j--)
            seen = strcmp(topics[j - 1], msgs[i].topic) == 0;
        for (size_t j = 0; j < n && !seen && n > 8; j++)
            seen = strcmp(topics[j], msgs[i].topic) == 0;
        if (!seen)
            topics[n++] = msgs[i].topic;
    }
    kk_metadata_t *md = NULL;
    int rc = n ? kk_client_metadata(p->client, topics, n, &md, err) : KK_OK;
    free(topics);
    if (rc != KK_OK)
        return rc;
    if (md) {
        kk_metadata_free(p->metadata);
        p->metadata = md;
        p->metadata_time_ms = kk_monotonic_ms();
        p->metadata_stale = false;
    }
    return KK_OK;
}

static bool metadata_covers(const kk_producer_t *p, const kk_message_t *msgs, const uint8_t *state,
                            size_t count) {
    if (!p->metadata || p->metadata_stale ||
        kk_monotonic_ms() - p->metadata_time_ms > p->cfg.metadata_refresh_interval_ms)
        return false;
    const char *last = NULL;
    for (size_t i = 0; i < count; i++) {
        if (state[i] != MSG_PENDING || (last && strcmp(last, msgs[i].topic) == 0))
            continue;
        const kk_topic_info_t *t = kk_metadata_topic(p->metadata, msgs[i].topic);
        if (!t || t->error_code != 0 || t->partition_count == 0)
            return false;
        last = msgs[i].topic;
    }
    return true;
}

/* Errors that mean "the topic is still being created": wait for it, within topic_wait_ms. */
static bool topic_not_ready(int code) { return code == 3 || code == 5; }

/* The last topic routed, so that a batch of messages to one topic looks it up once. */
typedef struct topic_cache {
    const char *name;              /* the message's own pointer, compared first */
    const kk_topic_info_t *info;   /* NULL: not in the metadata */
    bool available_built;          /* available lists the partitions that have a leader */
    int32_t *available;            /* owned by the producer, reused */
    size_t available_count;
} topic_cache_t;

static const kk_topic_info_t *cached_topic(kk_producer_t *p, topic_cache_t *cache, const char *name) {
    if (cache->name && (cache->name == name || strcmp(cache->name, name) == 0))
        return cache->info;
    cache->name = name;
    cache->info = kk_metadata_topic(p->metadata, name);
    cache->available_built = false;
    return cache->info;
}

/* Keyless messages go round-robin over the partitions that currently have a leader. Returns
 * the partition, -1 when none has a leader, or KK_ERR_NO_MEMORY. */
static int32_t next_available_partition(kk_producer_t *p, topic_cache_t *cache) {
    const kk_topic_info_t *t = cache->info;
    if (!cache->available_built) {
        if (t->partition_count > p->available_cap) {
            int32_t *grown = realloc(p->available, t->partition_count * sizeof(*grown));
            if (!grown)
                return KK_ERR_NO_MEMORY;
            p->available = grown;
            p->available_cap = t->partition_count;
        }
        cache->available = p->available;
        cache->available_count = 0;
        for (size_t i = 0; i < t->partition_count; i++)
            if (t->partitions[i].leader >= 0)
                cache->available[cache->available_count++] = t->partitions[i].partition;
        cache->available_built = true;
    }
    return kk_round_robin_next(&p->round_robin, cache->available, cache->available_count);
}

/* Picks the partition for a pending message and finds its leader. Returns 0 with *leader set,
 * a final error (message done), or a retriable error (stays pending). */
static int route(kk_producer_t *p, topic_cache_t *cache, kk_message_t *m, int32_t *leader,
                 int32_t *topic_index) {
    const kk_topic_info_t *t = cached_topic(p, cache, m->topic);
    if (!t)
        return 3; /* UNKNOWN_TOPIC_OR_PARTITION */
    if (t->error_code != 0)
        return t->error_code;
    int32_t count = (int32_t)t->partition_count;
    if (count == 0)
        return 5; /* LEADER_NOT_AVAILABLE: partitions not there yet */
    *topic_index = (int32_t)(t - p->metadata->topics);
    int32_t partition = m->result_partition;
    if (partition < 0) {
        if (m->partition >= 0) {
            partition = m->partition;
        } else if (m->key) {
            if (p->cfg.partitioner == KK_PARTITIONER_CALLBACK)
                partition = p->cfg.partitioner_cb(p->cfg.partitioner_opaque, m->key, m->key_len, count);
            else
                partition = kk_partition_for_key(p->cfg.partitioner, m->key, m->key_len, count);
            if (partition < 0 || partition >= count)
                return KK_ERR_INVALID_PARTITION;
        } else {
            partition = next_available_partition(p, cache);
            if (partition == -1)
                return 5; /* LEADER_NOT_AVAILABLE */
            if (partition < 0)
                return partition;
        }
    }
    if (partition >= count || partition < 0)
        return KK_ERR_INVALID_PARTITION;
    m->result_partition = partition; /* keep it for retries: a message never changes partition */
    const kk_partition_info_t *info = &t->partitions[partition];
    if (info->partition != partition)
        return KK_ERR_INVALID_PARTITION;
    if (info->leader < 0)
        return info->error_code ? info->error_code : 5;
    *leader = info->leader;
    return KK_OK;
}

int kk_producer_callback_partition(kk_producer_t *p, const char *topic, const void *key,
                                   size_t key_len, int32_t *partition, kk_error_t *err) {
    pthread_mutex_lock(&p->engine_lock);
    const kk_topic_info_t *t = p->metadata ? kk_metadata_topic(p->metadata, topic) : NULL;
    int rc = KK_OK;
    if (!t || t->error_code != 0 || t->partition_count == 0 ||
        kk_monotonic_ms() - p->metadata_time_ms > p->cfg.metadata_refresh_interval_ms) {
        kk_metadata_t *md = NULL;
        const char *topics[1] = {topic};
        rc = kk_client_metadata(p->client, topics, 1, &md, err);
        if (rc == KK_OK) {
            kk_metadata_free(p->metadata);
            p->metadata = md;
            p->metadata_time_ms = kk_monotonic_ms();
            p->metadata_stale = false;
            t = kk_metadata_topic(p->metadata, topic);
        }
    }
    int32_t count = rc == KK_OK && t && t->error_code == 0 ? (int32_t)t->partition_count : 0;
    pthread_mutex_unlock(&p->engine_lock);
    if (rc != KK_OK)
        return rc;
    if (count == 0)
        return kk_error_set(err, t && t->error_code ? t->error_code : 3,
                            "topic %s has no partitions the partitioner could choose", topic);
    int32_t chosen = p->cfg.partitioner_cb(p->cfg.partitioner_opaque, key, key_len, count);
    if (chosen < 0 || chosen >= count)
        return kk_error_set(err, KK_ERR_INVALID_PARTITION,
                            "the partitioner chose partition %d of %d", (int)chosen, (int)count);
    *partition = chosen;
    return KK_OK;
}

static int compare_routed(const void *a, const void *b) {
    const routed_t *x = a, *y = b;
    if (x->leader != y->leader)
        return x->leader < y->leader ? -1 : 1;
    if (x->topic_index != y->topic_index)
        return x->topic_index < y->topic_index ? -1 : 1;
    if (x->partition != y->partition)
        return x->partition < y->partition ? -1 : 1;
    return (x->message > y->message) - (x->message < y->message);
}

static int8_t magic_for_produce_version(int16_t version) {
    return version >= 3 ? 2 : version == 2 ? 1 : 0;
}

/* A chunk of consecutive routed entries (one topic-partition) encoded as one batch. */
typedef struct chunk {
    size_t first; /* index into routed */
    size_t count; /* 0 once it failed to encode */
    long slot; /* its encoded batch: the producer's chunk_writers[slot]; -1 until encoded */
} chunk_t;

/* Requests one broker connection may have unanswered at once: while the broker appends one,
 * the next is encoded and on its way. */
enum { MAX_IN_FLIGHT = 4 };

/* A Produce request sent and not yet answered: its chunks and its place on the connection. */
typedef struct in_flight {
    size_t first_chunk;
    size_t chunk_count;
    kk_pending_t pending;
} in_flight_t;

typedef struct send_ctx {
    kk_producer_t *p;
    kk_message_t *msgs;
    uint8_t *state;
    int *last_error; /* per message: the error that keeps it pending */
    routed_t *routed;
    kk_error_t detail; /* the first client-side failure's own message, for the final report */
} send_ctx_t;

/* Keeps the first detailed client-side error (encoding, connection) for the final report. */
static void remember_detail(send_ctx_t *ctx, const kk_error_t *err) {
    if (ctx->detail.code == KK_OK && err->code != KK_OK)
        ctx->detail = *err;
}

static kk_writer_t *chunk_records(const send_ctx_t *ctx, const chunk_t *chunk) {
    return &ctx->p->chunk_writers[chunk->slot];
}

static int encode_chunk(send_ctx_t *ctx, chunk_t *chunk, size_t slot, int8_t magic, kk_error_t *err) {
    kk_writer_t *out = &ctx->p->chunk_writers[slot];
    kk_record_in_t stack_records[64];
    kk_record_in_t *records = chunk->count <= 64 ? stack_records : malloc(chunk->count * sizeof(*records));
    if (!records)
        return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
    size_t header_total = 0;
    for (size_t i = 0; i < chunk->count; i++)
        header_total += ctx->msgs[ctx->routed[chunk->first + i].message].header_count;
    kk_header_in_t *headers = header_total ? malloc(header_total * sizeof(*headers)) : NULL;
    if (header_total && !headers) {
        if (records != stack_records)
            free(records);
        return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
    }
    int64_t now = wall_clock_ms();
    size_t h = 0;
    for (size_t i = 0; i < chunk->count; i++) {
        const kk_message_t *m = &ctx->msgs[ctx->routed[chunk->first + i].message];
        records[i] = (kk_record_in_t){
            .key = m->key,
            .key_len = m->key ? m->key_len : 0,
            .value = m->value,
            .value_len = m->value ? m->value_len : 0,
            .timestamp_ms = m->timestamp_ms > 0 ? m->timestamp_ms : now,
            .headers = headers ? headers + h : NULL,
            .header_count = m->header_count,
        };
        for (size_t j = 0; j < m->header_count; j++)
            headers[h++] = (kk_header_in_t){m->headers[j].key, m->headers[j].key_len,
                                            m->headers[j].value, m->headers[j].value_len};
    }
    const char *topic = ctx->msgs[ctx->routed[chunk->first].message].topic;
    kk_writer_reset(out);
    int rc = kk_records_encode(out, magic, kk_producer_codec_for_topic(ctx->p, topic), records, chunk->count, err);
    if (records != stack_records)
        free(records);
    free(headers);
    if (rc == KK_OK)
        chunk->slot = (long)slot;
    return rc;
}

/* Splits routed[first, first+count) (one broker) into chunks per topic-partition, each at most
 * max_bytes of uncompressed records (a single larger message gets a chunk of its own). */
static size_t message_size_bound(const send_ctx_t *ctx, size_t routed_index, int8_t magic) {
    const kk_message_t *m = &ctx->msgs[ctx->routed[routed_index].message];
    kk_record_in_t r = {.key = m->key, .key_len = m->key ? m->key_len : 0,
                        .value = m->value, .value_len = m->value ? m->value_len : 0,
                        .header_count = 0};
    size_t size = kk_record_encoded_size_bound(magic, &r) + 16;
    for (size_t j = 0; j < m->header_count; j++)
        size += m->headers[j].key_len + m->headers[j].value_len + 10;
    return size;
}

static chunk_t *plan_chunks(send_ctx_t *ctx, size_t first, size_t count, int8_t magic,
                            size_t max_bytes, size_t *chunk_count) {
    size_t cap = 8, n = 0;
    chunk_t *chunks = malloc(cap * sizeof(*chunks));
    if (!chunks)
        return NULL;
    size_t i = first, end = first + count;
    while (i < end) {
        /* One topic-partition's run: split it into equal parts under max_bytes rather than
         * full parts and a small remainder, so the broker handles fewer, even batches. */
        size_t run_end = i, run_bytes = 0;
        while (run_end < end && ctx->routed[run_end].topic_index == ctx->routed[i].topic_index &&
               ctx->routed[run_end].partition == ctx->routed[i].partition) {
            ctx->routed[run_end].size_bound = message_size_bound(ctx, run_end, magic);
            run_bytes += ctx->routed[run_end++].size_bound;
        }
        size_t parts = (run_bytes + max_bytes - 1) / max_bytes;
        size_t target = parts > 1 ? (run_bytes + parts - 1) / parts : max_bytes;
        while (i < run_end) {
            size_t start = i, bytes = 0;
            while (i < run_end) {
                size_t size = ctx->routed[i].size_bound;
                if (i > start && (bytes + size > max_bytes || bytes >= target))
                    break;
                bytes += size;
                i++;
            }
            if (n == cap) {
                chunk_t *grown = realloc(chunks, 2 * cap * sizeof(*chunks));
                if (!grown) {
                    free(chunks);
                    return NULL;
                }
                chunks = grown;
                cap *= 2;
            }
            chunks[n++] = (chunk_t){start, i - start, -1};
        }
    }
    *chunk_count = n;
    return chunks;
}

/* Marks every message of a chunk delivered, pending with a retriable error, or failed. */
static void settle_chunk(send_ctx_t *ctx, const chunk_t *chunk, int error, int64_t base_offset,
                         bool acks_none) {
    bool retry = error != KK_OK && (kk_err_is_retriable(error) || error == KK_ERR_NOT_CONNECTED);
    for (size_t i = 0; i < chunk->count; i++) {
        size_t mi = ctx->routed[chunk->first + i].message;
        kk_message_t *m = &ctx->msgs[mi];
        if (error == KK_OK) {
            m->offset = acks_none ? -1 : base_offset + (int64_t)i;
            finish(m, &ctx->state[mi], KK_OK);
        } else if (retry) {
            ctx->last_error[mi] = error;
        } else {
            finish(m, &ctx->state[mi], error);
        }
    }
}

static void settle_chunks(send_ctx_t *ctx, const chunk_t *chunks, size_t n, int error) {
    for (size_t i = 0; i < n; i++)
        settle_chunk(ctx, &chunks[i], error, -1, false);
}

/* Writes one Produce request holding chunks[0..n) (all encoded) into conn's request buffer. */
static int encode_request(send_ctx_t *ctx, kk_conn_t *conn, int16_t version, const chunk_t *chunks,
                          size_t n, kk_error_t *err) {
    kk_producer_t *p = ctx->p;
    /* chunks are sorted by topic, then partition */
    kk_produce_partition_in_t *parts = malloc(n * sizeof(*parts));
    kk_produce_topic_in_t *topics = malloc(n * sizeof(*topics));
    if (!parts || !topics) {
        free(parts);
        free(topics);
        return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
    }
    size_t topic_count = 0;
    for (size_t i = 0; i < n; i++) {
        const routed_t *r = &ctx->routed[chunks[i].first];
        const kk_writer_t *records = chunk_records(ctx, &chunks[i]);
        parts[i] = (kk_produce_partition_in_t){r->partition, records->data, records->len};
        const char *name = p->metadata->topics[r->topic_index].name;
        if (topic_count == 0 || strcmp(topics[topic_count - 1].topic, name) != 0)
            topics[topic_count++] = (kk_produce_topic_in_t){name, &parts[i], 0};
        topics[topic_count - 1].partition_count++;
    }
    kk_writer_t *w = kk_conn_begin(conn, KK_API_PRODUCE, version);
    kk_encode_produce_request(w, version, p->cfg.required_acks, p->cfg.ack_timeout_ms, topics, topic_count);
    free(topics);
    free(parts);
    return KK_OK;
}

/* Waits for the answer to one in-flight request and settles its chunks. */
static int receive_answer(send_ctx_t *ctx, kk_conn_t *conn, int32_t leader, const in_flight_t *req,
                          const chunk_t *chunks, kk_error_t *err) {
    kk_producer_t *p = ctx->p;
    const chunk_t *mine = &chunks[req->first_chunk];
    kk_reader_t r;
    int rc = kk_conn_receive(conn, &req->pending, conn->opts.request_timeout_ms + p->cfg.ack_timeout_ms, &r, err);
    kk_produce_response_t resp;
    if (rc == KK_OK) {
        rc = kk_decode_produce_response(&r, req->pending.version, &resp, err);
        if (rc != KK_OK)
            kk_conn_close(conn);
    }
    if (rc != KK_OK) {
        /* The request may or may not have been applied: retrying may duplicate (at least once). */
        kk_log(p->client, KK_LOG_WARNING, "produce request to broker %d failed: %s", (int)leader, err->message);
        remember_detail(ctx, err);
        p->metadata_stale = true;
        settle_chunks(ctx, mine, req->chunk_count, rc);
        return rc;
    }
    for (size_t i = 0; i < req->chunk_count; i++) {
        const routed_t *rt = &ctx->routed[mine[i].first];
        const char *name = p->metadata->topics[rt->topic_index].name;
        const kk_produce_partition_result_t *res = kk_produce_response_find(&resp, name, rt->partition);
        if (!res) {
            settle_chunk(ctx, &mine[i], KK_ERR_MALFORMED, -1, false);
            kk_log(p->client, KK_LOG_ERROR, "produce response lacks %s[%d]", name, (int)rt->partition);
            continue;
        }
        if (res->error_code != 0) {
            kk_log(p->client, KK_LOG_WARNING, "produce to %s[%d] failed: %s%s%s", name,
                   (int)rt->partition, kk_err_name(res->error_code),
                   res->error_message ? ": " : "", res->error_message ? res->error_message : "");
            if (kk_err_is_retriable(res->error_code))
                p->metadata_stale = true;
        }
        if (res->error_code == 0 && mine[i].count > 0 &&
            res->base_offset > INT64_MAX - (int64_t)(mine[i].count - 1)) {
            /* base_offset + i must stay an offset: a broker's value past that is nonsense */
            kk_log(p->client, KK_LOG_ERROR, "produce to %s[%d]: base offset %lld leaves no room for %zu messages",
                   name, (int)rt->partition, (long long)res->base_offset, mine[i].count);
            settle_chunk(ctx, &mine[i], KK_ERR_MALFORMED, -1, false);
            continue;
        }
        settle_chunk(ctx, &mine[i], res->error_code, res->base_offset, false);
    }
    kk_produce_response_free(&resp);
    return KK_OK;
}

static bool same_partition(const send_ctx_t *ctx, const chunk_t *a, const chunk_t *b) {
    const routed_t *x = &ctx->routed[a->first], *y = &ctx->routed[b->first];
    return x->partition == y->partition && x->topic_index == y->topic_index;
}

/* The producer keeps its batch-encoding buffers between sends (no allocation churn); this
 * makes sure there are at least n. A buffer that grew very large is given back. */
static bool reserve_chunk_writers(kk_producer_t *p, size_t n) {
    if (n > p->chunk_writer_count) {
        kk_writer_t *grown = realloc(p->chunk_writers, n * sizeof(*grown));
        if (!grown)
            return false;
        for (size_t i = p->chunk_writer_count; i < n; i++)
            kk_writer_init(&grown[i]);
        p->chunk_writers = grown;
        p->chunk_writer_count = n;
    }
    return true;
}

static void trim_chunk_writers(kk_producer_t *p) {
    for (size_t i = 0; i < p->chunk_writer_count; i++)
        if (p->chunk_writers[i].cap > (size_t)8 << 20)
            kk_writer_free(&p->chunk_writers[i]);
}

/* Sends everything routed to one broker: routed[first, first+count), as requests of at most
 * max_request_bytes with up to MAX_IN_FLIGHT unanswered at a time. */
static void send_to_broker(send_ctx_t *ctx, int32_t leader, size_t first, size_t count) {
    kk_producer_t *p = ctx->p;
    kk_error_t err;
    kk_error_clear(&err);
    kk_conn_t *conn = NULL;
    int rc = kk_client_broker_conn(p->client, p->metadata, leader, &conn, &err);
    int16_t version = rc == KK_OK ? kk_conn_version(conn, KK_API_PRODUCE) : -1;
    if (rc == KK_OK && version < 0)
        rc = kk_error_set(&err, KK_ERR_UNSUPPORTED_VERSION, "broker %d supports no Produce version we speak",
                          (int)leader);
    int8_t magic = magic_for_produce_version(version);
    size_t chunk_count = 0;
    size_t max_bytes = (size_t)p->cfg.max_request_bytes - 512; /* room for the envelope */
    chunk_t *chunks = rc == KK_OK ? plan_chunks(ctx, first, count, magic, max_bytes, &chunk_count) : NULL;
    if (rc == KK_OK && !chunks)
        rc = kk_error_set(&err, KK_ERR_NO_MEMORY, "out of memory");
    if (rc != KK_OK) {
        kk_log(p->client, KK_LOG_WARNING, "cannot send to broker %d: %s", (int)leader, err.message);
        remember_detail(ctx, &err);
        p->metadata_stale = true;
        chunk_t all = {first, count, -1};
        settle_chunk(ctx, &all, rc, -1, false);
        return;
    }
    in_flight_t queue[MAX_IN_FLIGHT];
    size_t queued = 0, oldest = 0;
    bool acks_none = p->cfg.required_acks == 0;
    size_t i = 0;
    while (i < chunk_count && kk_conn_is_open(conn)) {
        /* Encode chunks until the request would pass the limit (always at least one); writer
         * slot k serves the k-th chunk of this request. */
        size_t start = i, bytes = 0;
        while (i < chunk_count) {
            if (chunks[i].slot < 0 && chunks[i].count > 0) {
                if (!reserve_chunk_writers(p, i - start + 1) ||
                    encode_chunk(ctx, &chunks[i], i - start, magic, &err) != KK_OK) {
                    if (!err.code)
                        kk_error_set(&err, KK_ERR_NO_MEMORY, "out of memory");
                    remember_detail(ctx, &err);
                    settle_chunk(ctx, &chunks[i], err.code, -1, false);
                    chunks[i].count = 0;
                }
            }
            if (chunks[i].count == 0) {
                i++;
                continue;
            }
            /* one batch per partition per request; and stay under the size limit */
            size_t len = chunk_records(ctx, &chunks[i])->len;
            if (i > start && (bytes + len > max_bytes || same_partition(ctx, &chunks[i], &chunks[i - 1])))
                break;
            bytes += len;
            i++;
        }
        /* drop chunks that failed to encode from this request */
        size_t kept = start;
        for (size_t j = start; j < i; j++)
            if (chunks[j].count > 0)
                chunks[kept++] = chunks[j];
        size_t in_request = kept - start;
        if (kept < i) {
            memmove(&chunks[kept], &chunks[i], (chunk_count - i) * sizeof(*chunks));
            chunk_count -= i - kept;
            i = kept;
        }
        if (in_request == 0)
            continue;
        rc = encode_request(ctx, conn, version, &chunks[start], in_request, &err);
        if (rc == KK_OK && acks_none) {
            rc = kk_conn_send_only(conn, &err);
            for (size_t j = start; j < start + in_request; j++)
                settle_chunk(ctx, &chunks[j], rc, -1, true);
        } else if (rc == KK_OK) {
            if (queued == MAX_IN_FLIGHT) {
                receive_answer(ctx, conn, leader, &queue[oldest], chunks, &err);
                oldest = (oldest + 1) % MAX_IN_FLIGHT;
                queued--;
            }
            in_flight_t *req = &queue[(oldest + queued) % MAX_IN_FLIGHT];
            *req = (in_flight_t){start, in_request, {0, 0, 0}};
            rc = kk_conn_send(conn, &req->pending, &err);
            if (rc == KK_OK)
                queued++;
            else
                settle_chunks(ctx, &chunks[start], in_request, rc);
        } else {
            settle_chunks(ctx, &chunks[start], in_request, rc);
        }
        if (rc != KK_OK) {
            kk_log(p->client, KK_LOG_WARNING, "produce request to broker %d failed: %s", (int)leader, err.message);
            remember_detail(ctx, &err);
            p->metadata_stale = true;
        }
        /* the chunk that did not fit is encoded in a slot the next request reuses: move it to slot 0 */
        if (i < chunk_count && chunks[i].slot > 0) {
            kk_writer_t tmp = p->chunk_writers[0];
            p->chunk_writers[0] = p->chunk_writers[chunks[i].slot];
            p->chunk_writers[chunks[i].slot] = tmp;
            chunks[i].slot = 0;
        }
    }
    while (queued > 0) {
        receive_answer(ctx, conn, leader, &queue[oldest], chunks, &err);
        oldest = (oldest + 1) % MAX_IN_FLIGHT;
        queued--;
    }
    /* the connection is gone: whatever was not sent waits for the next round */
    for (; i < chunk_count; i++)
        settle_chunk(ctx, &chunks[i], KK_ERR_NOT_CONNECTED, -1, false);
    trim_chunk_writers(p);
    free(chunks);
}

int kk_producer_send_direct(kk_producer_t *p, kk_message_t *msgs, size_t count, kk_error_t *err) {
    kk_error_clear(err);
    if (!p || (count && !msgs))
        return kk_error_set(err, KK_ERR_INVALID_ARG, "kk_producer_send: NULL argument");
    if (count == 0)
        return KK_OK;
    uint8_t *state = calloc(count, 1);
    int *last_error = calloc(count, sizeof(int));
    routed_t *routed = malloc(count * sizeof(*routed));
    if (!state || !last_error || !routed) {
        free(state);
        free(last_error);
        free(routed);
        return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory for %zu messages", count);
    }
    const char *last_valid_topic = NULL;
    for (size_t i = 0; i < count; i++) {
        int code = kk_producer_check_message(&msgs[i], &last_valid_topic);
        if (code != 0)
            finish(&msgs[i], &state[i], code);
    }
    send_ctx_t ctx = {p, msgs, state, last_error, routed, {0, ""}};
    int64_t topic_deadline = kk_monotonic_ms() + p->cfg.topic_wait_ms;
    int attempt = 0;
    int fatal = KK_OK;
    kk_error_t fatal_err;
    kk_error_clear(&fatal_err);
    for (;;) {
        size_t pending = 0;
        for (size_t i = 0; i < count; i++)
            pending += state[i] == MSG_PENDING;
        if (pending == 0)
            break;
        if (!metadata_covers(p, msgs, state, count)) {
            int rc = refresh_metadata(p, msgs, state, count, &fatal_err);
            if (rc != KK_OK) {
                if (rc == KK_ERR_INTERRUPTED || !kk_err_is_retriable(rc) || attempt >= p->cfg.max_send_retries) {
                    fatal = rc;
                    break;
                }
                attempt++;
                kk_log(p->client, KK_LOG_WARNING, "metadata refresh failed (try %d): %s", attempt,
                       fatal_err.message);
                if (kk_conn_sleep(&p->client->conn_opts, p->cfg.retry_backoff_ms) != KK_OK) {
                    fatal = kk_error_set(&fatal_err, KK_ERR_INTERRUPTED, "send interrupted");
                    break;
                }
                continue;
            }
        }
        size_t ready = 0;
        bool waiting_for_topic = false;
        topic_cache_t cache = {0};
        for (size_t i = 0; i < count; i++) {
            if (state[i] != MSG_PENDING)
                continue;
            int32_t leader = -1, topic_index = -1;
            int rc = route(p, &cache, &msgs[i], &leader, &topic_index);
            if (rc == KK_OK) {
                routed[ready++] = (routed_t){leader, topic_index, msgs[i].result_partition, i, 0};
            } else if (topic_not_ready(rc) && kk_monotonic_ms() < topic_deadline) {
                last_error[i] = rc;
                waiting_for_topic = true;
            } else if (kk_err_is_retriable(rc)) {
                last_error[i] = rc;
            } else {
                finish(&msgs[i], &state[i], rc);
            }
        }
        if (ready > 0) {
            bool sorted = true; /* the common case: one topic-partition, in order */
            for (size_t i = 1; i < ready && sorted; i++)
                sorted = compare_routed(&routed[i - 1], &routed[i]) <= 0;
            if (!sorted)
                qsort(routed, ready, sizeof(*routed), compare_routed);
            size_t i = 0;
            while (i < ready) {
                size_t start = i;
                while (i < ready && routed[i].leader == routed[start].leader)
                    i++;
                send_to_broker(&ctx, routed[start].leader, start, i - start);
            }
        }
        pending = 0;
        for (size_t i = 0; i < count; i++)
            pending += state[i] == MSG_PENDING;
        if (pending == 0)
            break;
        if (p->client->waker.interrupted) {
            fatal = kk_error_set(&fatal_err, KK_ERR_INTERRUPTED, "send interrupted");
            break;
        }
        bool retries_left = attempt < p->cfg.max_send_retries;
        if (!retries_left && !(waiting_for_topic && kk_monotonic_ms() < topic_deadline))
            break;
        if (ready > 0 || !waiting_for_topic)
            attempt++;
        p->metadata_stale = true;
        kk_log(p->client, KK_LOG_INFO, "%zu message(s) pending, retrying (try %d of %d)", pending,
               attempt, p->cfg.max_send_retries);
        if (kk_conn_sleep(&p->client->conn_opts, p->cfg.retry_backoff_ms) != KK_OK) {
            fatal = kk_error_set(&fatal_err, KK_ERR_INTERRUPTED, "send interrupted");
            break;
        }
    }
    /* Whatever is still pending failed with its last error (or the fatal one). */
    size_t failed = 0, first_failed = count;
    for (size_t i = 0; i < count; i++) {
        if (state[i] == MSG_PENDING)
            finish(&msgs[i], &state[i], fatal != KK_OK ? fatal : last_error[i] ? last_error[i] : KK_ERR_TIMED_OUT);
        if (msgs[i].error != KK_OK) {
            failed++;
            if (first_failed == count)
                first_failed = i;
        }
    }
    kk_metrics_produced(p->client->metrics, msgs, count, attempt);
    free(state);
    free(last_error);
    free(routed);
    if (failed == 0)
        return KK_OK;
    const kk_message_t *m = &msgs[first_failed];
    int code = failed == count ? m->error : KK_ERR_PARTIAL_FAILURE;
    char where[300];
    if (m->result_partition >= 0)
        snprintf(where, sizeof(where), "%s[%d]", m->topic ? m->topic : "(null)", (int)m->result_partition);
    else
        snprintf(where, sizeof(where), "%s", m->topic ? m->topic : "(null topic)");
    if (fatal != KK_OK)
        return kk_error_set(err, code, "%zu of %zu messages not delivered: %s", failed, count, fatal_err.message);
    if (ctx.detail.code == m->error)
        return kk_error_set(err, code, "%zu of %zu messages not delivered; first: message %zu to %s: %s (%s)",
                            failed, count, first_failed, where, kk_err_name(m->error), ctx.detail.message);
    return kk_error_set(err, code, "%zu of %zu messages not delivered; first: message %zu to %s: %s (%s)",
                        failed, count, first_failed, where, kk_err_name(m->error),
                        kk_err_description(m->error));
}

void kk_producer_stats(kk_producer_t *producer, kk_stats_t *out) {
    kk_client_t *client = kk_producer_client(producer);
    kk_metrics_read(client ? client->metrics : NULL, out);
}
