#include "protocol_fetch.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "protocol.h"

/* A consumer is not a replica: every request says so with replica id -1. */
#define CONSUMER_REPLICA_ID (-1)

static bool slice_is(kk_slice_t s, const char *text) {
    size_t n = strlen(text);
    return s.len >= 0 && (size_t)s.len == n && (n == 0 || memcmp(s.ptr, text, n) == 0);
}

/* ---- ListOffsets ------------------------------------------------------------------------ */

void kk_encode_list_offsets_request(kk_writer_t *w, int16_t version, const char *topic,
                                    int32_t partition, int64_t timestamp, int8_t isolation_level) {
    bool flexible = kk_protocol_is_flexible(KK_API_LIST_OFFSETS, version);
    kk_write_i32(w, CONSUMER_REPLICA_ID);
    if (version >= 2)
        kk_write_i8(w, isolation_level);
    kk_write_array_len_v(w, 1, flexible);
    kk_write_str_v(w, topic, flexible);
    kk_write_array_len_v(w, 1, flexible);
    kk_write_i32(w, partition);
    if (version >= 4)
        kk_write_i32(w, -1); /* current_leader_epoch: unknown, so the broker skips fencing */
    kk_write_i64(w, timestamp);
    if (version == 0)
        kk_write_i32(w, 1); /* max_num_offsets: we only ever use the first */
    if (flexible) {
        kk_write_empty_tags(w); /* partition */
        kk_write_empty_tags(w); /* topic */
        kk_write_empty_tags(w);
    }
}

/* The smallest encoding of one ListOffsets response partition, so lying counts fail fast. */
static size_t list_offsets_partition_min(int16_t version, bool flexible) {
    size_t n = 4 + 2; /* partition index, error code */
    if (version == 0)
        return n + 4; /* an empty offsets array */
    n += 8 + 8;       /* timestamp, offset */
    if (version >= 4)
        n += 4; /* leader epoch */
    if (flexible)
        n += 1; /* tags */
    return n;
}

int kk_decode_list_offsets_response(kk_reader_t *r, int16_t version, const char *topic,
                                    int32_t partition, kk_list_offsets_result_t *out,
                                    kk_error_t *err) {
    bool flexible = kk_protocol_is_flexible(KK_API_LIST_OFFSETS, version);
    static const kk_list_offsets_result_t none = {0, -1, -1, -1};
    bool found = false;
    *out = none;

    if (version >= 2)
        (void)kk_read_i32(r); /* throttle_time_ms */
    /* name + partition array: 6 bytes, or 3 flexible (with the tag section) */
    int32_t topic_count = kk_read_array_len_v(r, flexible, flexible ? 3 : 6);
    for (int32_t t = 0; t < topic_count && !r->failed; t++) {
        kk_slice_t name = kk_read_str_v(r, flexible);
        bool topic_match = slice_is(name, topic);
        int32_t part_count =
            kk_read_array_len_v(r, flexible, list_offsets_partition_min(version, flexible));
        for (int32_t p = 0; p < part_count && !r->failed; p++) {
            int32_t index = kk_read_i32(r);
            kk_list_offsets_result_t res = {kk_read_error_code(r), -1, -1, -1};
            if (version == 0) {
                int32_t n = kk_read_array_len(r, 8);
                for (int32_t i = 0; i < n && !r->failed; i++) {
                    int64_t offset = kk_read_i64(r);
                    if (i == 0)
                        res.offset = offset;
                }
            } else {
                res.timestamp = kk_read_i64(r);
                res.offset = kk_read_i64(r);
                if (version >= 4)
                    res.leader_epoch = kk_read_i32(r);
            }
            if (flexible)
                kk_read_skip_tags(r);
            if (topic_match && index == partition && !found && !r->failed) {
                *out = res;
                found = true;
            }
        }
        if (flexible)
            kk_read_skip_tags(r);
    }
    if (flexible)
        kk_read_skip_tags(r);

    if (r->failed || topic_count < 0) {
        *out = none;
        return kk_decode_failed(err, false, "ListOffsets", version);
    }
    if (!found)
        return kk_error_set(err, KK_ERR_MALFORMED,
                            "ListOffsets v%d response does not mention partition %s/%d", version,
                            topic, (int)partition);
    return KK_OK;
}

/* ---- Fetch ------------------------------------------------------------------------------ */

void kk_encode_fetch_request(kk_writer_t *w, int16_t version, const kk_fetch_request_in_t *req) {
    bool flexible = kk_protocol_is_flexible(KK_API_FETCH, version);
    kk_write_i32(w, CONSUMER_REPLICA_ID);
    kk_write_i32(w, req->max_wait_ms);
    kk_write_i32(w, req->min_bytes);
    if (version >= 3)
        kk_write_i32(w, req->max_bytes);
    if (version >= 4)
        kk_write_i8(w, req->isolation_level);
    if (version >= 7) {
        kk_write_i32(w, 0);  /* session_id: no fetch session (a full fetch every time) */
        kk_write_i32(w, -1); /* session_epoch: -1 asks the broker not to create one */
    }
    kk_write_array_len_v(w, 1, flexible);
    kk_write_str_v(w, req->topic, flexible);
    kk_write_array_len_v(w, 1, flexible);
    kk_write_i32(w, req->partition);
    if (version >= 9)
        kk_write_i32(w, req->current_leader_epoch);
    kk_write_i64(w, req->fetch_offset);
    if (version >= 12)
        kk_write_i32(w, -1); /* last_fetched_epoch: unknown, no divergence check */
    if (version >= 5)
        kk_write_i64(w, -1); /* log_start_offset: only followers send one */
    kk_write_i32(w, req->partition_max_bytes);
    if (flexible) {
        kk_write_empty_tags(w); /* partition */
        kk_write_empty_tags(w); /* topic */
    }
    if (version >= 7)
        kk_write_array_len_v(w, 0, flexible); /* forgotten_topics_data */
    if (version >= 11)
        kk_write_str_v(w, "", flexible); /* rack_id: none, so no follower fetching */
    if (flexible)
        kk_write_empty_tags(w); /* cluster_id (tag 0) left out */
}

/* The smallest encoding of one Fetch response partition, so lying counts fail fast. */
static size_t fetch_partition_min(int16_t version, bool flexible) {
    size_t n = 4 + 2 + 8; /* partition, error code, high watermark */
    if (version >= 4)
        n += 8 + (flexible ? 1 : 4); /* last stable offset, aborted array length */
    if (version >= 5)
        n += 8; /* log start offset */
    if (version >= 11)
        n += 4;                /* preferred read replica */
    n += flexible ? 1 + 1 : 4; /* records length (+ tags) */
    return n;
}

/* Reads the aborted transactions array; keeps it in *out only when keep is set. Returns false
 * when out of memory. */
static bool read_aborted(kk_reader_t *r, bool flexible, bool keep, kk_aborted_txn_t **out,
                         size_t *count) {
    int32_t n = kk_read_array_len_v(r, flexible, flexible ? 17 : 16);
    *out = NULL;
    *count = 0;
    if (r->failed || n <= 0)
        return true;
    kk_aborted_txn_t *list = NULL;
    if (keep) {
        list = malloc((size_t)n * sizeof(*list));
        if (!list)
            return false;
    }
    for (int32_t i = 0; i < n && !r->failed; i++) {
        int64_t producer_id = kk_read_i64(r);
        int64_t first_offset = kk_read_i64(r);
        if (flexible)
            kk_read_skip_tags(r);
        if (list) {
            list[i].producer_id = producer_id;
            list[i].first_offset = first_offset;
        }
    }
    if (r->failed) {
        free(list);
        return true;
    }
    *out = list;
    *count = list ? (size_t)n : 0;
    return true;
}

static void fetch_result_reset(kk_fetch_partition_result_t *out) {
    out->error_code = 0;
    out->high_watermark = -1;
    out->last_stable_offset = -1;
    out->log_start_offset = -1;
    out->aborted = NULL;
    out->aborted_count = 0;
    out->preferred_read_replica = -1;
    out->records = NULL;
    out->records_len = 0;
}

int kk_decode_fetch_response(kk_reader_t *r, int16_t version, const char *topic, int32_t partition,
                             kk_fetch_partition_result_t *out, kk_error_t *err) {
    bool flexible = kk_protocol_is_flexible(KK_API_FETCH, version);
    bool found = false, oom = false;
    int16_t top_error = 0;
    fetch_result_reset(out);

    if (version >= 1)
        (void)kk_read_i32(r); /* throttle_time_ms */
    if (version >= 7) {
        top_error = kk_read_error_code(r);
        (void)kk_read_i32(r); /* session_id */
    }
    int32_t topic_count = kk_read_array_len_v(r, flexible, flexible ? 3 : 6);
    for (int32_t t = 0; t < topic_count && !r->failed && !oom; t++) {
        kk_slice_t name = kk_read_str_v(r, flexible);
        bool topic_match = slice_is(name, topic);
        int32_t part_count =
            kk_read_array_len_v(r, flexible, fetch_partition_min(version, flexible));
        for (int32_t p = 0; p < part_count && !r->failed && !oom; p++) {
            kk_fetch_partition_result_t res;
            fetch_result_reset(&res);
            int32_t index = kk_read_i32(r);
            bool wanted = topic_match && index == partition && !found;
            res.error_code = kk_read_error_code(r);
            res.high_watermark = kk_read_i64(r);
            if (version >= 4)
                res.last_stable_offset = kk_read_i64(r);
            if (version >= 5)
                res.log_start_offset = kk_read_i64(r);
            if (version >= 4 &&
                !read_aborted(r, flexible, wanted, &res.aborted, &res.aborted_count))
                oom = true;
            if (version >= 11)
                res.preferred_read_replica = kk_read_i32(r);
            kk_slice_t records = kk_read_bytes_v(r, flexible);
            res.records = records.len >= 0 ? records.ptr : NULL;
            res.records_len = records.len >= 0 ? (size_t)records.len : 0;
            if (flexible)
                kk_read_skip_tags(r); /* diverging_epoch, current_leader, snapshot_id */
            if (wanted && !r->failed && !oom) {
                *out = res;
                found = true;
            } else {
                free(res.aborted);
            }
        }
        if (flexible)
            kk_read_skip_tags(r);
    }
    if (flexible)
        kk_read_skip_tags(r); /* node_endpoints (v16+) */

    if (oom || r->failed || topic_count < 0) {
        kk_fetch_partition_result_free(out);
        fetch_result_reset(out);
        return kk_decode_failed(err, oom, "Fetch", version);
    }
    if (top_error != 0) {
        /* The broker refused the whole request: partitions are usually absent then. */
        out->error_code = top_error;
        return KK_OK;
    }
    if (!found)
        return kk_error_set(err, KK_ERR_MALFORMED,
                            "Fetch v%d response does not mention partition %s/%d", version, topic,
                            (int)partition);
    return KK_OK;
}

void kk_fetch_partition_result_free(kk_fetch_partition_result_t *res) {
    if (!res)
        return;
    free(res->aborted);
    res->aborted = NULL;
    res->aborted_count = 0;
}
