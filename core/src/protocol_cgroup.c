#include "protocol_cgroup.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "protocol.h"

static void write_topic_partitions(kk_writer_t *w, const kk_cg_topic_partitions_t *tps, size_t n) {
    kk_write_compact_array_len(w, (int32_t)n);
    for (size_t i = 0; i < n; i++) {
        kk_write_raw(w, tps[i].topic_id, 16);
        kk_write_compact_array_len(w, (int32_t)tps[i].count);
        for (size_t p = 0; p < tps[i].count; p++)
            kk_write_i32(w, tps[i].partitions[p]);
        kk_write_empty_tags(w);
    }
}

void kk_encode_cg_heartbeat_request(kk_writer_t *w, int16_t version,
                                    const kk_cg_heartbeat_in_t *in) {
    kk_write_compact_string(w, in->group_id);
    kk_write_compact_string(w, in->member_id ? in->member_id : "");
    kk_write_i32(w, in->member_epoch);
    kk_write_compact_string(w, in->instance_id);
    kk_write_compact_string(w, in->rack_id);
    kk_write_i32(w, in->rebalance_timeout_ms);
    if (in->send_topics) {
        kk_write_compact_array_len(w, (int32_t)in->topic_count);
        for (size_t i = 0; i < in->topic_count; i++)
            kk_write_compact_string(w, in->topics[i]);
    } else {
        kk_write_compact_array_len(w, -1);
    }
    if (version >= 1)
        kk_write_compact_string(w, NULL); /* SubscribedTopicRegex: not used */
    kk_write_compact_string(w, in->server_assignor);
    if (in->send_owned)
        write_topic_partitions(w, in->owned, in->owned_count);
    else
        kk_write_compact_array_len(w, -1);
    kk_write_empty_tags(w);
}

void kk_cg_topic_partitions_free(kk_cg_topic_partitions_t *tps, size_t count) {
    for (size_t i = 0; tps && i < count; i++)
        free(tps[i].partitions);
    free(tps);
}

void kk_cg_heartbeat_result_free(kk_cg_heartbeat_result_t *res) {
    free(res->error_message);
    free(res->member_id);
    kk_cg_topic_partitions_free(res->assigned, res->assigned_count);
    res->error_message = res->member_id = NULL;
    res->assigned = NULL;
    res->assigned_count = 0;
    res->has_assignment = false;
}

int kk_decode_cg_heartbeat_response(kk_reader_t *r, int16_t version, kk_cg_heartbeat_result_t *out,
                                    kk_error_t *err) {
    bool oom = false;
    memset(out, 0, sizeof(*out));
    out->throttle_time_ms = kk_read_i32(r);
    out->error_code = kk_read_error_code(r);
    out->error_message = kk_slice_strdup(kk_read_compact_string(r), &oom);
    out->member_id = kk_slice_strdup(kk_read_compact_string(r), &oom);
    out->member_epoch = kk_read_i32(r);
    out->heartbeat_interval_ms = kk_read_i32(r);
    int8_t present = kk_read_i8(r); /* a nullable struct: -1 null, 1 present */
    if (present == 1 && !r->failed) {
        out->has_assignment = true;
        /* a topic is at least its id, an empty array and empty tags */
        int32_t n = kk_read_compact_array_len(r, 18);
        if (n < 0)
            kk_reader_fail(r);
        if (n > 0 && !r->failed) {
            out->assigned = calloc((size_t)n, sizeof(*out->assigned));
            if (!out->assigned)
                oom = true;
        }
        for (int32_t t = 0; t < n && !r->failed && !oom; t++) {
            kk_cg_topic_partitions_t *tp = &out->assigned[t];
            out->assigned_count++;
            const uint8_t *id = kk_read_raw(r, 16);
            if (id)
                memcpy(tp->topic_id, id, 16);
            int32_t parts = kk_read_compact_array_len(r, 4);
            if (parts < 0)
                kk_reader_fail(r);
            if (parts > 0 && !r->failed) {
                tp->partitions = malloc((size_t)parts * sizeof(*tp->partitions));
                if (!tp->partitions)
                    oom = true;
            }
            for (int32_t p = 0; p < parts && !r->failed && !oom; p++) {
                tp->partitions[p] = kk_read_i32(r);
                tp->count++;
            }
            kk_read_skip_tags(r);
        }
        kk_read_skip_tags(r);
    } else if (present != -1) {
        kk_reader_fail(r);
    }
    kk_read_skip_tags(r);
    if (oom || r->failed) {
        kk_cg_heartbeat_result_free(out);
        return kk_decode_failed(err, oom, "ConsumerGroupHeartbeat", version);
    }
    return KK_OK;
}
