/* What admin.c shares with admin_groups.c. */
#ifndef KK_ADMIN_INTERNAL_H
#define KK_ADMIN_INTERNAL_H

#include "kafkette.h"
#include "protocol_fetch.h"

/* Metadata that never creates a topic, topics sorted by name; internal topics dropped when
 * every topic was asked for (topic_count 0) and include_internal is false. */
int kk_admin_metadata(kk_client_t *client, const char *const *topics, size_t topic_count,
                      bool include_internal, kk_metadata_t **out, kk_error_t *err);

/* ListOffsets for one partition on its leader (timestamp: ms, or KK_TIMESTAMP_*); a
 * partition-level error is returned as its code. */
int kk_admin_leader_offset(kk_client_t *client, const kk_metadata_t *md, const char *topic,
                           const kk_partition_info_t *p, int64_t timestamp,
                           kk_list_offsets_result_t *res, kk_error_t *err);

#endif
