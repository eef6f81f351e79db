/* Group administration without joining: ListGroups on every broker, DescribeGroups and
 * OffsetFetch on the group's coordinator, and lag against the partitions' high watermarks. */
#include <stdlib.h>
#include <string.h>

#include "admin_internal.h"
#include "assignor.h"
#include "client.h"
#include "error.h"
#include "group_internal.h"
#include "protocol_admin.h"
#include "protocol_group.h"

/* ---- ListGroups ------------------------------------------------------------------------- */

static int compare_listings(const void *a, const void *b) {
    const kk_group_listing_t *x = a, *y = b;
    return strcmp(x->group_id, y->group_id);
}

/* ListGroups on one broker, appended to *all. */
static int list_on_broker(kk_client_t *client, const kk_metadata_t *md, int32_t node,
                          kk_group_listing_t **all, size_t *count, kk_error_t *err) {
    kk_conn_t *conn;
    int rc = kk_client_broker_conn(client, md, node, &conn, err);
    if (rc != KK_OK)
        return rc;
    int16_t version = kk_conn_version(conn, KK_API_LIST_GROUPS);
    if (version < 0)
        return kk_error_set(err, KK_ERR_UNSUPPORTED_VERSION,
                            "%s: the broker does not support ListGroups", conn->label);
    kk_writer_t *w = kk_conn_begin(conn, KK_API_LIST_GROUPS, version);
    kk_encode_list_groups_request(w, version);
    kk_reader_t r;
    rc = kk_conn_roundtrip(conn, &r, err);
    if (rc != KK_OK)
        return rc;
    int16_t code;
    kk_group_listing_t *groups;
    size_t n;
    rc = kk_decode_list_groups_response(&r, version, &code, &groups, &n, err);
    if (rc != KK_OK) {
        kk_conn_close(conn);
        return rc;
    }
    if (code != 0) {
        kk_group_listings_free(groups, n);
        kk_error_set_broker(err, code, "ListGroups");
        return kk_error_prefix(err, "broker %d: ", (int)node);
    }
    if (n == 0) {
        free(groups);
        return KK_OK;
    }
    kk_group_listing_t *grown = realloc(*all, (*count + n) * sizeof(*grown));
    if (!grown) {
        kk_group_listings_free(groups, n);
        return kk_error_set(err, KK_ERR_NO_MEMORY, "list groups: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        groups[i].coordinator = node;
        grown[*count + i] = groups[i];
    }
    free(groups); /* the strings moved */
    *all = grown;
    *count += n;
    return KK_OK;
}

int kk_client_list_groups(kk_client_t *client, kk_group_listing_t **groups, size_t *count,
                          kk_error_t *err) {
    if (!client || !groups || !count)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "list groups: NULL argument");
    *groups = NULL;
    *count = 0;
    kk_metadata_t *md = NULL;
    int rc = kk_admin_metadata(client, NULL, 0, true, &md, err);
    if (rc != KK_OK)
        return rc;
    kk_group_listing_t *all = NULL;
    size_t n = 0;
    for (size_t i = 0; i < md->broker_count && rc == KK_OK; i++)
        rc = list_on_broker(client, md, md->brokers[i].node_id, &all, &n, err);
    kk_metadata_free(md);
    if (rc != KK_OK) {
        kk_group_listings_free(all, n);
        return rc;
    }
    if (n > 1)
        qsort(all, n, sizeof(*all), compare_listings);
    *groups = all;
    *count = n;
    return KK_OK;
}

/* ---- the coordinator -------------------------------------------------------------------- */

typedef int (*coord_call_t)(kk_conn_t *conn, const char *group_id, void *arg, kk_error_t *err);

static bool coordinator_busy(int code) {
    return code == 14 || code == 15 || code == 16; /* loading, not available, not coordinator */
}

/* Finds the group's coordinator, runs call on a connection to it, and tries again (finding it
 * anew) while the coordinator is loading or has moved, until request_timeout_ms has passed. */
static int with_coordinator(kk_client_t *client, const char *group_id, coord_call_t call, void *arg,
                            int32_t *node_id, kk_error_t *err) {
    int64_t deadline = kk_monotonic_ms() + client->conn_opts.request_timeout_ms;
    for (;;) {
        kk_coordinator_result_t res;
        int rc = kk_grp_find_coordinator(client, group_id, &res, err);
        if (rc == KK_OK) {
            kk_conn_t conn;
            kk_conn_init(&conn, res.host, res.port, &client->conn_opts);
            if (node_id)
                *node_id = res.node_id;
            kk_coordinator_result_free(&res);
            rc = kk_conn_open(&conn, err);
            if (rc == KK_OK)
                rc = call(&conn, group_id, arg, err);
            kk_conn_destroy(&conn);
        }
        if (rc == KK_OK || !coordinator_busy(rc) || kk_monotonic_ms() >= deadline)
            return rc;
        if (kk_conn_sleep(&client->conn_opts, 200) != KK_OK)
            return kk_error_set(err, KK_ERR_INTERRUPTED, "group %s: interrupted", group_id);
    }
}

/* ---- DescribeGroups --------------------------------------------------------------------- */

static int describe_call(kk_conn_t *conn, const char *group_id, void *arg, kk_error_t *err) {
    kk_describe_group_result_t *res = arg;
    int16_t version = kk_conn_version(conn, KK_API_DESCRIBE_GROUPS);
    if (version < 0)
        return kk_error_set(err, KK_ERR_UNSUPPORTED_VERSION,
                            "%s: the broker does not support DescribeGroups", conn->label);
    kk_writer_t *w = kk_conn_begin(conn, KK_API_DESCRIBE_GROUPS, version);
    kk_encode_describe_groups_request(w, version, group_id);
    kk_reader_t r;
    int rc = kk_conn_roundtrip(conn, &r, err);
    if (rc != KK_OK)
        return rc;
    rc = kk_decode_describe_groups_response(&r, version, res, err);
    if (rc != KK_OK)
        return rc;
    if (res->error_code != 0) {
        int code = res->error_code;
        kk_group_description_clear(&res->group);
        kk_error_set_broker(err, (int16_t)code, "DescribeGroups");
        return kk_error_prefix(err, "group %s: ", group_id);
    }
    return KK_OK;
}

static int compare_assigned(const void *a, const void *b) {
    const kk_assigned_partition_t *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

/* Decodes a consumer member's assignment into m->assignment. */
static int decode_member_assignment(kk_group_member_description_t *m, kk_error_t *err) {
    kk_consumer_assignment_t a;
    int rc = kk_decode_consumer_assignment(m->assignment_bytes, m->assignment_len, &a, err);
    if (rc != KK_OK)
        return rc;
    if (a.partitions.count) {
        m->assignment = calloc(a.partitions.count, sizeof(*m->assignment));
        if (!m->assignment) {
            kk_consumer_assignment_free(&a);
            return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
        }
        for (size_t i = 0; i < a.partitions.count; i++) {
            m->assignment[i].topic = strdup(a.partitions.partitions[i].topic);
            m->assignment[i].partition = a.partitions.partitions[i].partition;
            m->assignment_count = i + 1;
            if (!m->assignment[i].topic) {
                kk_consumer_assignment_free(&a);
                return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
            }
        }
        qsort(m->assignment, m->assignment_count, sizeof(*m->assignment), compare_assigned);
    }
    kk_consumer_assignment_free(&a);
    return KK_OK;
}

void kk_group_description_free(kk_group_description_t *description) {
    kk_group_description_clear(description);
    free(description);
}

int kk_client_describe_group(kk_client_t *client, const char *group_id,
                             kk_group_description_t **out, kk_error_t *err) {
    if (!client || !group_id || !group_id[0] || !out)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "describe group: a group id is needed");
    *out = NULL;
    kk_describe_group_result_t res;
    memset(&res, 0, sizeof(res));
    int32_t node = -1;
    int rc = with_coordinator(client, group_id, describe_call, &res, &node, err);
    if (rc != KK_OK)
        return rc;
    kk_group_description_t *d = malloc(sizeof(*d));
    if (!d) {
        kk_group_description_clear(&res.group);
        return kk_error_set(err, KK_ERR_NO_MEMORY, "describe group: out of memory");
    }
    *d = res.group;
    d->coordinator = node;
    if (strcmp(d->protocol_type, KK_CONSUMER_PROTOCOL_TYPE) == 0) {
        for (size_t i = 0; i < d->member_count; i++) {
            kk_error_t ignored;
            kk_group_member_description_t *m = &d->members[i];
            int code = decode_member_assignment(m, &ignored);
            if (code == KK_ERR_NO_MEMORY) {
                kk_group_description_free(d);
                return kk_error_set(err, KK_ERR_NO_MEMORY, "describe group: out of memory");
            }
            m->assignment_error = code;
        }
    }
    *out = d;
    return KK_OK;
}

/* ---- lag -------------------------------------------------------------------------------- */

static int offset_fetch_call(kk_conn_t *conn, const char *group_id, void *arg, kk_error_t *err) {
    kk_partition_offsets_t *res = arg;
    int16_t version = kk_conn_version(conn, KK_API_OFFSET_FETCH);
    if (version < 2)
        return kk_error_set(
            err, KK_ERR_UNSUPPORTED_VERSION,
            "%s: the broker supports no OffsetFetch version that lists a group's commits",
            conn->label);
    if (version > KK_OFFSET_FETCH_SINGLE_GROUP_MAX) /* one group, no member: v7 says it all */
        version = KK_OFFSET_FETCH_SINGLE_GROUP_MAX;
    kk_writer_t *w = kk_conn_begin(conn, KK_API_OFFSET_FETCH, version);
    kk_encode_offset_fetch_request(w, version, group_id, NULL, 0, false);
    kk_reader_t r;
    int rc = kk_conn_roundtrip(conn, &r, err);
    if (rc != KK_OK)
        return rc;
    kk_partition_offsets_free(res);
    rc = kk_decode_offset_fetch_response(&r, version, res, err);
    if (rc != KK_OK)
        return rc;
    int code = res->error_code;
    for (size_t i = 0; code == 0 && i < res->count; i++)
        if (coordinator_busy(res->partitions[i].error_code))
            code = res->partitions[i].error_code;
    if (code != 0) {
        kk_error_set_broker(err, (int16_t)code, "OffsetFetch");
        return kk_error_prefix(err, "group %s: ", group_id);
    }
    return KK_OK;
}

void kk_partition_lags_free(kk_partition_lag_t *lags, size_t count) {
    if (!lags)
        return;
    for (size_t i = 0; i < count; i++)
        free(lags[i].topic);
    free(lags);
}

static bool seen_topic(char **topics, size_t n, const char *topic) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(topics[i], topic) == 0)
            return true;
    return false;
}

static int64_t committed_of(const kk_partition_offsets_t *res, const char *topic,
                            int32_t partition) {
    for (size_t i = 0; i < res->count; i++) {
        const kk_partition_offset_t *p = &res->partitions[i];
        if (p->partition == partition && p->topic && strcmp(p->topic, topic) == 0 && !p->error_code)
            return p->offset < 0 ? -1 : p->offset;
    }
    return -1;
}

int kk_client_group_lag(kk_client_t *client, const char *group_id, kk_partition_lag_t **lags,
                        size_t *count, kk_error_t *err) {
    if (!client || !group_id || !group_id[0] || !lags || !count)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "group lag: a group id is needed");
    *lags = NULL;
    *count = 0;
    kk_partition_offsets_t committed;
    memset(&committed, 0, sizeof(committed));
    int rc = with_coordinator(client, group_id, offset_fetch_call, &committed, NULL, err);
    if (rc != KK_OK) {
        kk_partition_offsets_free(&committed);
        return rc;
    }
    /* the topics the group has committed for, once each */
    char **topics = calloc(committed.count ? committed.count : 1, sizeof(*topics));
    size_t topic_count = 0;
    for (size_t i = 0; topics && i < committed.count; i++) {
        const char *t = committed.partitions[i].topic;
        if (t && !seen_topic(topics, topic_count, t))
            topics[topic_count++] = (char *)t; /* points into committed */
    }
    if (!topics) {
        kk_partition_offsets_free(&committed);
        return kk_error_set(err, KK_ERR_NO_MEMORY, "group lag: out of memory");
    }
    if (topic_count == 0) {
        free(topics);
        kk_partition_offsets_free(&committed);
        return KK_OK; /* nothing committed: no lag to report */
    }
    kk_metadata_t *md = NULL;
    rc = kk_admin_metadata(client, (const char *const *)topics, topic_count, false, &md, err);
    free(topics);
    if (rc != KK_OK) {
        kk_partition_offsets_free(&committed);
        return rc;
    }
    size_t total = 0;
    for (size_t i = 0; i < md->topic_count; i++)
        total += md->topics[i].partition_count;
    kk_partition_lag_t *out = calloc(total ? total : 1, sizeof(*out));
    size_t n = 0;
    for (size_t i = 0; out && i < md->topic_count && rc == KK_OK; i++) {
        const kk_topic_info_t *t = &md->topics[i];
        for (size_t j = 0; j < t->partition_count; j++) {
            kk_partition_lag_t *l = &out[n];
            l->topic = strdup(t->name);
            if (!l->topic) {
                rc = kk_error_set(err, KK_ERR_NO_MEMORY, "group lag: out of memory");
                break;
            }
            n++;
            l->partition = t->partitions[j].partition;
            l->committed = committed_of(&committed, t->name, l->partition);
            kk_list_offsets_result_t res;
            kk_error_t ignored;
            l->error = kk_admin_leader_offset(client, md, t->name, &t->partitions[j],
                                              KK_TIMESTAMP_LATEST, &res, &ignored);
            if (l->error == KK_ERR_INTERRUPTED) {
                rc = kk_error_set(err, KK_ERR_INTERRUPTED, "group lag: interrupted");
                break;
            }
            l->end = l->error ? -1 : res.offset;
            l->lag = -1;
            if (l->end >= 0 && l->committed >= 0) /* a commit past the end counts as none */
                l->lag = l->end > l->committed ? l->end - l->committed : 0;
        }
    }
    kk_metadata_free(md);
    kk_partition_offsets_free(&committed);
    if (!out)
        return kk_error_set(err, KK_ERR_NO_MEMORY, "group lag: out of memory");
    if (rc != KK_OK) {
        kk_partition_lags_free(out, n);
        return rc;
    }
    *lags = out;
    *count = n;
    return KK_OK;
}
