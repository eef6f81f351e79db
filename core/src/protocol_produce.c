#include "protocol_produce.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "protocol.h"

void kk_encode_produce_request(kk_writer_t *w, int16_t version, int16_t acks, int32_t timeout_ms,
                               const kk_produce_topic_in_t *topics, size_t topic_count) {
    bool flexible = kk_protocol_is_flexible(KK_API_PRODUCE, version);
    if (version >= 3)
        kk_write_str_v(w, NULL, flexible); /* transactional_id: not transactional */
    kk_write_i16(w, acks);
    kk_write_i32(w, timeout_ms);
    if (topic_count > INT32_MAX) {
        w->failed = true;
        return;
    }
    kk_write_array_len_v(w, (int32_t)topic_count, flexible);
    for (size_t i = 0; i < topic_count; i++) {
        const kk_produce_topic_in_t *t = &topics[i];
        kk_write_str_v(w, t->topic, flexible);
        if (t->partition_count > INT32_MAX) {
            w->failed = true;
            return;
        }
        kk_write_array_len_v(w, (int32_t)t->partition_count, flexible);
        for (size_t j = 0; j < t->partition_count; j++) {
            const kk_produce_partition_in_t *p = &t->partitions[j];
            kk_write_i32(w, p->partition);
            kk_write_bytes_v(w, p->records, p->records_len, flexible);
            if (flexible)
                kk_write_empty_tags(w);
        }
        if (flexible)
            kk_write_empty_tags(w);
    }
    if (flexible)
        kk_write_empty_tags(w);
}

/* The fewest bytes one partition result can take in this version, so a lying count fails
 * before it drives an allocation. */
static size_t min_partition_size(int16_t version, bool flexible) {
    size_t n = 4 + 2 + 8; /* index, error code, base offset */
    if (version >= 2)
        n += 8; /* log append time */
    if (version >= 5)
        n += 8; /* log start offset */
    if (version >= 8)
        n += flexible ? 2 : 6; /* empty record_errors + null error_message */
    if (flexible)
        n += 1; /* tags */
    return n;
}

static void decode_partition(kk_reader_t *r, int16_t version, bool flexible,
                             kk_produce_partition_result_t *p, bool *oom) {
    p->partition = kk_read_i32(r);
    p->error_code = kk_read_error_code(r);
    p->base_offset = kk_read_i64(r);
    p->log_append_time = version >= 2 ? kk_read_i64(r) : -1;
    p->log_start_offset = version >= 5 ? kk_read_i64(r) : -1;
    if (version >= 8) {
        /* Per-record errors: error_message below summarises them, so they are skipped. */
        int32_t n = kk_read_array_len_v(r, flexible, flexible ? 4 + 1 + 1 : 4 + 2);
        if (n < 0)
            kk_reader_fail(r); /* not nullable */
        for (int32_t i = 0; i < n && !r->failed; i++) {
            (void)kk_read_i32(r); /* batch_index */
            (void)kk_read_str_v(r, flexible);
            if (flexible)
                kk_read_skip_tags(r);
        }
        p->error_message = kk_slice_strdup(kk_read_str_v(r, flexible), oom);
    }
    if (flexible)
        kk_read_skip_tags(r); /* v10+ current_leader (tag 0) */
}

static void decode_topic(kk_reader_t *r, int16_t version, bool flexible,
                         kk_produce_topic_result_t *t, bool *oom) {
    t->topic = kk_slice_strdup(kk_read_str_v(r, flexible), oom);
    int32_t n = kk_read_array_len_v(r, flexible, min_partition_size(version, flexible));
    if (n < 0)
        kk_reader_fail(r); /* not nullable */
    if (n > 0 && !r->failed && !*oom) {
        t->partitions = calloc((size_t)n, sizeof(*t->partitions));
        if (!t->partitions) {
            *oom = true;
            return;
        }
        t->partition_count = (size_t)n;
        for (int32_t i = 0; i < n && !r->failed && !*oom; i++)
            decode_partition(r, version, flexible, &t->partitions[i], oom);
    }
    if (flexible)
        kk_read_skip_tags(r);
    if (!r->failed && !t->topic)
        kk_reader_fail(r); /* topic names are not nullable */
}

int kk_decode_produce_response(kk_reader_t *r, int16_t version, kk_produce_response_t *out,
                               kk_error_t *err) {
    bool flexible = kk_protocol_is_flexible(KK_API_PRODUCE, version);
    bool oom = false;
    memset(out, 0, sizeof(*out));

    /* name + partition count: 6 bytes, 2 flexible (plus the tag count) */
    int32_t n = kk_read_array_len_v(r, flexible, flexible ? 3 : 6);
    if (n > 0 && !r->failed) {
        out->topics = calloc((size_t)n, sizeof(*out->topics));
        if (!out->topics)
            oom = true;
        else
            out->topic_count = (size_t)n;
        for (int32_t i = 0; i < n && out->topics && !r->failed && !oom; i++)
            decode_topic(r, version, flexible, &out->topics[i], &oom);
    }
    if (version >= 1)
        out->throttle_time_ms = kk_read_i32(r);
    if (flexible)
        kk_read_skip_tags(r); /* v10+ node_endpoints (tag 0) */

    if (oom || r->failed || n < 0) {
        kk_produce_response_free(out);
        return kk_decode_failed(err, oom, "Produce", version);
    }
    return KK_OK;
}

void kk_produce_response_free(kk_produce_response_t *resp) {
    if (!resp)
        return;
    for (size_t i = 0; i < resp->topic_count; i++) {
        kk_produce_topic_result_t *t = &resp->topics[i];
        for (size_t j = 0; j < t->partition_count; j++)
            free(t->partitions[j].error_message);
        free(t->partitions);
        free(t->topic);
    }
    free(resp->topics);
    memset(resp, 0, sizeof(*resp));
}

const kk_produce_partition_result_t *kk_produce_response_find(const kk_produce_response_t *resp,
                                                              const char *topic, int32_t partition) {
    if (!resp || !topic)
        return NULL;
    for (size_t i = 0; i < resp->topic_count; i++) {
        const kk_produce_topic_result_t *t = &resp->topics[i];
        if (!t->topic || strcmp(t->topic, topic) != 0)
            continue;
        for (size_t j = 0; j < t->partition_count; j++)
            if (t->partitions[j].partition == partition)
                return &t->partitions[j];
    }
    return NULL;
}

void kk_encode_init_producer_id_request(kk_writer_t *w, int16_t version, int64_t producer_id,
                                        int16_t producer_epoch) {
    bool flexible = kk_protocol_is_flexible(KK_API_INIT_PRODUCER_ID, version);
    kk_write_str_v(w, NULL, flexible); /* transactional_id */
    kk_write_i32(w, -1);               /* transaction_timeout_ms: not transactional */
    if (version >= 3) {
        kk_write_i64(w, producer_id);
        kk_write_i16(w, producer_epoch);
    }
    if (flexible)
        kk_write_empty_tags(w);
}

int kk_decode_init_producer_id_response(kk_reader_t *r, int16_t version,
                                        kk_init_producer_id_response_t *out, kk_error_t *err) {
    bool flexible = kk_protocol_is_flexible(KK_API_INIT_PRODUCER_ID, version);
    out->throttle_time_ms = kk_read_i32(r);
    out->error_code = kk_read_error_code(r);
    out->producer_id = kk_read_i64(r);
    out->producer_epoch = kk_read_i16(r);
    if (flexible)
        kk_read_skip_tags(r);
    if (r->failed)
        return kk_decode_failed(err, false, "InitProducerId", version);
    return KK_OK;
}
