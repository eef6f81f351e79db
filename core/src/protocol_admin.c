#include "protocol_admin.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "protocol.h"

/* Writes an array length, failing the writer for counts the protocol cannot carry. */
static bool write_count(kk_writer_t *w, size_t n, bool flexible) {
    if (n > INT32_MAX) {
        w->failed = true;
        return false;
    }
    kk_write_array_len_v(w, (int32_t)n, flexible);
    return true;
}

/* ---- CreateTopics ----------------------------------------------------------------------- */

void kk_encode_create_topics_request(kk_writer_t *w, int16_t version, const kk_new_topic_in_t *topics,
                                     size_t topic_count, int32_t timeout_ms, bool validate_only) {
    bool flexible = kk_protocol_is_flexible(KK_API_CREATE_TOPICS, version);
    if (!write_count(w, topic_count, flexible))
        return;
    for (size_t i = 0; i < topic_count; i++) {
        const kk_new_topic_in_t *t = &topics[i];
        kk_write_str_v(w, t->name, flexible);
        kk_write_i32(w, t->partitions);
        kk_write_i16(w, t->replication_factor);
        kk_write_array_len_v(w, 0, flexible); /* assignments: let the controller place them */
        if (!write_count(w, t->config_count, flexible))
            return;
        for (size_t j = 0; j < t->config_count; j++) {
            kk_write_str_v(w, t->configs[j].name, flexible);
            kk_write_str_v(w, t->configs[j].value, flexible);
            if (flexible)
                kk_write_empty_tags(w);
        }
        if (flexible)
            kk_write_empty_tags(w);
    }
    kk_write_i32(w, timeout_ms);
    if (version >= 1)
        kk_write_bool(w, validate_only);
    if (flexible)
        kk_write_empty_tags(w);
}

/* What a topic result carries besides name and error code, per API and version. */
typedef struct result_layout {
    const char *api;      /* for messages */
    bool flexible;
    bool throttle;        /* throttle_time_ms before the array */
    bool nullable_name;
    bool topic_id;        /* a uuid after the name */
    bool error_message;
    bool create_details;  /* CreateTopics v5+: partitions, replication, configs */
} result_layout_t;

static size_t min_result_size(const result_layout_t *l) {
    size_t n = (l->flexible ? 1 : 2) + 2; /* name, error code */
    if (l->topic_id)
        n += 16;
    if (l->error_message)
        n += l->flexible ? 1 : 2;
    if (l->create_details)
        n += 4 + 2 + 1; /* partitions, replication factor, null configs (flexible only) */
    if (l->flexible)
        n += 1; /* tags */
    return n;
}

static void skip_created_configs(kk_reader_t *r) {
    /* name, value, read_only, config_source, is_sensitive, tags */
    int32_t n = kk_read_compact_array_len(r, 1 + 1 + 1 + 1 + 1 + 1);
    for (int32_t i = 0; i < n && !r->failed; i++) {
        kk_slice_t name = kk_read_compact_string(r);
        (void)kk_read_compact_string(r); /* value */
        (void)kk_read_bool(r);           /* read_only */
        (void)kk_read_i8(r);             /* config_source */
        (void)kk_read_bool(r);           /* is_sensitive */
        kk_read_skip_tags(r);
        if (!r->failed && name.len < 0)
            kk_reader_fail(r);
    }
}

static int decode_topic_results(kk_reader_t *r, int16_t version, const result_layout_t *l,
                                kk_topic_results_t *out, kk_error_t *err) {
    bool oom = false;
    memset(out, 0, sizeof(*out));
    if (l->throttle)
        out->throttle_time_ms = kk_read_i32(r);
    int32_t n = kk_read_array_len_v(r, l->flexible, min_result_size(l));
    if (n > 0 && !r->failed) {
        out->topics = calloc((size_t)n, sizeof(*out->topics));
        if (!out->topics)
            oom = true;
        else
            out->count = (size_t)n;
    }
    for (int32_t i = 0; i < n && out->topics && !r->failed && !oom; i++) {
        kk_topic_result_t *t = &out->topics[i];
        t->name = kk_slice_strdup(kk_read_str_v(r, l->flexible), &oom);
        if (!r->failed && !oom && !t->name && !l->nullable_name)
            kk_reader_fail(r);
        if (l->topic_id)
            kk_read_skip(r, 16);
        t->error_code = kk_read_error_code(r);
        if (l->error_message)
            t->error_message = kk_slice_strdup(kk_read_str_v(r, l->flexible), &oom);
        if (l->create_details) {
            (void)kk_read_i32(r); /* num_partitions */
            (void)kk_read_i16(r); /* replication_factor */
            skip_created_configs(r);
        }
        if (l->flexible)
            kk_read_skip_tags(r); /* CreateTopics: topic_config_error_code (tag 0) */
    }
    if (l->flexible)
        kk_read_skip_tags(r);

    if (oom || r->failed || n < 0) {
        kk_topic_results_free(out);
        return kk_decode_failed(err, oom, l->api, version);
    }
    return KK_OK;
}

int kk_decode_create_topics_response(kk_reader_t *r, int16_t version, kk_topic_results_t *out,
                                     kk_error_t *err) {
    bool flexible = kk_protocol_is_flexible(KK_API_CREATE_TOPICS, version);
    result_layout_t layout = {
        .api = "CreateTopics",
        .flexible = flexible,
        .throttle = version >= 2,
        .nullable_name = false,
        .topic_id = version >= 7,
        .error_message = version >= 1,
        .create_details = version >= 5,
    };
    return decode_topic_results(r, version, &layout, out, err);
}

/* ---- DeleteTopics ----------------------------------------------------------------------- */

void kk_encode_delete_topics_request(kk_writer_t *w, int16_t version, const char *const *topics,
                                     size_t topic_count, int32_t timeout_ms) {
    bool flexible = kk_protocol_is_flexible(KK_API_DELETE_TOPICS, version);
    if (!write_count(w, topic_count, flexible))
        return;
    for (size_t i = 0; i < topic_count; i++) {
        kk_write_str_v(w, topics[i], flexible);
        if (version >= 6) {
            /* {name, topic_id}: by name, so the id is all zeros */
            static const uint8_t zero_uuid[16] = {0};
            kk_write_raw(w, zero_uuid, sizeof(zero_uuid));
            kk_write_empty_tags(w);
        }
    }
    kk_write_i32(w, timeout_ms);
    if (flexible)
        kk_write_empty_tags(w);
}

int kk_decode_delete_topics_response(kk_reader_t *r, int16_t version, kk_topic_results_t *out,
                                     kk_error_t *err) {
    bool flexible = kk_protocol_is_flexible(KK_API_DELETE_TOPICS, version);
    result_layout_t layout = {
        .api = "DeleteTopics",
        .flexible = flexible,
        .throttle = version >= 1,
        .nullable_name = version >= 6,
        .topic_id = version >= 6,
        .error_message = version >= 5,
        .create_details = false,
    };
    return decode_topic_results(r, version, &layout, out, err);
}

void kk_topic_results_free(kk_topic_results_t *results) {
    if (!results)
        return;
    for (size_t i = 0; i < results->count; i++) {
        free(results->topics[i].name);
        free(results->topics[i].error_message);
    }
    free(results->topics);
    memset(results, 0, sizeof(*results));
}

/* ---- DeleteRecords ---------------------------------------------------------------------- */

void kk_encode_delete_records_request(kk_writer_t *w, int16_t version, const char *topic,
                                      int32_t partition, int64_t offset, int32_t timeout_ms) {
    bool flexible = kk_protocol_is_flexible(KK_API_DELETE_RECORDS, version);
    kk_write_array_len_v(w, 1, flexible);
    kk_write_str_v(w, topic, flexible);
    kk_write_array_len_v(w, 1, flexible);
    kk_write_i32(w, partition);
    kk_write_i64(w, offset);
    if (flexible) {
        kk_write_empty_tags(w); /* partition */
        kk_write_empty_tags(w); /* topic */
    }
    kk_write_i32(w, timeout_ms);
    if (flexible)
        kk_write_empty_tags(w);
}

int kk_decode_delete_records_response(kk_reader_t *r, int16_t version, int16_t *error_code,
                                      int64_t *low_watermark, kk_error_t *err) {
    bool flexible = kk_protocol_is_flexible(KK_API_DELETE_RECORDS, version);
    bool found = false;
    *error_code = 0;
    *low_watermark = -1;
    (void)kk_read_i32(r); /* throttle_time_ms */
    /* name + partition count (+ tags): 6 bytes, 3 flexible */
    int32_t topics = kk_read_array_len_v(r, flexible, flexible ? 3 : 6);
    for (int32_t i = 0; i < topics && !r->failed; i++) {
        kk_slice_t name = kk_read_str_v(r, flexible);
        if (!r->failed && name.len < 0)
            kk_reader_fail(r);
        /* index, low watermark, error code (+ tags) */
        int32_t partitions = kk_read_array_len_v(r, flexible, flexible ? 15 : 14);
        if (partitions < 0)
            kk_reader_fail(r); /* not nullable */
        for (int32_t j = 0; j < partitions && !r->failed; j++) {
            (void)kk_read_i32(r); /* partition_index: we asked for one partition */
            int64_t watermark = kk_read_i64(r);
            int16_t code = kk_read_error_code(r);
            if (flexible)
                kk_read_skip_tags(r);
            if (!found && !r->failed) {
                found = true;
                *low_watermark = watermark;
                *error_code = code;
            }
        }
        if (flexible)
            kk_read_skip_tags(r);
    }
    if (flexible)
        kk_read_skip_tags(r);
    if (r->failed || topics < 0) {
        *error_code = 0;
        *low_watermark = -1;
        return kk_decode_failed(err, false, "DeleteRecords", version);
    }
    if (!found)
        return kk_error_set(err, KK_ERR_MALFORMED, "DeleteRecords v%d response has no partition result",
                            version);
    return KK_OK;
}
