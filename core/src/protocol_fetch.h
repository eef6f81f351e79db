/* ListOffsets (v0..v7) and Fetch (v0..v12) requests and responses, pure encode/decode.
 * One partition per request: the partition consumer fetches one partition at a time. */
#ifndef KK_PROTOCOL_FETCH_H
#define KK_PROTOCOL_FETCH_H

#include "buffer.h"
#include "kafkette.h"
#include "record_batch.h"

/* ListOffsets timestamps with a special meaning. */
#define KK_OFFSET_SPEC_LATEST (-1)
#define KK_OFFSET_SPEC_EARLIEST (-2)

void kk_encode_list_offsets_request(kk_writer_t *w, int16_t version, const char *topic,
                                    int32_t partition, int64_t timestamp, int8_t isolation_level);

typedef struct kk_list_offsets_result {
    int16_t error_code;
    int64_t timestamp;    /* -1 when absent (v0) */
    int64_t offset;       /* -1 when none (e.g. no record at or after the timestamp) */
    int32_t leader_epoch; /* -1 when absent */
} kk_list_offsets_result_t;

/* Finds (topic, partition) in the response (v0 returns an offsets array: takes its first
 * entry). KK_ERR_MALFORMED if the partition is missing. */
int kk_decode_list_offsets_response(kk_reader_t *r, int16_t version, const char *topic,
                                    int32_t partition, kk_list_offsets_result_t *out,
                                    kk_error_t *err);

typedef struct kk_fetch_request_in {
    const char *topic;
    int32_t partition;
    int64_t fetch_offset;
    int32_t current_leader_epoch; /* -1 = unknown (v9+) */
    int32_t max_wait_ms;
    int32_t min_bytes;
    int32_t max_bytes;           /* response-level limit (v3+) */
    int32_t partition_max_bytes; /* the partition's limit */
    int8_t isolation_level;      /* 0 read_uncommitted, 1 read_committed (v4+) */
} kk_fetch_request_in_t;

void kk_encode_fetch_request(kk_writer_t *w, int16_t version, const kk_fetch_request_in_t *req);

typedef struct kk_fetch_partition_result {
    int16_t error_code;
    int64_t high_watermark;
    int64_t last_stable_offset; /* -1 before v4 */
    int64_t log_start_offset;   /* -1 before v5 */
    kk_aborted_txn_t *aborted;  /* v4+, owned; NULL when none */
    size_t aborted_count;
    int32_t preferred_read_replica; /* -1 when none (v11+) */
    const uint8_t *records;         /* points into the response buffer; NULL when null */
    size_t records_len;
} kk_fetch_partition_result_t;

/* Finds (topic, partition) in the response; KK_ERR_MALFORMED if missing. A top-level error
 * (v7+) is returned in out->error_code when it is set. */
int kk_decode_fetch_response(kk_reader_t *r, int16_t version, const char *topic, int32_t partition,
                             kk_fetch_partition_result_t *out, kk_error_t *err);
void kk_fetch_partition_result_free(kk_fetch_partition_result_t *res);

#endif
