/*
 * The partition consumer: find the leader through the seeds, resolve the starting offset,
 * fetch and decode, follow the leader when it moves, and apply the out-of-range policy.
 */
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "config.h"
#include "consumer_internal.h"
#include "error.h"
#include "protocol_fetch.h"
#include "record_batch.h"

struct kk_consumer {
    kk_client_t *client;
    kk_consumer_config_t cfg;
    char *topic;
    int32_t leader;         /* -1 until found */
    kk_metadata_t *metadata;/* the snapshot the leader came from (for its address) */
    int64_t next_offset;    /* -1 until resolved */
    int64_t high_watermark;
    int64_t last_stable_offset;
    int64_t log_start_offset;
    int32_t grown_max_bytes;/* max_bytes raised to fit one oversized batch, 0 if not */
};

/* What a kk_fetch_batch_t really is: the public part first, then what it owns. */
typedef struct fetch_batch_impl {
    kk_fetch_batch_t pub;
    uint8_t *response;      /* the Fetch response the slices point into */
    kk_record_set_t records;/* decoded records, owning decompressed buffers */
    kk_fetched_message_t *messages;
    kk_fetched_header_t *headers;
} fetch_batch_impl_t;

void kk_consumer_config_init(kk_consumer_config_t *cfg) {
    kk_config_defaults(KK_CONFIG_CONSUMER, cfg);
}

kk_consumer_t *kk_consumer_new(const kk_consumer_config_t *cfg, kk_error_t *err) {
    kk_error_clear(err);
    if (!cfg || !cfg->topic || !cfg->topic[0] || strlen(cfg->topic) > 249) {
        kk_error_set(err, KK_ERR_INVALID_ARG, "the consumer needs a topic name of 1 to 249 characters");
        return NULL;
    }
    if (cfg->partition < 0) {
        kk_error_set(err, KK_ERR_INVALID_PARTITION, "partition must not be negative (got %d)",
                     (int)cfg->partition);
        return NULL;
    }
    if (kk_config_check(KK_CONFIG_CONSUMER, cfg, err) != KK_OK)
        return NULL;
    if (cfg->offset.kind < KK_OFFSET_AT || cfg->offset.kind > KK_OFFSET_AT_TIME ||
        (cfg->offset.kind == KK_OFFSET_AT && cfg->offset.value < 0) ||
        (cfg->offset.kind == KK_OFFSET_FROM_LATEST && cfg->offset.value < 0)) {
        kk_error_set(err, KK_ERR_INVALID_ARG, "bad starting offset");
        return NULL;
    }
    kk_consumer_t *c = calloc(1, sizeof(*c));
    if (!c) {
        kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
        return NULL;
    }
    c->cfg = *cfg;
    c->topic = strdup(cfg->topic);
    c->cfg.topic = c->topic;
    c->leader = -1;
    c->next_offset = -1;
    c->high_watermark = c->last_stable_offset = c->log_start_offset = -1;
    if (!c->topic) {
        kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
        free(c);
        return NULL;
    }
    c->client = kk_client_new(&cfg->client, err);
    if (!c->client) {
        free(c->topic);
        free(c);
        return NULL;
    }
    return c;
}

void kk_consumer_free(kk_consumer_t *c) {
    if (!c)
        return;
    kk_client_free(c->client);
    kk_metadata_free(c->metadata);
    free(c->topic);
    free(c);
}

int64_t kk_consumer_next_offset(const kk_consumer_t *c) { return c ? c->next_offset : -1; }
void kk_consumer_set_position(kk_consumer_t *c, int64_t offset) { c->next_offset = offset; }
int64_t kk_consumer_highwater_mark(const kk_consumer_t *c) { return c ? c->high_watermark : -1; }
int64_t kk_consumer_last_stable_offset(const kk_consumer_t *c) { return c ? c->last_stable_offset : -1; }
int64_t kk_consumer_log_start_offset(const kk_consumer_t *c) { return c ? c->log_start_offset : -1; }
int32_t kk_consumer_leader(const kk_consumer_t *c) { return c ? c->leader : -1; }
kk_client_t *kk_consumer_client(kk_consumer_t *c) { return c ? c->client : NULL; }

void kk_consumer_stats(kk_consumer_t *c, kk_stats_t *out) {
    kk_metrics_read(c ? c->client->metrics : NULL, out);
    if (c)
        kk_stats_add_partition(out, c->topic, c->cfg.partition, c->next_offset, c->high_watermark);
}

/* Errors after which the leader must be looked up again. */
static bool needs_new_leader(int code) {
    switch (code) {
    case 3:  /* UNKNOWN_TOPIC_OR_PARTITION: the partition moved away from this broker */
    case 5:  /* LEADER_NOT_AVAILABLE */
    case 6:  /* NOT_LEADER_OR_FOLLOWER */
    case 56: /* KAFKA_STORAGE_ERROR */
    case 74: /* FENCED_LEADER_EPOCH */
    case 75: /* UNKNOWN_LEADER_EPOCH */
    case 100: /* OFFSET_NOT_AVAILABLE */
        return true;
    default:
        return code < 0 && kk_err_is_retriable(code); /* connection trouble */
    }
}

/* Looks the partition's leader up through the seeds and connects to it. */
static int find_leader(kk_consumer_t *c, kk_conn_t **conn, kk_error_t *err) {
    const char *topics[] = {c->topic};
    kk_metadata_t *md = NULL;
    int rc = kk_client_metadata(c->client, topics, 1, &md, err);
    if (rc != KK_OK)
        return rc;
    kk_metadata_free(c->metadata);
    c->metadata = md;
    c->leader = -1;
    const kk_topic_info_t *t = kk_metadata_topic(md, c->topic);
    if (!t || t->error_code == 3)
        return kk_error_set(err, 3, "topic %s does not exist (UNKNOWN_TOPIC_OR_PARTITION)", c->topic);
    if (t->error_code != 0)
        return kk_error_set(err, t->error_code, "topic %s: %s: %s", c->topic, kk_err_name(t->error_code),
                            kk_err_description(t->error_code));
    if ((size_t)c->cfg.partition >= t->partition_count)
        return kk_error_set(err, KK_ERR_INVALID_PARTITION, "topic %s has %zu partition(s); there is no partition %d",
                            c->topic, t->partition_count, (int)c->cfg.partition);
    const kk_partition_info_t *p = &t->partitions[c->cfg.partition];
    if (p->leader < 0)
        return kk_error_set(err, 5, "%s[%d] has no leader right now (LEADER_NOT_AVAILABLE)", c->topic,
                            (int)c->cfg.partition);
    rc = kk_client_broker_conn(c->client, md, p->leader, conn, err);
    if (rc != KK_OK)
        return rc;
    c->leader = p->leader;
    kk_log(c->client, KK_LOG_DEBUG, "%s[%d]: leader is broker %d", c->topic, (int)c->cfg.partition,
           (int)p->leader);
    return KK_OK;
}

static int leader_conn(kk_consumer_t *c, kk_conn_t **conn, kk_error_t *err) {
    if (c->leader >= 0 && c->metadata)
        return kk_client_broker_conn(c->client, c->metadata, c->leader, conn, err);
    return find_leader(c, conn, err);
}

/* One ListOffsets round trip for a special timestamp (-2 earliest, -1 latest) or a time. */
static int list_offset(kk_consumer_t *c, kk_conn_t *conn, int64_t timestamp, int64_t *offset,
                       kk_error_t *err) {
    int16_t version = kk_conn_version(conn, KK_API_LIST_OFFSETS);
    if (version < 0)
        return kk_error_set(err, KK_ERR_UNSUPPORTED_VERSION, "%s: the broker supports no ListOffsets version we speak",
                            conn->label);
    kk_writer_t *w = kk_conn_begin(conn, KK_API_LIST_OFFSETS, version);
    kk_encode_list_offsets_request(w, version, c->topic, c->cfg.partition, timestamp,
                                   c->cfg.read_committed ? 1 : 0);
    kk_reader_t r;
    int rc = kk_conn_roundtrip(conn, &r, err);
    if (rc != KK_OK)
        return rc;
    kk_list_offsets_result_t res;
    rc = kk_decode_list_offsets_response(&r, version, c->topic, c->cfg.partition, &res, err);
    if (rc != KK_OK) {
        kk_conn_close(conn);
        return rc;
    }
    if (res.error_code != 0)
        return kk_error_set(err, res.error_code, "ListOffsets for %s[%d]: %s", c->topic,
                            (int)c->cfg.partition, kk_err_name(res.error_code));
    *offset = res.offset;
    return KK_OK;
}

/* Runs op against the leader, finding a new one after leadership errors, within the failover
 * budget. */
typedef int (*leader_op_t)(kk_consumer_t *c, kk_conn_t *conn, void *arg, kk_error_t *err);

static int with_leader(kk_consumer_t *c, leader_op_t op, void *arg, kk_error_t *err) {
    for (int attempt = 0;; attempt++) {
        kk_conn_t *conn = NULL;
        int rc = leader_conn(c, &conn, err);
        if (rc == KK_OK)
            rc = op(c, conn, arg, err);
        if (rc == KK_OK || rc == KK_ERR_INTERRUPTED || !needs_new_leader(rc))
            return rc;
        if (attempt >= c->cfg.failover_tries) {
            kk_error_prefix(err, "%s[%d]: gave up after %d leader lookups: ", c->topic,
                            (int)c->cfg.partition, attempt + 1);
            return rc;
        }
        kk_log(c->client, KK_LOG_WARNING, "%s[%d]: %s; looking for the leader again (try %d of %d)",
               c->topic, (int)c->cfg.partition, err ? err->message : kk_err_name(rc), attempt + 1,
               c->cfg.failover_tries);
        c->leader = -1;
        kk_metrics_add(&c->client->metrics->retries, 1);
        if (kk_conn_sleep(&c->client->conn_opts, c->cfg.retry_backoff_ms) != KK_OK)
            return kk_error_set(err, KK_ERR_INTERRUPTED, "%s[%d]: interrupted", c->topic, (int)c->cfg.partition);
    }
}

typedef struct resolve_arg {
    kk_offset_spec_t spec;
    int64_t offset;
} resolve_arg_t;

static int resolve_op(kk_consumer_t *c, kk_conn_t *conn, void *arg, kk_error_t *err) {
    resolve_arg_t *a = arg;
    switch (a->spec.kind) {
    case KK_OFFSET_AT:
        a->offset = a->spec.value;
        return KK_OK;
    case KK_OFFSET_EARLIEST:
        return list_offset(c, conn, -2, &a->offset, err);
    case KK_OFFSET_LATEST:
        return list_offset(c, conn, -1, &a->offset, err);
    case KK_OFFSET_AT_TIME:
        return list_offset(c, conn, a->spec.value, &a->offset, err);
    case KK_OFFSET_FROM_LATEST: {
        int64_t earliest, latest;
        int rc = list_offset(c, conn, -2, &earliest, err);
        if (rc == KK_OK)
            rc = list_offset(c, conn, -1, &latest, err);
        if (rc != KK_OK)
            return rc;
        a->offset = latest - a->spec.value < earliest ? earliest : latest - a->spec.value;
        return KK_OK;
    }
    }
    return kk_error_set(err, KK_ERR_INVALID_ARG, "bad offset kind");
}

int kk_consumer_resolve_offset(kk_consumer_t *c, kk_offset_spec_t spec, int64_t *offset, kk_error_t *err) {
    if (!c || !offset)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "kk_consumer_resolve_offset: NULL argument");
    resolve_arg_t arg = {spec, -1};
    int rc = with_leader(c, resolve_op, &arg, err);
    *offset = arg.offset;
    return rc;
}

/* Resolves the starting offset if that has not happened yet. A time past the last record
 * starts at the end. */
static int ensure_offset(kk_consumer_t *c, kk_error_t *err) {
    if (c->next_offset >= 0)
        return KK_OK;
    int64_t offset = -1;
    int rc = kk_consumer_resolve_offset(c, c->cfg.offset, &offset, err);
    if (rc == KK_OK && offset < 0)
        rc = kk_consumer_resolve_offset(c, (kk_offset_spec_t){KK_OFFSET_LATEST, 0}, &offset, err);
    if (rc == KK_OK)
        c->next_offset = offset;
    return rc;
}

int kk_consumer_connect(kk_consumer_t *c, kk_error_t *err) {
    if (!c)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "consumer is NULL");
    return ensure_offset(c, err);
}

void kk_fetch_batch_free(kk_fetch_batch_t *batch) {
    if (!batch)
        return;
    fetch_batch_impl_t *impl = (fetch_batch_impl_t *)batch;
    free(impl->response);
    kk_record_set_clear(&impl->records);
    free(impl->messages);
    free(impl->headers);
    free(impl);
}

/* The bounds one fetch of max_bytes decodes within (kk_consumer_config_t says why). */
static void fetch_bounds(const kk_consumer_config_t *cfg, int32_t max_bytes, kk_decode_options_t *dopts) {
    uint64_t budget = cfg->max_decompressed_bytes > 0 ? (uint64_t)cfg->max_decompressed_bytes
                                                      : (uint64_t)max_bytes * 32;
    uint64_t records = cfg->max_records > 0 ? (uint64_t)cfg->max_records : (uint64_t)max_bytes / 4;
    dopts->max_total_decompressed = budget < SIZE_MAX ? (size_t)budget : SIZE_MAX;
    dopts->max_records = records > 0 ? (size_t)records : 1;
    /* the first batch alone may take the budget, or the usual per-batch cap if that is more */
    dopts->max_decompressed = dopts->max_total_decompressed > KK_RECORDS_DEFAULT_MAX_DECOMPRESSED
                                  ? dopts->max_total_decompressed
                                  : KK_RECORDS_DEFAULT_MAX_DECOMPRESSED;
}

typedef struct fetch_arg {
    kk_fetch_options_t opts;
    fetch_batch_impl_t *batch; /* the result */
    bool out_of_range;         /* the broker said OFFSET_OUT_OF_RANGE */
} fetch_arg_t;

/* Turns the decoded record set into the public message array. */
static int publish_records(fetch_batch_impl_t *b, kk_error_t *err) {
    kk_record_set_t *set = &b->records;
    if (set->count) {
        b->messages = calloc(set->count, sizeof(*b->messages));
        if (!b->messages)
            return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory for %zu messages", set->count);
    }
    if (set->header_count) {
        b->headers = calloc(set->header_count, sizeof(*b->headers));
        if (!b->headers)
            return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
        for (size_t i = 0; i < set->header_count; i++) {
            const kk_header_out_t *h = &set->headers[i];
            b->headers[i] = (kk_fetched_header_t){(const char *)h->key.ptr, h->key.len > 0 ? (size_t)h->key.len : 0,
                                                  h->value.len >= 0 ? (const void *)(h->value.ptr ? h->value.ptr : (const uint8_t *)"") : NULL,
                                                  h->value.len > 0 ? (size_t)h->value.len : 0};
        }
    }
    for (size_t i = 0; i < set->count; i++) {
        const kk_record_out_t *r = &set->records[i];
        /* an empty (not null) key or value still gets a non-NULL pointer */
        b->messages[i] = (kk_fetched_message_t){
            .offset = r->offset,
            .timestamp = r->timestamp,
            .timestamp_type = r->timestamp_type,
            .key = r->key.len >= 0 ? (const void *)(r->key.ptr ? r->key.ptr : (const uint8_t *)"") : NULL,
            .key_len = r->key.len > 0 ? (size_t)r->key.len : 0,
            .value = r->value.len >= 0 ? (const void *)(r->value.ptr ? r->value.ptr : (const uint8_t *)"") : NULL,
            .value_len = r->value.len > 0 ? (size_t)r->value.len : 0,
            .headers = r->header_count ? b->headers + r->header_index : NULL,
            .header_count = r->header_count,
        };
    }
    b->pub.messages = b->messages;
    b->pub.count = set->count;
    return KK_OK;
}

static int fetch_op(kk_consumer_t *c, kk_conn_t *conn, void *arg_ptr, kk_error_t *err) {
    fetch_arg_t *arg = arg_ptr;
    int16_t version = kk_conn_version(conn, KK_API_FETCH);
    if (version < 0)
        return kk_error_set(err, KK_ERR_UNSUPPORTED_VERSION, "%s: the broker supports no Fetch version we speak",
                            conn->label);
    int32_t max_bytes = arg->opts.max_bytes >= 0 ? arg->opts.max_bytes : c->cfg.max_bytes;
    if (c->grown_max_bytes > max_bytes)
        max_bytes = c->grown_max_bytes;
    int32_t max_wait = arg->opts.max_wait_ms >= 0 ? arg->opts.max_wait_ms : c->cfg.max_wait_ms;
    kk_fetch_request_in_t req = {
        .topic = c->topic,
        .partition = c->cfg.partition,
        .fetch_offset = c->next_offset,
        .current_leader_epoch = -1,
        .max_wait_ms = max_wait,
        .min_bytes = arg->opts.min_bytes >= 0 ? arg->opts.min_bytes : c->cfg.min_bytes,
        .max_bytes = max_bytes,
        .partition_max_bytes = max_bytes,
        .isolation_level = c->cfg.read_committed ? 1 : 0,
    };
    for (;;) {
        kk_writer_t *w = kk_conn_begin(conn, KK_API_FETCH, version);
        kk_encode_fetch_request(w, version, &req);
        kk_reader_t r;
        int rc = kk_conn_roundtrip_within(conn, c->client->conn_opts.request_timeout_ms + max_wait, &r, err);
        if (rc != KK_OK)
            return rc;
        kk_fetch_partition_result_t res;
        rc = kk_decode_fetch_response(&r, version, c->topic, c->cfg.partition, &res, err);
        if (rc != KK_OK) {
            kk_conn_close(conn);
            return rc;
        }
        if (res.error_code == 1) { /* OFFSET_OUT_OF_RANGE */
            kk_fetch_partition_result_free(&res);
            arg->out_of_range = true;
            return kk_error_set(err, 1, "offset %lld is out of range for %s[%d]", (long long)c->next_offset,
                                c->topic, (int)c->cfg.partition);
        }
        if (res.error_code != 0) {
            int16_t code = res.error_code;
            kk_fetch_partition_result_free(&res);
            return kk_error_set(err, code, "fetch %s[%d] from broker %d: %s: %s", c->topic,
                                (int)c->cfg.partition, (int)c->leader, kk_err_name(code), kk_err_description(code));
        }
        c->high_watermark = res.high_watermark;
        c->last_stable_offset = res.last_stable_offset;
        c->log_start_offset = res.log_start_offset;

        fetch_batch_impl_t *b = calloc(1, sizeof(*b));
        if (!b) {
            kk_fetch_partition_result_free(&res);
            return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
        }
        kk_record_set_init(&b->records);
        kk_decode_options_t dopts = {
            .min_offset = c->next_offset,
            .read_committed = c->cfg.read_committed,
            .aborted = res.aborted,
            .aborted_count = res.aborted_count,
        };
        fetch_bounds(&c->cfg, max_bytes, &dopts);
        rc = res.records ? kk_records_decode(&b->records, res.records, res.records_len, &dopts, err) : KK_OK;
        kk_fetch_partition_result_free(&res);
        if (rc != KK_OK) {
            kk_fetch_batch_free(&b->pub);
            kk_error_prefix(err, "%s[%d] at offset %lld: ", c->topic, (int)c->cfg.partition,
                            (long long)c->next_offset);
            return rc;
        }
        if (b->records.count == 0 && b->records.next_offset <= c->next_offset && b->records.truncated &&
            b->records.truncated_batch_size > (size_t)max_bytes) {
            /* One batch is bigger than max_bytes and the broker (an old one) sent only a part:
             * grow the limit so the consumer never stalls on it. */
            size_t want = b->records.truncated_batch_size;
            kk_fetch_batch_free(&b->pub);
            if (want > (size_t)INT32_MAX / 2)
                return kk_error_set(err, KK_ERR_RESPONSE_TOO_LARGE, "%s[%d]: a %zu-byte batch is too large",
                                    c->topic, (int)c->cfg.partition, want);
            max_bytes = (int32_t)want;
            c->grown_max_bytes = max_bytes;
            req.max_bytes = req.partition_max_bytes = max_bytes;
            kk_log(c->client, KK_LOG_INFO, "%s[%d]: a batch of %zu bytes is over max_bytes; fetching it whole",
                   c->topic, (int)c->cfg.partition, want);
            continue;
        }
        /* Offsets are the broker's: one at INT64_MAX has no successor, and a batch whose
         * offsets ran past it (the decoder wraps rather than overflows) has a next offset
         * below -1. Either would leave next_offset undefined or moving backwards. */
        if ((b->records.count > 0 && b->records.records[b->records.count - 1].offset == INT64_MAX) ||
            b->records.next_offset < -1) {
            kk_fetch_batch_free(&b->pub);
            return kk_error_set(err, KK_ERR_MALFORMED,
                                "fetch %s[%d] from broker %d: malformed response: a record at offset %lld "
                                "(%lld is the last possible offset)",
                                c->topic, (int)c->cfg.partition, (int)c->leader, (long long)INT64_MAX,
                                (long long)INT64_MAX);
        }
        /* The slices point into the response buffer: the batch takes it over. */
        b->response = kk_conn_take_response(conn);
        rc = publish_records(b, err);
        if (rc != KK_OK) {
            kk_fetch_batch_free(&b->pub);
            return rc;
        }
        b->pub.high_watermark = c->high_watermark;
        b->pub.last_stable_offset = c->last_stable_offset;
        b->pub.log_start_offset = c->log_start_offset;
        if (b->records.limited)
            kk_log(c->client, KK_LOG_DEBUG,
                   "%s[%d]: this fetch stops at %zu records (max_records %zu, max_decompressed_bytes "
                   "%zu); the next one goes on",
                   c->topic, (int)c->cfg.partition, b->records.count, dopts.max_records,
                   dopts.max_total_decompressed);
        if (b->records.next_offset > c->next_offset)
            c->next_offset = b->records.next_offset;
        if (b->records.count > 0 && b->records.records[b->records.count - 1].offset + 1 > c->next_offset)
            c->next_offset = b->records.records[b->records.count - 1].offset + 1;
        /* The public messages replace the decoder's records; only its decompressed buffers
         * are still needed, so a batch holds about the response plus one small entry per
         * message. */
        free(b->records.records);
        free(b->records.headers);
        b->records.records = NULL;
        b->records.headers = NULL;
        b->records.count = b->records.cap = b->records.header_count = b->records.header_cap = 0;
        arg->batch = b;
        return KK_OK;
    }
}

int kk_consumer_fetch(kk_consumer_t *c, const kk_fetch_options_t *options, kk_fetch_batch_t **out,
                      kk_error_t *err) {
    kk_error_clear(err);
    if (!c || !out)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "kk_consumer_fetch: NULL argument");
    *out = NULL;
    fetch_arg_t arg = {options ? *options : KK_FETCH_OPTIONS_DEFAULT, NULL, false};
    for (int resets = 0;; resets++) {
        int rc = ensure_offset(c, err);
        if (rc != KK_OK)
            return rc;
        arg.out_of_range = false;
        rc = with_leader(c, fetch_op, &arg, err);
        if (rc == KK_OK) {
            *out = &arg.batch->pub;
            kk_metrics_fetched(c->client->metrics, *out);
            return KK_OK;
        }
        if (rc > 0 || rc == -1) /* a broker's answer; connection failures counted themselves */
            kk_metrics_error(c->client->metrics, rc);
        if (!arg.out_of_range || c->cfg.offset_reset == KK_RESET_ERROR || resets >= 3)
            return rc;
        /* The policy moves the consumer, visibly: a log line says from where to where. */
        int64_t old = c->next_offset;
        kk_offset_spec_t to = {c->cfg.offset_reset == KK_RESET_LATEST ? KK_OFFSET_LATEST : KK_OFFSET_EARLIEST, 0};
        int64_t offset = -1;
        rc = kk_consumer_resolve_offset(c, to, &offset, err);
        if (rc != KK_OK)
            return rc;
        c->next_offset = offset;
        kk_log(c->client, KK_LOG_WARNING, "%s[%d]: offset %lld is out of range; reset to %s offset %lld",
               c->topic, (int)c->cfg.partition, (long long)old,
               to.kind == KK_OFFSET_LATEST ? "the latest" : "the earliest", (long long)offset);
    }
}
