#include "protocol_group.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "protocol.h"

/* The group APIs' BYTES fields are never null: a NULL pointer is sent as empty bytes. */
static void write_bytes_v(kk_writer_t *w, const uint8_t *b, size_t n, bool flexible) {
    static const uint8_t none = 0;
    kk_write_bytes_v(w, b ? b : &none, n, flexible);
}

/* ---- FindCoordinator -------------------------------------------------------------------- */

void kk_encode_find_coordinator_request(kk_writer_t *w, int16_t version, const char *key,
                                        int8_t key_type) {
    bool flexible = kk_protocol_is_flexible(KK_API_FIND_COORDINATOR, version);
    kk_write_str_v(w, key, flexible);
    if (version >= 1)
        kk_write_i8(w, key_type);
    if (flexible)
        kk_write_empty_tags(w);
}

void kk_coordinator_result_free(kk_coordinator_result_t *res) {
    free(res->error_message);
    free(res->host);
    res->error_message = res->host = NULL;
}

int kk_decode_find_coordinator_response(kk_reader_t *r, int16_t version,
                                        kk_coordinator_result_t *out, kk_error_t *err) {
    bool flexible = kk_protocol_is_flexible(KK_API_FIND_COORDINATOR, version);
    bool oom = false;
    memset(out, 0, sizeof(*out));
    out->node_id = -1;
    out->port = -1;
    if (version >= 1)
        out->throttle_time_ms = kk_read_i32(r);
    out->error_code = kk_read_error_code(r);
    if (version >= 1)
        out->error_message = kk_slice_strdup(kk_read_str_v(r, flexible), &oom);
    out->node_id = kk_read_i32(r);
    out->host = kk_slice_strdup(kk_read_str_v(r, flexible), &oom);
    out->port = kk_read_i32(r);
    if (flexible)
        kk_read_skip_tags(r);
    if (oom || r->failed) {
        kk_coordinator_result_free(out);
        return kk_decode_failed(err, oom, "FindCoordinator", version);
    }
    return KK_OK;
}

/* ---- JoinGroup -------------------------------------------------------------------------- */

void kk_encode_join_group_request(kk_writer_t *w, int16_t version, const kk_join_group_in_t *in) {
    bool flexible = kk_protocol_is_flexible(KK_API_JOIN_GROUP, version);
    kk_write_str_v(w, in->group_id, flexible);
    kk_write_i32(w, in->session_timeout_ms);
    if (version >= 1)
        kk_write_i32(w, in->rebalance_timeout_ms);
    kk_write_str_v(w, in->member_id ? in->member_id : "", flexible);
    if (version >= 5)
        kk_write_str_v(w, in->group_instance_id, flexible);
    kk_write_str_v(w, in->protocol_type, flexible);
    kk_write_array_len_v(w, (int32_t)in->protocol_count, flexible);
    for (size_t i = 0; i < in->protocol_count; i++) {
        kk_write_str_v(w, in->protocols[i].name, flexible);
        write_bytes_v(w, in->protocols[i].metadata, in->protocols[i].metadata_len, flexible);
        if (flexible)
            kk_write_empty_tags(w);
    }
    if (version >= 8)
        kk_write_str_v(w, in->reason, flexible);
    if (flexible)
        kk_write_empty_tags(w);
}

void kk_join_group_result_free(kk_join_group_result_t *res) {
    free(res->protocol_type);
    free(res->protocol_name);
    free(res->leader);
    free(res->member_id);
    for (size_t i = 0; i < res->member_count; i++) {
        free(res->members[i].member_id);
        free(res->members[i].group_instance_id);
        free(res->members[i].metadata);
    }
    free(res->members);
    memset(res, 0, sizeof(*res));
}

int kk_decode_join_group_response(kk_reader_t *r, int16_t version, kk_join_group_result_t *out,
                                  kk_error_t *err) {
    bool flexible = kk_protocol_is_flexible(KK_API_JOIN_GROUP, version);
    bool oom = false;
    memset(out, 0, sizeof(*out));
    out->generation_id = -1;
    if (version >= 2)
        out->throttle_time_ms = kk_read_i32(r);
    out->error_code = kk_read_error_code(r);
    out->generation_id = kk_read_i32(r);
    if (version >= 7)
        out->protocol_type = kk_slice_strdup(kk_read_str_v(r, flexible), &oom);
    out->protocol_name = kk_slice_strdup(kk_read_str_v(r, flexible), &oom);
    out->leader = kk_slice_strdup(kk_read_str_v(r, flexible), &oom);
    if (version >= 9)
        out->skip_assignment = kk_read_bool(r);
    out->member_id = kk_slice_strdup(kk_read_str_v(r, flexible), &oom);
    /* member id + (instance id) + metadata: 6 bytes, 8 with v5's instance id; 3 or 4 flexible */
    size_t min_member = flexible ? 4 : (version >= 5 ? 8 : 6);
    int32_t n = kk_read_array_len_v(r, flexible, min_member);
    if (n > 0 && !r->failed && !oom) {
        out->members = calloc((size_t)n, sizeof(*out->members));
        if (!out->members)
            oom = true;
        else
            out->member_count = (size_t)n;
        for (int32_t i = 0; i < n && out->members && !r->failed && !oom; i++) {
            kk_join_group_member_t *m = &out->members[i];
            m->member_id = kk_slice_strdup(kk_read_str_v(r, flexible), &oom);
            if (version >= 5)
                m->group_instance_id = kk_slice_strdup(kk_read_str_v(r, flexible), &oom);
            m->metadata = kk_slice_memdup(kk_read_bytes_v(r, flexible), &m->metadata_len, &oom);
            if (flexible)
                kk_read_skip_tags(r);
            if (!r->failed && !m->member_id)
                kk_reader_fail(r); /* a member without an id cannot be assigned anything */
        }
    }
    if (flexible)
        kk_read_skip_tags(r);
    if (oom || r->failed) {
        kk_join_group_result_free(out);
        out->generation_id = -1;
        return kk_decode_failed(err, oom, "JoinGroup", version);
    }
    return KK_OK;
}

/* ---- SyncGroup -------------------------------------------------------------------------- */

void kk_encode_sync_group_request(kk_writer_t *w, int16_t version, const kk_sync_group_in_t *in) {
    bool flexible = kk_protocol_is_flexible(KK_API_SYNC_GROUP, version);
    kk_write_str_v(w, in->group_id, flexible);
    kk_write_i32(w, in->generation_id);
    kk_write_str_v(w, in->member_id, flexible);
    if (version >= 3)
        kk_write_str_v(w, in->group_instance_id, flexible);
    if (version >= 5) {
        kk_write_str_v(w, in->protocol_type, flexible);
        kk_write_str_v(w, in->protocol_name, flexible);
    }
    kk_write_array_len_v(w, (int32_t)in->assignment_count, flexible);
    for (size_t i = 0; i < in->assignment_count; i++) {
        kk_write_str_v(w, in->assignments[i].member_id, flexible);
        write_bytes_v(w, in->assignments[i].assignment, in->assignments[i].assignment_len,
                      flexible);
        if (flexible)
            kk_write_empty_tags(w);
    }
    if (flexible)
        kk_write_empty_tags(w);
}

void kk_sync_group_result_free(kk_sync_group_result_t *res) {
    free(res->protocol_type);
    free(res->protocol_name);
    free(res->assignment);
    memset(res, 0, sizeof(*res));
}

int kk_decode_sync_group_response(kk_reader_t *r, int16_t version, kk_sync_group_result_t *out,
                                  kk_error_t *err) {
    bool flexible = kk_protocol_is_flexible(KK_API_SYNC_GROUP, version);
    bool oom = false;
    memset(out, 0, sizeof(*out));
    if (version >= 1)
        out->throttle_time_ms = kk_read_i32(r);
    out->error_code = kk_read_error_code(r);
    if (version >= 5) {
        out->protocol_type = kk_slice_strdup(kk_read_str_v(r, flexible), &oom);
        out->protocol_name = kk_slice_strdup(kk_read_str_v(r, flexible), &oom);
    }
    out->assignment = kk_slice_memdup(kk_read_bytes_v(r, flexible), &out->assignment_len, &oom);
    if (flexible)
        kk_read_skip_tags(r);
    if (oom || r->failed) {
        kk_sync_group_result_free(out);
        return kk_decode_failed(err, oom, "SyncGroup", version);
    }
    return KK_OK;
}

/* ---- Heartbeat -------------------------------------------------------------------------- */

void kk_encode_heartbeat_request(kk_writer_t *w, int16_t version, const kk_heartbeat_in_t *in) {
    bool flexible = kk_protocol_is_flexible(KK_API_HEARTBEAT, version);
    kk_write_str_v(w, in->group_id, flexible);
    kk_write_i32(w, in->generation_id);
    kk_write_str_v(w, in->member_id, flexible);
    if (version >= 3)
        kk_write_str_v(w, in->group_instance_id, flexible);
    if (flexible)
        kk_write_empty_tags(w);
}

int kk_decode_heartbeat_response(kk_reader_t *r, int16_t version, int16_t *error_code,
                                 kk_error_t *err) {
    bool flexible = kk_protocol_is_flexible(KK_API_HEARTBEAT, version);
    if (version >= 1)
        (void)kk_read_i32(r); /* throttle_time_ms */
    int16_t code = kk_read_error_code(r);
    if (flexible)
        kk_read_skip_tags(r);
    *error_code = r->failed ? 0 : code;
    return r->failed ? kk_decode_failed(err, false, "Heartbeat", version) : KK_OK;
}

/* ---- LeaveGroup ------------------------------------------------------------------------- */

void kk_encode_leave_group_request(kk_writer_t *w, int16_t version, const char *group_id,
                                   const char *member_id, const char *group_instance_id,
                                   const char *reason) {
    bool flexible = kk_protocol_is_flexible(KK_API_LEAVE_GROUP, version);
    kk_write_str_v(w, group_id, flexible);
    if (version <= 2) {
        kk_write_str_v(w, member_id, flexible);
        return;
    }
    kk_write_array_len_v(w, 1, flexible);
    kk_write_str_v(w, member_id, flexible);
    kk_write_str_v(w, group_instance_id, flexible);
    if (version >= 5)
        kk_write_str_v(w, reason, flexible);
    if (flexible) {
        kk_write_empty_tags(w); /* member */
        kk_write_empty_tags(w);
    }
}

int kk_decode_leave_group_response(kk_reader_t *r, int16_t version, int16_t *error_code,
                                   int16_t *member_error_code, kk_error_t *err) {
    bool flexible = kk_protocol_is_flexible(KK_API_LEAVE_GROUP, version);
    int16_t member_code = 0;
    if (version >= 1)
        (void)kk_read_i32(r); /* throttle_time_ms */
    int16_t code = kk_read_error_code(r);
    if (version >= 3) {
        /* member id + instance id + error code: 6 bytes, or 5 flexible (with tags) */
        int32_t n = kk_read_array_len_v(r, flexible, flexible ? 5 : 6);
        if (n < 0)
            kk_reader_fail(r);
        for (int32_t i = 0; i < n && !r->failed; i++) {
            (void)kk_read_str_v(r, flexible); /* member id */
            (void)kk_read_str_v(r, flexible); /* group instance id */
            int16_t c = kk_read_error_code(r);
            if (i == 0)
                member_code = c;
            if (flexible)
                kk_read_skip_tags(r);
        }
    }
    if (flexible)
        kk_read_skip_tags(r);
    *error_code = r->failed ? 0 : code;
    *member_error_code = r->failed ? 0 : member_code;
    return r->failed ? kk_decode_failed(err, false, "LeaveGroup", version) : KK_OK;
}

/* ---- OffsetCommit ----------------------------------------------------------------------- */

static bool topic_seen_before(const kk_offset_commit_entry_t *e, size_t i) {
    for (size_t j = 0; j < i; j++)
        if (strcmp(e[j].topic, e[i].topic) == 0)
            return true;
    return false;
}

void kk_encode_offset_commit_request(kk_writer_t *w, int16_t version,
                                     const kk_offset_commit_in_t *in) {
    bool flexible = kk_protocol_is_flexible(KK_API_OFFSET_COMMIT, version);
    const kk_offset_commit_entry_t *e = in->entries;
    kk_write_str_v(w, in->group_id, flexible);
    kk_write_i32(w, in->generation_id);
    kk_write_str_v(w, in->member_id ? in->member_id : "", flexible);
    if (version >= 7)
        kk_write_str_v(w, in->group_instance_id, flexible);
    if (version <= 4)
        kk_write_i64(w, -1); /* retention_time_ms: the broker's default */
    int32_t topics = 0;
    for (size_t i = 0; i < in->entry_count; i++)
        topics += !topic_seen_before(e, i);
    kk_write_array_len_v(w, topics, flexible);
    for (size_t i = 0; i < in->entry_count; i++) {
        if (topic_seen_before(e, i))
            continue;
        int32_t parts = 0;
        for (size_t j = i; j < in->entry_count; j++)
            parts += strcmp(e[j].topic, e[i].topic) == 0;
        kk_write_str_v(w, e[i].topic, flexible);
        kk_write_array_len_v(w, parts, flexible);
        for (size_t j = i; j < in->entry_count; j++) {
            if (strcmp(e[j].topic, e[i].topic) != 0)
                continue;
            kk_write_i32(w, e[j].partition);
            kk_write_i64(w, e[j].offset);
            if (version >= 6)
                kk_write_i32(w, e[j].leader_epoch);
            kk_write_str_v(w, e[j].metadata, flexible);
            if (flexible)
                kk_write_empty_tags(w);
        }
        if (flexible)
            kk_write_empty_tags(w);
    }
    if (flexible)
        kk_write_empty_tags(w);
}

void kk_partition_offsets_free(kk_partition_offsets_t *res) {
    for (size_t i = 0; i < res->count; i++)
        free(res->partitions[i].metadata);
    free(res->partitions);
    res->partitions = NULL;
    res->count = 0;
    for (size_t i = 0; i < res->topic_count; i++)
        free(res->topic_names[i]);
    free(res->topic_names);
    res->topic_names = NULL;
    res->topic_count = 0;
}

/* Appends one result; *cap grows by doubling. */
static kk_partition_offset_t *push_result(kk_partition_offsets_t *out, size_t *cap, bool *oom) {
    if (out->count == *cap) {
        size_t grown = *cap ? *cap * 2 : 8;
        kk_partition_offset_t *p = realloc(out->partitions, grown * sizeof(*p));
        if (!p) {
            *oom = true;
            return NULL;
        }
        out->partitions = p;
        *cap = grown;
    }
    kk_partition_offset_t *res = &out->partitions[out->count++];
    memset(res, 0, sizeof(*res));
    res->offset = -1;
    res->leader_epoch = -1;
    return res;
}

/* Copies a topic's name once, into out->topic_names, for all its partitions to point at: a
 * copy per partition would let a response of one long name and many partitions take its
 * size times the partition count. The reader has checked that every topic takes room in the
 * response, so topic_count is bounded by it. */
static const char *keep_topic_name(kk_partition_offsets_t *out, kk_slice_t name, bool *oom) {
    size_t n = out->topic_count;
    if ((n & (n - 1)) == 0) { /* full at 0, 1, 2, 4, 8...: double */
        char **grown = realloc(out->topic_names, (n ? n * 2 : 1) * sizeof(*grown));
        if (!grown) {
            *oom = true;
            return NULL;
        }
        out->topic_names = grown;
    }
    char *copy = kk_slice_strdup(name, oom);
    if (!copy)
        return NULL;
    out->topic_names[out->topic_count++] = copy;
    return copy;
}

/* Both responses share the topics -> partitions shape; fetch adds offset fields. */
static void decode_partition_offsets(kk_reader_t *r, int16_t version, bool flexible, bool is_fetch,
                                     kk_partition_offsets_t *out, bool *oom) {
    size_t cap = 0;
    /* index + error code (+ offset, epoch, metadata) (+ tags): the least a partition takes */
    size_t min_partition = 4 + 2 + (flexible ? 1 : 0);
    if (is_fetch)
        min_partition += 8 + (version >= 5 ? 4 : 0) + (flexible ? 1 : 2);
    int32_t topics = kk_read_array_len_v(r, flexible, flexible ? 3 : 6);
    if (topics < 0)
        kk_reader_fail(r);
    for (int32_t t = 0; t < topics && !r->failed && !*oom; t++) {
        kk_slice_t name = kk_read_str_v(r, flexible);
        if (name.len < 0)
            kk_reader_fail(r);
        int32_t parts = kk_read_array_len_v(r, flexible, min_partition);
        if (parts < 0)
            kk_reader_fail(r);
        const char *topic = r->failed ? NULL : keep_topic_name(out, name, oom);
        for (int32_t p = 0; p < parts && !r->failed && !*oom; p++) {
            kk_partition_offset_t *res = push_result(out, &cap, oom);
            if (!res)
                break;
            res->topic = topic;
            res->partition = kk_read_i32(r);
            if (is_fetch) {
                res->offset = kk_read_i64(r);
                if (version >= 5)
                    res->leader_epoch = kk_read_i32(r);
                res->metadata = kk_slice_strdup(kk_read_str_v(r, flexible), oom);
            }
            res->error_code = kk_read_error_code(r);
            if (flexible)
                kk_read_skip_tags(r);
        }
        if (flexible)
            kk_read_skip_tags(r);
    }
}

int kk_decode_offset_commit_response(kk_reader_t *r, int16_t version, kk_partition_offsets_t *out,
                                     kk_error_t *err) {
    bool flexible = kk_protocol_is_flexible(KK_API_OFFSET_COMMIT, version);
    bool oom = false;
    memset(out, 0, sizeof(*out));
    if (version >= 3)
        out->throttle_time_ms = kk_read_i32(r);
    decode_partition_offsets(r, version, flexible, false, out, &oom);
    if (flexible)
        kk_read_skip_tags(r);
    if (oom || r->failed) {
        kk_partition_offsets_free(out);
        return kk_decode_failed(err, oom, "OffsetCommit", version);
    }
    return KK_OK;
}

/* ---- OffsetFetch ------------------------------------------------------------------------ */

static bool partition_topic_seen_before(const kk_topic_partition_t *p, size_t i) {
    for (size_t j = 0; j < i; j++)
        if (strcmp(p[j].topic, p[i].topic) == 0)
            return true;
    return false;
}

/* The topics -> partition indexes list of an OffsetFetch request (null for count 0 at v2+). */
static void encode_fetch_topics(kk_writer_t *w, int16_t version, bool flexible,
                                const kk_topic_partition_t *partitions, size_t count) {
    if (count == 0 && version >= 2) {
        kk_write_array_len_v(w, -1, flexible); /* null: everything the group committed */
        return;
    }
    int32_t topics = 0;
    for (size_t i = 0; i < count; i++)
        topics += !partition_topic_seen_before(partitions, i);
    kk_write_array_len_v(w, topics, flexible);
    for (size_t i = 0; i < count; i++) {
        if (partition_topic_seen_before(partitions, i))
            continue;
        int32_t n = 0;
        for (size_t j = i; j < count; j++)
            n += strcmp(partitions[j].topic, partitions[i].topic) == 0;
        kk_write_str_v(w, partitions[i].topic, flexible);
        kk_write_array_len_v(w, n, flexible);
        for (size_t j = i; j < count; j++)
            if (strcmp(partitions[j].topic, partitions[i].topic) == 0)
                kk_write_i32(w, partitions[j].partition);
        if (flexible)
            kk_write_empty_tags(w);
    }
}

void kk_encode_offset_fetch_member_request(kk_writer_t *w, int16_t version, const char *group_id,
                                           const char *member_id, int32_t member_epoch,
                                           const kk_topic_partition_t *partitions, size_t count,
                                           bool require_stable) {
    bool flexible = kk_protocol_is_flexible(KK_API_OFFSET_FETCH, version);
    if (version >= 8) { /* a list of groups (flexible from v6, so always compact here) */
        kk_write_array_len_v(w, 1, true);
        kk_write_str_v(w, group_id, true);
        if (version >= 9) {
            kk_write_str_v(w, member_id, true); /* NULL: null */
            kk_write_i32(w, member_epoch);
        }
        encode_fetch_topics(w, version, true, partitions, count);
        kk_write_empty_tags(w);
    } else {
        kk_write_str_v(w, group_id, flexible);
        encode_fetch_topics(w, version, flexible, partitions, count);
    }
    if (version >= 7)
        kk_write_bool(w, require_stable);
    if (flexible)
        kk_write_empty_tags(w);
}

void kk_encode_offset_fetch_request(kk_writer_t *w, int16_t version, const char *group_id,
                                    const kk_topic_partition_t *partitions, size_t count,
                                    bool require_stable) {
    kk_encode_offset_fetch_member_request(w, version, group_id, NULL, -1, partitions, count,
                                          require_stable);
}

int kk_decode_offset_fetch_response(kk_reader_t *r, int16_t version, kk_partition_offsets_t *out,
                                    kk_error_t *err) {
    bool flexible = kk_protocol_is_flexible(KK_API_OFFSET_FETCH, version);
    bool oom = false;
    memset(out, 0, sizeof(*out));
    if (version >= 3)
        out->throttle_time_ms = kk_read_i32(r);
    if (version >= 8) {
        /* group id, topics, error code, tags: the least a group takes */
        int32_t groups = kk_read_array_len_v(r, true, 1 + 1 + 2 + 1);
        if (groups != 1) /* we ask for one group; an answer for none would read as no commits */
            kk_reader_fail(r);
        if (!r->failed && kk_read_str_v(r, true).len < 0)
            kk_reader_fail(r);
        if (!r->failed)
            decode_partition_offsets(r, version, true, true, out, &oom);
        out->error_code = kk_read_error_code(r);
        kk_read_skip_tags(r);
    } else {
        decode_partition_offsets(r, version, flexible, true, out, &oom);
        if (version >= 2)
            out->error_code = kk_read_error_code(r);
    }
    if (flexible)
        kk_read_skip_tags(r);
    if (oom || r->failed) {
        kk_partition_offsets_free(out);
        out->error_code = 0;
        return kk_decode_failed(err, oom, "OffsetFetch", version);
    }
    return KK_OK;
}
