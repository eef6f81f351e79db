/* Topic administration: CreateTopics (v0..v7), DeleteTopics (v0..v6), DeleteRecords (v0..v2). */
#ifndef KK_PROTOCOL_ADMIN_H
#define KK_PROTOCOL_ADMIN_H

#include "buffer.h"
#include "kafkette.h"

typedef struct kk_topic_config_in {
    const char *name;
    const char *value;
} kk_topic_config_in_t;

typedef struct kk_new_topic_in {
    const char *name;
    int32_t partitions;         /* -1 = broker default (v4+) */
    int16_t replication_factor; /* -1 = broker default (v4+) */
    const kk_topic_config_in_t *configs;
    size_t config_count;
} kk_new_topic_in_t;

void kk_encode_create_topics_request(kk_writer_t *w, int16_t version, const kk_new_topic_in_t *topics,
                                     size_t topic_count, int32_t timeout_ms, bool validate_only);

/* One result per topic, for CreateTopics and DeleteTopics alike. */
typedef struct kk_topic_result {
    char *name;
    int16_t error_code;
    char *error_message; /* NULL when absent */
} kk_topic_result_t;

typedef struct kk_topic_results {
    kk_topic_result_t *topics;
    size_t count;
    int32_t throttle_time_ms;
} kk_topic_results_t;

int kk_decode_create_topics_response(kk_reader_t *r, int16_t version, kk_topic_results_t *out,
                                     kk_error_t *err);

void kk_encode_delete_topics_request(kk_writer_t *w, int16_t version, const char *const *topics,
                                     size_t topic_count, int32_t timeout_ms);
int kk_decode_delete_topics_response(kk_reader_t *r, int16_t version, kk_topic_results_t *out,
                                     kk_error_t *err);
void kk_topic_results_free(kk_topic_results_t *results);

/* DeleteRecords for one partition: everything before `offset` (-1 = the high watermark). */
void kk_encode_delete_records_request(kk_writer_t *w, int16_t version, const char *topic,
                                      int32_t partition, int64_t offset, int32_t timeout_ms);
/* Fills the partition's error code and new low watermark. */
int kk_decode_delete_records_response(kk_reader_t *r, int16_t version, int16_t *error_code,
                                      int64_t *low_watermark, kk_error_t *err);

#endif
