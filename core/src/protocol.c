#include "protocol.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

/* What this library implements, per API: [min, max] and the first flexible version
 * (INT16_MAX when the API has none in our range). */
typedef struct api_spec {
    int16_t min_version;
    int16_t max_version;
    int16_t first_flexible;
} api_spec_t;

static const api_spec_t *api_spec(int api_key) {
    static const api_spec_t specs[KK_API__COUNT] = {
        [KK_API_PRODUCE] = {0, 11, 9},
        [KK_API_FETCH] = {0, 12, 12},
        [KK_API_LIST_OFFSETS] = {0, 7, 6},
        [KK_API_METADATA] = {0, 12, 9},
        [KK_API_OFFSET_COMMIT] = {2, 9, 8},
        [KK_API_OFFSET_FETCH] = {1, 9, 6},
        [KK_API_FIND_COORDINATOR] = {0, 3, 3},
        [KK_API_JOIN_GROUP] = {0, 9, 6},
        [KK_API_HEARTBEAT] = {0, 4, 4},
        [KK_API_LEAVE_GROUP] = {0, 5, 4},
        [KK_API_SYNC_GROUP] = {0, 5, 4},
        [KK_API_DESCRIBE_GROUPS] = {0, 5, 5},
        [KK_API_LIST_GROUPS] = {0, 5, 3},
        [KK_API_API_VERSIONS] = {0, 3, 3},
        [KK_API_CREATE_TOPICS] = {0, 7, 5},
        [KK_API_DELETE_TOPICS] = {0, 6, 4},
        [KK_API_DELETE_RECORDS] = {0, 2, 2},
        [KK_API_INIT_PRODUCER_ID] = {0, 4, 2},
        [KK_API_DESCRIBE_CONFIGS] = {1, 4, 4}, /* Kafka 4 refuses v0 */
        [KK_API_CREATE_PARTITIONS] = {0, 3, 2},
        [KK_API_INCREMENTAL_ALTER_CONFIGS] = {0, 1, 1},
        /* v1 only: v0 sent the SASL tokens unframed, before Kafka 1.0 */
        [KK_API_SASL_HANDSHAKE] = {1, 1, INT16_MAX},
        [KK_API_SASL_AUTHENTICATE] = {0, 2, 2},
        [KK_API_CONSUMER_GROUP_HEARTBEAT] = {0, 1, 0}, /* flexible from its first version */
    };
    /* an absent entry is all zeros (no API we implement has only a flexible v0) */
    if (api_key < 0 || api_key >= KK_API__COUNT ||
        (specs[api_key].first_flexible == 0 && specs[api_key].max_version == 0))
        return NULL;
    return &specs[api_key];
}

bool kk_protocol_supported(int api_key, int16_t *min_version, int16_t *max_version) {
    const api_spec_t *spec = api_spec(api_key);
    if (!spec || spec->min_version < 0)
        return false;
    *min_version = spec->min_version;
    *max_version = spec->max_version;
    return true;
}

bool kk_protocol_is_flexible(int api_key, int16_t version) {
    const api_spec_t *spec = api_spec(api_key);
    return spec && version >= spec->first_flexible;
}

int kk_protocol_response_header_version(int api_key, int16_t version) {
    if (api_key == KK_API_API_VERSIONS)
        return 0;
    return kk_protocol_is_flexible(api_key, version) ? 1 : 0;
}

void kk_encode_request_header(kk_writer_t *w, int api_key, int16_t version, int32_t correlation_id,
                              const char *client_id) {
    kk_write_i16(w, (int16_t)api_key);
    kk_write_i16(w, version);
    kk_write_i32(w, correlation_id);
    kk_write_string(w, client_id); /* an int16 string even in header v2 */
    if (kk_protocol_is_flexible(api_key, version))
        kk_write_empty_tags(w);
}

int kk_decode_response_header(kk_reader_t *r, int header_version, int32_t expected_correlation_id,
                              kk_error_t *err) {
    int32_t correlation_id = kk_read_i32(r);
    if (header_version >= 1)
        kk_read_skip_tags(r);
    if (r->failed)
        return kk_error_set(err, KK_ERR_MALFORMED, "response header is truncated");
    if (correlation_id != expected_correlation_id)
        return kk_error_set(err, KK_ERR_CORRELATION,
                            "response carries correlation id %d, expected %d", (int)correlation_id,
                            (int)expected_correlation_id);
    return KK_OK;
}

int16_t kk_read_error_code(kk_reader_t *r) { return kk_err_from_broker(kk_read_i16(r)); }

int kk_decode_failed(kk_error_t *err, bool oom, const char *api, int16_t version) {
    if (oom)
        return kk_error_set(err, KK_ERR_NO_MEMORY, "%s response: out of memory", api);
    return kk_error_set(err, KK_ERR_MALFORMED, "%s v%d response is malformed or truncated", api,
                        version);
}

/* ---- ApiVersions ------------------------------------------------------------------------ */

void kk_encode_api_versions_request(kk_writer_t *w, int16_t version) {
    if (version >= 3) {
        kk_write_compact_string(w, "kafkette");
        kk_write_compact_string(w, KK_VERSION_STRING);
        kk_write_empty_tags(w);
    }
}

static int decode_api_versions_body(kk_reader_t *r, int16_t version,
                                    kk_api_versions_response_t *out, kk_error_t *err) {
    bool flexible = version >= 3;
    int32_t n = kk_read_array_len_v(r, flexible, 6);
    if (r->failed || n < 0)
        return kk_error_set(err, KK_ERR_MALFORMED, "ApiVersions response: bad api key array");
    if (n > 0) {
        out->ranges = calloc((size_t)n, sizeof(*out->ranges));
        if (!out->ranges)
            return kk_error_set(err, KK_ERR_NO_MEMORY, "ApiVersions response: out of memory");
    }
    for (int32_t i = 0; i < n && !r->failed; i++) {
        out->ranges[i].api_key = kk_read_i16(r);
        out->ranges[i].min_version = kk_read_i16(r);
        out->ranges[i].max_version = kk_read_i16(r);
        if (flexible)
            kk_read_skip_tags(r);
    }
    out->range_count = (size_t)n;
    if (version >= 1)
        out->throttle_time_ms = kk_read_i32(r);
    if (flexible)
        kk_read_skip_tags(r);
    if (r->failed)
        return kk_error_set(err, KK_ERR_MALFORMED, "ApiVersions v%d response is truncated",
                            version);
    return KK_OK;
}

int kk_decode_api_versions_response(kk_reader_t *r, int16_t version,
                                    kk_api_versions_response_t *out, kk_error_t *err) {
    memset(out, 0, sizeof(*out));
    out->error_code = kk_read_error_code(r);
    if (r->failed)
        return kk_error_set(err, KK_ERR_MALFORMED, "ApiVersions response is empty");
    if (out->error_code == 35) {
        /* KIP-511: a broker that does not speak our version answers in the v0 layout, listing
         * at least its own ApiVersions range. Some implementations write something else
         * (librdkafka's mock cluster); the error code alone is enough to retry with v0. */
        kk_error_t ignored;
        if (decode_api_versions_body(r, 0, out, &ignored) != KK_OK)
            kk_api_versions_response_free(out);
        return KK_OK;
    }
    int rc = decode_api_versions_body(r, version, out, err);
    if (rc != KK_OK)
        kk_api_versions_response_free(out);
    return rc;
}

void kk_api_versions_response_free(kk_api_versions_response_t *resp) {
    free(resp->ranges);
    resp->ranges = NULL;
    resp->range_count = 0;
}

void kk_negotiate_versions(const kk_api_versions_response_t *resp, const int16_t *caps,
                           int16_t versions_out[KK_API__COUNT]) {
    for (int key = 0; key < KK_API__COUNT; key++)
        versions_out[key] = -1;
    for (size_t i = 0; i < resp->range_count; i++) {
        const kk_api_version_range_t *range = &resp->ranges[i];
        int16_t ours_min, ours_max;
        if (!kk_protocol_supported(range->api_key, &ours_min, &ours_max))
            continue;
        if (caps && caps[range->api_key] >= 0 && caps[range->api_key] < ours_max)
            ours_max = caps[range->api_key];
        int16_t best = range->max_version < ours_max ? range->max_version : ours_max;
        int16_t low = range->min_version > ours_min ? range->min_version : ours_min;
        versions_out[range->api_key] = best >= low ? best : -1;
    }
}

void kk_legacy_versions(int16_t versions_out[KK_API__COUNT]) {
    for (int key = 0; key < KK_API__COUNT; key++) {
        int16_t lo, hi;
        bool legacy_api = key <= KK_API_SYNC_GROUP; /* the APIs Kafka 0.9 already had */
        versions_out[key] = legacy_api && kk_protocol_supported(key, &lo, &hi) && lo == 0 ? 0 : -1;
    }
}

/* ---- Metadata --------------------------------------------------------------------------- */

void kk_encode_metadata_request(kk_writer_t *w, int16_t version, const char *const *topics,
                                size_t topic_count, bool allow_auto_topic_creation) {
    bool flexible = kk_protocol_is_flexible(KK_API_METADATA, version);
    if (topic_count == 0 && version >= 1) {
        kk_write_array_len_v(w, -1, flexible); /* null = all topics (v0: empty = all) */
    } else {
        kk_write_array_len_v(w, (int32_t)topic_count, flexible);
        for (size_t i = 0; i < topic_count; i++) {
            if (version >= 10) {
                static const uint8_t zero_uuid[16] = {0};
                kk_write_raw(w, zero_uuid, sizeof(zero_uuid));
            }
            kk_write_str_v(w, topics[i], flexible);
            if (flexible)
                kk_write_empty_tags(w);
        }
    }
    if (version >= 4)
        kk_write_bool(w, allow_auto_topic_creation);
    if (version >= 8 && version <= 10)
        kk_write_bool(w, false); /* include_cluster_authorized_operations */
    if (version >= 8)
        kk_write_bool(w, false); /* include_topic_authorized_operations */
    if (flexible)
        kk_write_empty_tags(w);
}

/* Reads an int32 array into a new allocation; *count gets its length (0 for null). */
static int32_t *read_node_list(kk_reader_t *r, bool flexible, size_t *count, bool *oom) {
    int32_t n = kk_read_array_len_v(r, flexible, 4);
    *count = 0;
    if (r->failed || n <= 0)
        return NULL;
    int32_t *nodes = malloc((size_t)n * sizeof(*nodes));
    if (!nodes) {
        *oom = true;
        return NULL;
    }
    for (int32_t i = 0; i < n; i++)
        nodes[i] = kk_read_i32(r);
    *count = (size_t)n;
    return nodes;
}

static int compare_partitions(const void *a, const void *b) {
    const kk_partition_info_t *pa = a, *pb = b;
    return (pa->partition > pb->partition) - (pa->partition < pb->partition);
}

static void decode_partition(kk_reader_t *r, int16_t version, bool flexible, kk_partition_info_t *p,
                             bool *oom) {
    p->error_code = kk_read_error_code(r);
    p->partition = kk_read_i32(r);
    p->leader = kk_read_i32(r);
    p->leader_epoch = version >= 7 ? kk_read_i32(r) : -1;
    p->replicas = read_node_list(r, flexible, &p->replica_count, oom);
    p->isr = read_node_list(r, flexible, &p->isr_count, oom);
    if (version >= 5)
        p->offline_replicas = read_node_list(r, flexible, &p->offline_replica_count, oom);
    if (flexible)
        kk_read_skip_tags(r);
}

static void decode_topic(kk_reader_t *r, int16_t version, bool flexible, kk_topic_info_t *t,
                         bool *oom) {
    t->error_code = kk_read_error_code(r);
    t->name = kk_slice_strdup(kk_read_str_v(r, flexible), oom);
    if (version >= 10) {
        const uint8_t *id = kk_read_raw(r, 16);
        if (id)
            memcpy(t->topic_id, id, sizeof(t->topic_id));
    }
    t->is_internal = version >= 1 ? kk_read_bool(r) : false;
    /* error code + index + leader + two empty arrays is at least 18 bytes (10 flexible) */
    int32_t n = kk_read_array_len_v(r, flexible, flexible ? 10 : 18);
    if (n > 0 && !r->failed) {
        t->partitions = calloc((size_t)n, sizeof(*t->partitions));
        if (!t->partitions) {
            *oom = true;
            return;
        }
        t->partition_count = (size_t)n;
        for (int32_t i = 0; i < n && !r->failed && !*oom; i++)
            decode_partition(r, version, flexible, &t->partitions[i], oom);
        qsort(t->partitions, t->partition_count, sizeof(*t->partitions), compare_partitions);
    }
    if (version >= 8)
        (void)kk_read_i32(r); /* topic_authorized_operations */
    if (flexible)
        kk_read_skip_tags(r);
}

int kk_decode_metadata_response(kk_reader_t *r, int16_t version, kk_metadata_t **out,
                                kk_error_t *err) {
    bool flexible = kk_protocol_is_flexible(KK_API_METADATA, version);
    bool oom = false;
    *out = NULL;
    kk_metadata_t *md = calloc(1, sizeof(*md));
    if (!md)
        return kk_error_set(err, KK_ERR_NO_MEMORY, "Metadata response: out of memory");
    md->controller_id = -1;

    if (version >= 3)
        (void)kk_read_i32(r); /* throttle_time_ms */

    /* node id + empty host + port is at least 10 bytes (8 flexible) */
    int32_t n = kk_read_array_len_v(r, flexible, flexible ? 8 : 10);
    if (n > 0 && !r->failed) {
        md->brokers = calloc((size_t)n, sizeof(*md->brokers));
        if (!md->brokers)
            oom = true;
        else
            md->broker_count = (size_t)n;
        for (int32_t i = 0; i < n && md->brokers && !r->failed && !oom; i++) {
            kk_broker_info_t *b = &md->brokers[i];
            b->node_id = kk_read_i32(r);
            b->host = kk_slice_strdup(kk_read_str_v(r, flexible), &oom);
            b->port = kk_read_i32(r);
            if (version >= 1)
                b->rack = kk_slice_strdup(kk_read_str_v(r, flexible), &oom);
            if (flexible)
                kk_read_skip_tags(r);
            if (!r->failed && !b->host)
                kk_reader_fail(r); /* a broker without a host cannot be used */
        }
    }
    if (version >= 2)
        md->cluster_id = kk_slice_strdup(kk_read_str_v(r, flexible), &oom);
    if (version >= 1)
        md->controller_id = kk_read_i32(r);

    n = kk_read_array_len_v(r, flexible, flexible ? 6 : 9);
    if (n > 0 && !r->failed && !oom) {
        md->topics = calloc((size_t)n, sizeof(*md->topics));
        if (!md->topics)
            oom = true;
        else
            md->topic_count = (size_t)n;
        for (int32_t i = 0; i < n && md->topics && !r->failed && !oom; i++)
            decode_topic(r, version, flexible, &md->topics[i], &oom);
    }
    if (version >= 8 && version <= 10)
        (void)kk_read_i32(r); /* cluster_authorized_operations */
    if (flexible)
        kk_read_skip_tags(r);

    if (oom || r->failed || n < 0) {
        kk_metadata_free(md);
        return kk_decode_failed(err, oom, "Metadata", version);
    }
    *out = md;
    return KK_OK;
}

void kk_metadata_free(kk_metadata_t *md) {
    if (!md)
        return;
    for (size_t i = 0; i < md->broker_count; i++) {
        free(md->brokers[i].host);
        free(md->brokers[i].rack);
    }
    free(md->brokers);
    for (size_t i = 0; i < md->topic_count; i++) {
        kk_topic_info_t *t = &md->topics[i];
        for (size_t j = 0; j < t->partition_count; j++) {
            free(t->partitions[j].replicas);
            free(t->partitions[j].isr);
            free(t->partitions[j].offline_replicas);
        }
        free(t->partitions);
        free(t->name);
    }
    free(md->topics);
    free(md->cluster_id);
    free(md);
}

const kk_topic_info_t *kk_metadata_topic(const kk_metadata_t *md, const char *topic) {
    if (!md || !topic)
        return NULL;
    for (size_t i = 0; i < md->topic_count; i++)
        if (md->topics[i].name && strcmp(md->topics[i].name, topic) == 0)
            return &md->topics[i];
    return NULL;
}

const kk_broker_info_t *kk_metadata_broker(const kk_metadata_t *md, int32_t node_id) {
    if (!md)
        return NULL;
    for (size_t i = 0; i < md->broker_count; i++)
        if (md->brokers[i].node_id == node_id)
            return &md->brokers[i];
    return NULL;
}
