/* Produce requests and responses (v0..v11), pure encode/decode. */
#ifndef KK_PROTOCOL_PRODUCE_H
#define KK_PROTOCOL_PRODUCE_H

#include "buffer.h"
#include "kafkette.h"

typedef struct kk_produce_partition_in {
    int32_t partition;
    const uint8_t *records; /* an encoded record set (record_batch.h), not size-prefixed */
    size_t records_len;
} kk_produce_partition_in_t;

typedef struct kk_produce_topic_in {
    const char *topic;
    const kk_produce_partition_in_t *partitions;
    size_t partition_count;
} kk_produce_topic_in_t;

/* v0-v2 need MessageSet v0/v1 in records, v3+ RecordBatch v2 (the caller picks). */
void kk_encode_produce_request(kk_writer_t *w, int16_t version, int16_t acks, int32_t timeout_ms,
                               const kk_produce_topic_in_t *topics, size_t topic_count);

typedef struct kk_produce_partition_result {
    int32_t partition;
    int16_t error_code;
    int64_t base_offset;
    int64_t log_append_time; /* -1 unless the topic uses LogAppendTime (v2+) */
    int64_t log_start_offset; /* -1 before v5 */
    char *error_message;      /* v8+, NULL when absent; owned by the response */
} kk_produce_partition_result_t;

typedef struct kk_produce_topic_result {
    char *topic;
    kk_produce_partition_result_t *partitions;
    size_t partition_count;
} kk_produce_topic_result_t;

typedef struct kk_produce_response {
    kk_produce_topic_result_t *topics;
    size_t topic_count;
    int32_t throttle_time_ms;
} kk_produce_response_t;

int kk_decode_produce_response(kk_reader_t *r, int16_t version, kk_produce_response_t *out,
                               kk_error_t *err);
void kk_produce_response_free(kk_produce_response_t *resp);
/* The result for (topic, partition), or NULL. */
const kk_produce_partition_result_t *kk_produce_response_find(const kk_produce_response_t *resp,
                                                              const char *topic, int32_t partition);

/* ---- InitProducerId (v0..v4): an idempotent producer's id and epoch --------------------- */

/* Not transactional (null transactional id). producer_id / producer_epoch (v3+) ask the broker
 * to bump that producer's epoch (KIP-360); -1 / -1 for a new producer id. */
void kk_encode_init_producer_id_request(kk_writer_t *w, int16_t version, int64_t producer_id,
                                        int16_t producer_epoch);

typedef struct kk_init_producer_id_response {
    int32_t throttle_time_ms;
    int16_t error_code;
    int64_t producer_id;
    int16_t producer_epoch;
} kk_init_producer_id_response_t;

int kk_decode_init_producer_id_response(kk_reader_t *r, int16_t version,
                                        kk_init_producer_id_response_t *out, kk_error_t *err);

#endif
