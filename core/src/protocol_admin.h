/* Administration, pure encode/decode: CreateTopics (v0..v7), DeleteTopics (v0..v6),
 * DeleteRecords (v0..v2), CreatePartitions (v0..v3), DescribeConfigs (v1..v4) and
 * IncrementalAlterConfigs (v0..v1) here; ListGroups (v0..v5) and DescribeGroups (v0..v5) in
 * protocol_admin_groups.c. Decoded results own copies of everything; on a decode failure a
 * result holds nothing to free. */
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

void kk_encode_create_topics_request(kk_writer_t *w, int16_t version,
                                     const kk_new_topic_in_t *topics, size_t topic_count,
                                     int32_t timeout_ms, bool validate_only);

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

/* ---- CreatePartitions ------------------------------------------------------------------- */

/* Grows one topic to `count` partitions, letting the controller place the new replicas. */
void kk_encode_create_partitions_request(kk_writer_t *w, int16_t version, const char *topic,
                                         int32_t count, int32_t timeout_ms, bool validate_only);
/* One result per topic, as for CreateTopics. */
int kk_decode_create_partitions_response(kk_reader_t *r, int16_t version, kk_topic_results_t *out,
                                         kk_error_t *err);

/* ---- DescribeConfigs -------------------------------------------------------------------- */

/* Every config of one resource, without synonyms or documentation. */
void kk_encode_describe_configs_request(kk_writer_t *w, int16_t version, int8_t resource_type,
                                        const char *resource_name);

typedef struct kk_describe_configs_result {
    int16_t error_code;
    char *error_message;           /* NULL when absent */
    kk_resource_configs_t configs; /* entries in the broker's order */
} kk_describe_configs_result_t;

/* Takes the first resource of the response (we ask for one). */
int kk_decode_describe_configs_response(kk_reader_t *r, int16_t version,
                                        kk_describe_configs_result_t *out, kk_error_t *err);
void kk_describe_configs_result_free(kk_describe_configs_result_t *res);

/* ---- IncrementalAlterConfigs ------------------------------------------------------------ */

void kk_encode_incremental_alter_configs_request(kk_writer_t *w, int16_t version,
                                                 int8_t resource_type, const char *resource_name,
                                                 const kk_config_alteration_t *alterations,
                                                 size_t count, bool validate_only);
/* The first resource's error code and message (NULL when absent; the caller frees it). */
int kk_decode_incremental_alter_configs_response(kk_reader_t *r, int16_t version,
                                                 int16_t *error_code, char **error_message,
                                                 kk_error_t *err);

/* ---- ListGroups ------------------------------------------------------------------------- */

/* No filters: every group, with its state (v4+) and type (v5+). */
void kk_encode_list_groups_request(kk_writer_t *w, int16_t version);
/* *groups is new (the caller frees it with kk_group_listings_free); coordinator is set to -1. */
int kk_decode_list_groups_response(kk_reader_t *r, int16_t version, int16_t *error_code,
                                   kk_group_listing_t **groups, size_t *count, kk_error_t *err);

/* ---- DescribeGroups --------------------------------------------------------------------- */

void kk_encode_describe_groups_request(kk_writer_t *w, int16_t version, const char *group_id);

typedef struct kk_describe_group_result {
    int16_t error_code;
    kk_group_description_t group; /* assignments left raw (assignment NULL), coordinator -1 */
} kk_describe_group_result_t;

/* Takes the first group of the response (we ask for one). */
int kk_decode_describe_groups_response(kk_reader_t *r, int16_t version,
                                       kk_describe_group_result_t *out, kk_error_t *err);
/* Frees what a kk_group_description_t points to, not the struct itself. */
void kk_group_description_clear(kk_group_description_t *group);

#endif
