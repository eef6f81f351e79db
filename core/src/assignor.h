/* The "consumer" protocol type of the classic group protocol: the subscription a member sends
 * in JoinGroup and the assignment the leader hands out through SyncGroup
 * (ConsumerProtocolSubscription / ConsumerProtocolAssignment v0..v3, the Java client's
 * encoding), and the leader's assignors "range" and "roundrobin", computed exactly as the
 * Java client computes them so that mixed groups agree. */
#ifndef KK_ASSIGNOR_H
#define KK_ASSIGNOR_H

#include "buffer.h"
#include "kafkette.h"

#define KK_CONSUMER_PROTOCOL_TYPE "consumer"
#define KK_CONSUMER_PROTOCOL_VERSION 3 /* the highest we write and read */

/* A list of topic partitions that owns its topic names: partitions[i].topic points into
 * topics[]. */
typedef struct kk_tp_list {
    char **topics;
    size_t topic_count;
    kk_topic_partition_t *partitions;
    size_t count;
} kk_tp_list_t;

void kk_tp_list_free(kk_tp_list_t *list);

/* ---- subscription ----------------------------------------------------------------------- */

/* Writes topics and owned partitions sorted (as the Java client does), user data null. Fields
 * the version lacks are left out. rack_id NULL = none. */
void kk_encode_consumer_subscription(kk_writer_t *w, int16_t version, const char *const *topics,
                                     size_t topic_count, const kk_topic_partition_t *owned,
                                     size_t owned_count, int32_t generation_id,
                                     const char *rack_id);

typedef struct kk_consumer_subscription {
    int16_t version; /* as written by the member (may be above ours) */
    char **topics;
    size_t topic_count;
    uint8_t *user_data; /* NULL when null or empty */
    size_t user_data_len;
    kk_tp_list_t owned;    /* v1+ */
    int32_t generation_id; /* v2+; -1 when absent */
    char *rack_id;         /* v3+; NULL when absent */
} kk_consumer_subscription_t;

/* Decodes a member's metadata. Newer versions are read as v3 (later fields are appended, so
 * the rest is ignored). On failure (KK_ERR_MALFORMED) out holds nothing to free. */
int kk_decode_consumer_subscription(const uint8_t *data, size_t len,
                                    kk_consumer_subscription_t *out, kk_error_t *err);
void kk_consumer_subscription_free(kk_consumer_subscription_t *sub);

/* ---- assignment ------------------------------------------------------------------------- */

/* Groups partitions by topic in order of first appearance; user data null. */
void kk_encode_consumer_assignment(kk_writer_t *w, int16_t version,
                                   const kk_topic_partition_t *partitions, size_t count);

typedef struct kk_consumer_assignment {
    int16_t version;
    kk_tp_list_t partitions;
    uint8_t *user_data; /* NULL when null or empty */
    size_t user_data_len;
} kk_consumer_assignment_t;

/* An empty buffer is an empty assignment (the coordinator sends one to members the leader
 * left out). On failure (KK_ERR_MALFORMED) out holds nothing to free. */
int kk_decode_consumer_assignment(const uint8_t *data, size_t len, kk_consumer_assignment_t *out,
                                  kk_error_t *err);
void kk_consumer_assignment_free(kk_consumer_assignment_t *assignment);

/* ---- assignors -------------------------------------------------------------------------- */

/* True for the assignor names this library implements ("range", "roundrobin"). */
bool kk_assignor_known(const char *name);

typedef struct kk_assign_member {
    const char *member_id;
    const char *group_instance_id; /* NULL = none; members with one sort first, as in Java */
    const char *const *topics;     /* the member's subscription */
    size_t topic_count;
} kk_assign_member_t;

typedef struct kk_assign_topic {
    const char *topic;
    int32_t partition_count; /* topics not listed (or with 0) are skipped, as in Java */
} kk_assign_topic_t;

/* One member's share; topic pointers point at the kk_assign_topic_t names. */
typedef struct kk_member_assignment {
    kk_topic_partition_t *partitions;
    size_t count;
} kk_member_assignment_t;

/* Computes every member's partitions: out[i] belongs to members[i] (out has member_count
 * entries, filled even for members that get nothing). Free with kk_member_assignments_free. */
int kk_assign(const char *assignor, const kk_assign_member_t *members, size_t member_count,
              const kk_assign_topic_t *topics, size_t topic_count, kk_member_assignment_t *out,
              kk_error_t *err);
void kk_member_assignments_free(kk_member_assignment_t *out, size_t member_count);

#endif
