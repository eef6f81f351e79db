/* ListGroups and DescribeGroups, pure encode/decode (declared in protocol_admin.h). */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "protocol.h"
#include "protocol_admin.h"

/* A string the schema does not allow to be null: a null one fails the reader. */
static char *required_string(kk_reader_t *r, bool flexible, bool *oom) {
    char *s = kk_slice_strdup(kk_read_str_v(r, flexible), oom);
    if (!s && !r->failed && !*oom)
        kk_reader_fail(r);
    return s;
}

/* ---- ListGroups ------------------------------------------------------------------------- */

void kk_encode_list_groups_request(kk_writer_t *w, int16_t version) {
    bool flexible = kk_protocol_is_flexible(KK_API_LIST_GROUPS, version);
    if (version >= 4)
        kk_write_compact_array_len(w, 0); /* states_filter: every state */
    if (version >= 5)
        kk_write_compact_array_len(w, 0); /* types_filter: every type */
    if (flexible)
        kk_write_empty_tags(w);
}

void kk_group_listings_free(kk_group_listing_t *groups, size_t count) {
    if (!groups)
        return;
    for (size_t i = 0; i < count; i++) {
        free(groups[i].group_id);
        free(groups[i].protocol_type);
        free(groups[i].state);
        free(groups[i].type);
    }
    free(groups);
}

int kk_decode_list_groups_response(kk_reader_t *r, int16_t version, int16_t *error_code,
                                   kk_group_listing_t **groups, size_t *count, kk_error_t *err) {
    bool flexible = kk_protocol_is_flexible(KK_API_LIST_GROUPS, version);
    bool oom = false;
    *groups = NULL;
    *count = 0;
    if (version >= 1)
        (void)kk_read_i32(r); /* throttle_time_ms */
    *error_code = kk_read_i16(r);
    size_t min = flexible ? 1 + 1 + 1 : 2 + 2; /* id, protocol type (+ tags) */
    if (version >= 4)
        min += 1;
    if (version >= 5)
        min += 1;
    int32_t n = kk_read_array_len_v(r, flexible, min);
    kk_group_listing_t *out = NULL;
    if (n > 0 && !r->failed) {
        out = calloc((size_t)n, sizeof(*out));
        oom = !out;
    }
    for (int32_t i = 0; i < n && !r->failed && !oom; i++) {
        out[i].coordinator = -1;
        out[i].group_id = required_string(r, flexible, &oom);
        out[i].protocol_type = required_string(r, flexible, &oom);
        if (version >= 4)
            out[i].state = required_string(r, flexible, &oom);
        if (version >= 5)
            out[i].type = required_string(r, flexible, &oom);
        if (flexible)
            kk_read_skip_tags(r);
    }
    if (flexible)
        kk_read_skip_tags(r);
    if (oom || r->failed || n < 0) {
        kk_group_listings_free(out, n > 0 ? (size_t)n : 0);
        *error_code = 0;
        return kk_decode_failed(err, oom, "ListGroups", version);
    }
    *groups = out;
    *count = (size_t)n;
    return KK_OK;
}

/* ---- DescribeGroups --------------------------------------------------------------------- */

void kk_encode_describe_groups_request(kk_writer_t *w, int16_t version, const char *group_id) {
    bool flexible = kk_protocol_is_flexible(KK_API_DESCRIBE_GROUPS, version);
    kk_write_array_len_v(w, 1, flexible);
    kk_write_str_v(w, group_id, flexible);
    if (version >= 3)
        kk_write_bool(w, false); /* include_authorized_operations */
    if (flexible)
        kk_write_empty_tags(w);
}

void kk_group_description_clear(kk_group_description_t *group) {
    if (!group)
        return;
    for (size_t i = 0; i < group->member_count; i++) {
        kk_group_member_description_t *m = &group->members[i];
        free(m->member_id);
        free(m->group_instance_id);
        free(m->client_id);
        free(m->client_host);
        free(m->assignment_bytes);
        for (size_t j = 0; j < m->assignment_count; j++)
            free(m->assignment[j].topic);
        free(m->assignment);
    }
    free(group->members);
    free(group->group_id);
    free(group->state);
    free(group->protocol_type);
    free(group->protocol);
    memset(group, 0, sizeof(*group));
}

static size_t member_min(int16_t version, bool flexible) {
    /* member id, client id, host, metadata, assignment (+ tags) */
    size_t n = flexible ? 1 + 1 + 1 + 1 + 1 + 1 : 2 + 2 + 2 + 4 + 4;
    if (version >= 4)
        n += flexible ? 1 : 2; /* group instance id */
    return n;
}

static void decode_member(kk_reader_t *r, int16_t version, bool flexible,
                          kk_group_member_description_t *m, bool keep, bool *oom) {
    kk_slice_t member_id = kk_read_str_v(r, flexible);
    kk_slice_t instance = {NULL, -1};
    if (version >= 4)
        instance = kk_read_str_v(r, flexible);
    kk_slice_t client_id = kk_read_str_v(r, flexible);
    kk_slice_t host = kk_read_str_v(r, flexible);
    (void)kk_read_bytes_v(r, flexible); /* member metadata: the subscription */
    kk_slice_t assignment = kk_read_bytes_v(r, flexible);
    if (flexible)
        kk_read_skip_tags(r);
    if (r->failed)
        return;
    if (member_id.len < 0 || client_id.len < 0 || host.len < 0) {
        kk_reader_fail(r);
        return;
    }
    if (!keep)
        return;
    m->member_id = kk_slice_strdup(member_id, oom);
    m->group_instance_id = kk_slice_strdup(instance, oom);
    m->client_id = kk_slice_strdup(client_id, oom);
    m->client_host = kk_slice_strdup(host, oom);
    m->assignment_bytes = kk_slice_memdup(assignment, &m->assignment_len, oom);
}

int kk_decode_describe_groups_response(kk_reader_t *r, int16_t version,
                                       kk_describe_group_result_t *out, kk_error_t *err) {
    bool flexible = kk_protocol_is_flexible(KK_API_DESCRIBE_GROUPS, version);
    bool oom = false, found = false;
    memset(out, 0, sizeof(*out));
    out->group.coordinator = -1;
    if (version >= 1)
        (void)kk_read_i32(r); /* throttle_time_ms */
    /* error, id, state, protocol type, protocol, members (+ operations, tags) */
    size_t min = flexible ? 2 + 1 + 1 + 1 + 1 + 1 + 1 : 2 + 2 + 2 + 2 + 2 + 4;
    if (version >= 3)
        min += 4;
    int32_t n = kk_read_array_len_v(r, flexible, min);
    for (int32_t i = 0; i < n && !r->failed && !oom; i++) {
        int16_t code = kk_read_i16(r);
        kk_slice_t id = kk_read_str_v(r, flexible);
        kk_slice_t state = kk_read_str_v(r, flexible);
        kk_slice_t type = kk_read_str_v(r, flexible);
        kk_slice_t protocol = kk_read_str_v(r, flexible);
        if (!r->failed && (id.len < 0 || state.len < 0 || type.len < 0 || protocol.len < 0))
            kk_reader_fail(r);
        int32_t members = kk_read_array_len_v(r, flexible, member_min(version, flexible));
        if (members < 0)
            kk_reader_fail(r);
        bool keep = !found && !r->failed;
        kk_group_description_t *g = &out->group;
        if (keep) {
            found = true;
            out->error_code = code;
            g->group_id = kk_slice_strdup(id, &oom);
            g->state = kk_slice_strdup(state, &oom);
            g->protocol_type = kk_slice_strdup(type, &oom);
            g->protocol = kk_slice_strdup(protocol, &oom);
            if (members > 0 && !oom) {
                g->members = calloc((size_t)members, sizeof(*g->members));
                if (!g->members)
                    oom = true;
                else
                    g->member_count = (size_t)members;
            }
        }
        for (int32_t j = 0; j < members && !r->failed && !oom; j++)
            decode_member(r, version, flexible, keep ? &g->members[j] : NULL, keep, &oom);
        if (version >= 3)
            (void)kk_read_i32(r); /* authorized_operations */
        if (flexible)
            kk_read_skip_tags(r);
    }
    if (flexible)
        kk_read_skip_tags(r);
    if (oom || r->failed || n < 0) {
        kk_group_description_clear(&out->group);
        out->error_code = 0;
        return kk_decode_failed(err, oom, "DescribeGroups", version);
    }
    if (!found)
        return kk_error_set(err, KK_ERR_MALFORMED, "DescribeGroups v%d response names no group",
                            version);
    return KK_OK;
}
