/* Group coordination, pure encode/decode: FindCoordinator (v0..v3), JoinGroup (v0..v9),
 * SyncGroup (v0..v5), Heartbeat (v0..v4), LeaveGroup (v0..v5), OffsetCommit (v2..v9) and
 * OffsetFetch (v1..v9). Decoded results own copies of everything (the response buffer is
 * reused by the next request); on a decode failure a result holds nothing to free. */
#ifndef KK_PROTOCOL_GROUP_H
#define KK_PROTOCOL_GROUP_H

#include "buffer.h"
#include "kafkette.h"

#define KK_COORDINATOR_KEY_GROUP 0

/* ---- FindCoordinator -------------------------------------------------------------------- */

void kk_encode_find_coordinator_request(kk_writer_t *w, int16_t version, const char *key,
                                        int8_t key_type);

typedef struct kk_coordinator_result {
    int32_t throttle_time_ms;
    int16_t error_code;
    char *error_message; /* NULL when absent */
    int32_t node_id;
    char *host; /* NULL when the broker sent a null host (with an error) */
    int32_t port;
} kk_coordinator_result_t;

int kk_decode_find_coordinator_response(kk_reader_t *r, int16_t version,
                                        kk_coordinator_result_t *out, kk_error_t *err);
void kk_coordinator_result_free(kk_coordinator_result_t *res);

/* ---- JoinGroup -------------------------------------------------------------------------- */

typedef struct kk_group_protocol_in {
    const char *name;
    const uint8_t *metadata;
    size_t metadata_len;
} kk_group_protocol_in_t;

typedef struct kk_join_group_in {
    const char *group_id;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms;  /* v1+ */
    const char *member_id;         /* "" on the first join */
    const char *group_instance_id; /* v5+; NULL = dynamic membership */
    const char *protocol_type;
    const kk_group_protocol_in_t *protocols;
    size_t protocol_count;
    const char *reason; /* v8+; NULL = none */
} kk_join_group_in_t;

void kk_encode_join_group_request(kk_writer_t *w, int16_t version, const kk_join_group_in_t *in);

typedef struct kk_join_group_member {
    char *member_id;
    char *group_instance_id; /* NULL when none */
    uint8_t *metadata;       /* NULL when empty or null */
    size_t metadata_len;
} kk_join_group_member_t;

typedef struct kk_join_group_result {
    int32_t throttle_time_ms;
    int16_t error_code;
    int32_t generation_id;
    char *protocol_type;             /* v7+; NULL when absent */
    char *protocol_name;             /* NULL when absent */
    char *leader;                    /* NULL when absent (some brokers send null with an error) */
    bool skip_assignment;            /* v9+ */
    char *member_id;                 /* NULL when absent */
    kk_join_group_member_t *members; /* only the leader gets them */
    size_t member_count;
} kk_join_group_result_t;

int kk_decode_join_group_response(kk_reader_t *r, int16_t version, kk_join_group_result_t *out,
                                  kk_error_t *err);
void kk_join_group_result_free(kk_join_group_result_t *res);

/* ---- SyncGroup -------------------------------------------------------------------------- */

typedef struct kk_sync_assignment_in {
    const char *member_id;
    const uint8_t *assignment;
    size_t assignment_len;
} kk_sync_assignment_in_t;

typedef struct kk_sync_group_in {
    const char *group_id;
    int32_t generation_id;
    const char *member_id;
    const char *group_instance_id;              /* v3+; NULL = none */
    const char *protocol_type;                  /* v5+ */
    const char *protocol_name;                  /* v5+ */
    const kk_sync_assignment_in_t *assignments; /* the leader's; empty for the others */
    size_t assignment_count;
} kk_sync_group_in_t;

void kk_encode_sync_group_request(kk_writer_t *w, int16_t version, const kk_sync_group_in_t *in);

typedef struct kk_sync_group_result {
    int32_t throttle_time_ms;
    int16_t error_code;
    char *protocol_type; /* v5+; NULL when absent */
    char *protocol_name; /* v5+; NULL when absent */
    uint8_t *assignment; /* NULL when empty or null */
    size_t assignment_len;
} kk_sync_group_result_t;

int kk_decode_sync_group_response(kk_reader_t *r, int16_t version, kk_sync_group_result_t *out,
                                  kk_error_t *err);
void kk_sync_group_result_free(kk_sync_group_result_t *res);

/* ---- Heartbeat -------------------------------------------------------------------------- */

typedef struct kk_heartbeat_in {
    const char *group_id;
    int32_t generation_id;
    const char *member_id;
    const char *group_instance_id; /* v3+; NULL = none */
} kk_heartbeat_in_t;

void kk_encode_heartbeat_request(kk_writer_t *w, int16_t version, const kk_heartbeat_in_t *in);
int kk_decode_heartbeat_response(kk_reader_t *r, int16_t version, int16_t *error_code,
                                 kk_error_t *err);

/* ---- LeaveGroup ------------------------------------------------------------------------- */

/* One member leaves (v3+ sends it as a one-element batch). */
void kk_encode_leave_group_request(kk_writer_t *w, int16_t version, const char *group_id,
                                   const char *member_id, const char *group_instance_id,
                                   const char *reason);
/* *error_code: the top-level error; *member_error_code: the first member's (v3+, else 0). */
int kk_decode_leave_group_response(kk_reader_t *r, int16_t version, int16_t *error_code,
                                   int16_t *member_error_code, kk_error_t *err);

/* ---- OffsetCommit ----------------------------------------------------------------------- */

typedef struct kk_offset_commit_entry {
    const char *topic;
    int32_t partition;
    int64_t offset;       /* the next offset to read */
    int32_t leader_epoch; /* v6+; -1 = unknown */
    const char *metadata; /* NULL = null */
} kk_offset_commit_entry_t;

typedef struct kk_offset_commit_in {
    const char *group_id;
    int32_t generation_id;         /* -1 for a commit outside the group's generations */
    const char *member_id;         /* "" likewise */
    const char *group_instance_id; /* v7+; NULL = none */
    /* Entries of one topic need not be adjacent: the encoder groups them by topic in order of
     * first appearance. */
    const kk_offset_commit_entry_t *entries;
    size_t entry_count;
} kk_offset_commit_in_t;

void kk_encode_offset_commit_request(kk_writer_t *w, int16_t version,
                                     const kk_offset_commit_in_t *in);

/* One partition's outcome (OffsetCommit) or committed offset (OffsetFetch). */
typedef struct kk_partition_offset {
    const char *topic; /* one of the result's topic_names, shared by the topic's partitions */
    int32_t partition;
    int64_t offset;       /* OffsetFetch: -1 when nothing is committed; OffsetCommit: -1 */
    int32_t leader_epoch; /* OffsetFetch v5+; else -1 */
    char *metadata;       /* OffsetFetch; NULL when null */
    int16_t error_code;
} kk_partition_offset_t;

typedef struct kk_partition_offsets {
    int32_t throttle_time_ms;
    int16_t error_code; /* OffsetFetch v2+: the top-level error; else 0 */
    kk_partition_offset_t *partitions;
    size_t count;
    char **topic_names; /* each topic's name, copied once however many partitions it has */
    size_t topic_count;
} kk_partition_offsets_t;

int kk_decode_offset_commit_response(kk_reader_t *r, int16_t version, kk_partition_offsets_t *out,
                                     kk_error_t *err);
void kk_partition_offsets_free(kk_partition_offsets_t *res);

/* ---- OffsetFetch ------------------------------------------------------------------------ */

/* Versions above this one carry a list of groups (v8) and the member's id and epoch (v9,
 * KIP-848: the coordinator checks them); a classic member and the admin calls use at most this. */
#define KK_OFFSET_FETCH_SINGLE_GROUP_MAX 7

/* count 0 asks for every partition the group has committed (v2+; v1 sends an empty list).
 * v8+: one group, without a member (v9: a null member id and epoch -1). */
void kk_encode_offset_fetch_request(kk_writer_t *w, int16_t version, const char *group_id,
                                    const kk_topic_partition_t *partitions, size_t count,
                                    bool require_stable);
/* As kk_encode_offset_fetch_request, and at v9+ for a KIP-848 member: its id (NULL: null)
 * and epoch (-1: none). */
void kk_encode_offset_fetch_member_request(kk_writer_t *w, int16_t version, const char *group_id,
                                           const char *member_id, int32_t member_epoch,
                                           const kk_topic_partition_t *partitions, size_t count,
                                           bool require_stable);
/* v8+: the answer for exactly one group (else KK_ERR_MALFORMED); its group-level error goes
 * into out->error_code. */
int kk_decode_offset_fetch_response(kk_reader_t *r, int16_t version, kk_partition_offsets_t *out,
                                    kk_error_t *err);

#endif
