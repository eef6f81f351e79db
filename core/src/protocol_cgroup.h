/* The next-generation consumer group protocol (KIP-848), pure encode/decode:
 * ConsumerGroupHeartbeat (API key 68, v0..v1, flexible from v0). v1 (KIP-1082) expects the
 * member to make up its own member id; v0 takes it from the coordinator's first answer.
 * Every field but the group, member id and epoch may be sent as "unchanged" (null, or -1). */
#ifndef KK_PROTOCOL_CGROUP_H
#define KK_PROTOCOL_CGROUP_H

#include "buffer.h"
#include "kafkette.h"

#define KK_MEMBER_EPOCH_JOIN 0
#define KK_MEMBER_EPOCH_LEAVE (-1)
#define KK_MEMBER_EPOCH_LEAVE_STATIC (-2)

/* One topic's partitions, by topic id. */
typedef struct kk_cg_topic_partitions {
    uint8_t topic_id[16];
    int32_t *partitions;
    size_t count;
} kk_cg_topic_partitions_t;

typedef struct kk_cg_heartbeat_in {
    const char *group_id;
    const char *member_id;        /* v0: "" on the first heartbeat */
    int32_t member_epoch;         /* 0 join, -1 leave, -2 a static member leaves for now */
    const char *instance_id;      /* NULL: none, or unchanged */
    const char *rack_id;          /* NULL: none, or unchanged */
    int32_t rebalance_timeout_ms; /* -1: unchanged */
    bool send_topics;             /* false: the subscription is unchanged (null) */
    const char *const *topics;
    size_t topic_count;
    const char *server_assignor; /* NULL: the broker's default, or unchanged */
    bool send_owned;             /* false: the owned partitions are unchanged (null) */
    const kk_cg_topic_partitions_t *owned;
    size_t owned_count;
} kk_cg_heartbeat_in_t;

void kk_encode_cg_heartbeat_request(kk_writer_t *w, int16_t version,
                                    const kk_cg_heartbeat_in_t *in);

typedef struct kk_cg_heartbeat_result {
    int32_t throttle_time_ms;
    int16_t error_code;
    char *error_message; /* NULL when absent */
    char *member_id;     /* NULL when absent */
    int32_t member_epoch;
    int32_t heartbeat_interval_ms;
    bool has_assignment; /* false: the assignment did not change */
    kk_cg_topic_partitions_t *assigned;
    size_t assigned_count;
} kk_cg_heartbeat_result_t;

int kk_decode_cg_heartbeat_response(kk_reader_t *r, int16_t version, kk_cg_heartbeat_result_t *out,
                                    kk_error_t *err);
void kk_cg_heartbeat_result_free(kk_cg_heartbeat_result_t *res);
void kk_cg_topic_partitions_free(kk_cg_topic_partitions_t *tps, size_t count);

#endif
