#include "assignor.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

void kk_tp_list_free(kk_tp_list_t *list) {
    for (size_t i = 0; i < list->topic_count; i++)
        free(list->topics[i]);
    free(list->topics);
    free(list->partitions);
    memset(list, 0, sizeof(*list));
}

/* ---- shared pieces ---------------------------------------------------------------------- */

static int compare_strings(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int compare_tps(const void *a, const void *b) {
    const kk_topic_partition_t *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    if (c)
        return c;
    return (x->partition > y->partition) - (x->partition < y->partition);
}

/* Writes [topic, [partition...]]... for partitions grouped by topic in order of first
 * appearance (the caller sorts first when it wants sorted output). */
static void write_topic_partitions(kk_writer_t *w, const kk_topic_partition_t *p, size_t n) {
    int32_t topics = 0;
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(p[j].topic, p[i].topic) == 0;
        topics += !seen;
    }
    kk_write_array_len(w, topics);
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(p[j].topic, p[i].topic) == 0;
        if (seen)
            continue;
        int32_t count = 0;
        for (size_t j = i; j < n; j++)
            count += strcmp(p[j].topic, p[i].topic) == 0;
        kk_write_string(w, p[i].topic);
        kk_write_array_len(w, count);
        for (size_t j = i; j < n; j++)
            if (strcmp(p[j].topic, p[i].topic) == 0)
                kk_write_i32(w, p[j].partition);
    }
}

/* Reads [topic, [partition...]]... into list. */
static void read_topic_partitions(kk_reader_t *r, kk_tp_list_t *list, bool *oom) {
    int32_t topics = kk_read_array_len(r, 6); /* name + partition array */
    if (topics < 0)
        kk_reader_fail(r);
    if (topics <= 0 || r->failed)
        return;
    list->topics = calloc((size_t)topics, sizeof(*list->topics));
    if (!list->topics) {
        *oom = true;
        return;
    }
    size_t cap = 0;
    for (int32_t t = 0; t < topics && !r->failed && !*oom; t++) {
        kk_slice_t name = kk_read_string(r);
        if (name.len < 0) {
            kk_reader_fail(r);
            break;
        }
        char *topic = kk_slice_strdup(name, oom);
        if (!topic)
            break;
        list->topics[list->topic_count++] = topic;
        int32_t parts = kk_read_array_len(r, 4);
        if (parts < 0)
            kk_reader_fail(r);
        for (int32_t p = 0; p < parts && !r->failed; p++) {
            if (list->count == cap) {
                size_t grown = cap ? cap * 2 : 8;
                kk_topic_partition_t *g = realloc(list->partitions, grown * sizeof(*g));
                if (!g) {
                    *oom = true;
                    return;
                }
                list->partitions = g;
                cap = grown;
            }
            list->partitions[list->count++] = (kk_topic_partition_t){topic, kk_read_i32(r)};
        }
    }
}

/* ---- subscription ----------------------------------------------------------------------- */

void kk_encode_consumer_subscription(kk_writer_t *w, int16_t version, const char *const *topics,
                                     size_t topic_count, const kk_topic_partition_t *owned,
                                     size_t owned_count, int32_t generation_id,
                                     const char *rack_id) {
    const char **sorted = topic_count ? malloc(topic_count * sizeof(*sorted)) : NULL;
    kk_topic_partition_t *sorted_owned =
        owned_count ? malloc(owned_count * sizeof(*sorted_owned)) : NULL;
    if ((topic_count && !sorted) || (owned_count && !sorted_owned)) {
        free(sorted);
        free(sorted_owned);
        w->failed = true;
        return;
    }
    if (topic_count) {
        memcpy(sorted, topics, topic_count * sizeof(*sorted));
        qsort(sorted, topic_count, sizeof(*sorted), compare_strings);
    }
    if (owned_count) {
        memcpy(sorted_owned, owned, owned_count * sizeof(*sorted_owned));
        qsort(sorted_owned, owned_count, sizeof(*sorted_owned), compare_tps);
    }
    kk_write_i16(w, version);
    kk_write_array_len(w, (int32_t)topic_count);
    for (size_t i = 0; i < topic_count; i++)
        kk_write_string(w, sorted[i]);
    kk_write_bytes(w, NULL, 0); /* user data */
    if (version >= 1)
        write_topic_partitions(w, sorted_owned, owned_count);
    if (version >= 2)
        kk_write_i32(w, generation_id);
    if (version >= 3)
        kk_write_string(w, rack_id);
    free(sorted);
    free(sorted_owned);
}

void kk_consumer_subscription_free(kk_consumer_subscription_t *sub) {
    for (size_t i = 0; i < sub->topic_count; i++)
        free(sub->topics[i]);
    free(sub->topics);
    free(sub->user_data);
    kk_tp_list_free(&sub->owned);
    free(sub->rack_id);
    memset(sub, 0, sizeof(*sub));
    sub->generation_id = -1;
}

int kk_decode_consumer_subscription(const uint8_t *data, size_t len,
                                    kk_consumer_subscription_t *out, kk_error_t *err) {
    kk_reader_t r;
    bool oom = false;
    memset(out, 0, sizeof(*out));
    out->generation_id = -1;
    kk_reader_init(&r, data, len);
    out->version = kk_read_i16(&r);
    if (out->version < 0)
        kk_reader_fail(&r);
    int16_t v =
        out->version > KK_CONSUMER_PROTOCOL_VERSION ? KK_CONSUMER_PROTOCOL_VERSION : out->version;
    int32_t n = kk_read_array_len(&r, 2);
    if (n < 0)
        kk_reader_fail(&r);
    if (n > 0 && !r.failed) {
        out->topics = calloc((size_t)n, sizeof(*out->topics));
        if (!out->topics)
            oom = true;
        for (int32_t i = 0; i < n && out->topics && !r.failed && !oom; i++) {
            kk_slice_t s = kk_read_string(&r);
            if (s.len < 0)
                kk_reader_fail(&r);
            else if ((out->topics[i] = kk_slice_strdup(s, &oom)))
                out->topic_count++;
        }
    }
    out->user_data = kk_slice_memdup(kk_read_bytes(&r), &out->user_data_len, &oom);
    if (v >= 1)
        read_topic_partitions(&r, &out->owned, &oom);
    if (v >= 2)
        out->generation_id = kk_read_i32(&r);
    if (v >= 3)
        out->rack_id = kk_slice_strdup(kk_read_string(&r), &oom);
    if (oom || r.failed) {
        kk_consumer_subscription_free(out);
        if (oom)
            return kk_error_set(err, KK_ERR_NO_MEMORY, "consumer subscription: out of memory");
        return kk_error_set(err, KK_ERR_MALFORMED,
                            "a member's consumer subscription (v%d) is malformed", (int)v);
    }
    return KK_OK;
}

/* ---- assignment ------------------------------------------------------------------------- */

void kk_encode_consumer_assignment(kk_writer_t *w, int16_t version,
                                   const kk_topic_partition_t *partitions, size_t count) {
    kk_write_i16(w, version);
    write_topic_partitions(w, partitions, count);
    kk_write_bytes(w, NULL, 0); /* user data */
}

void kk_consumer_assignment_free(kk_consumer_assignment_t *a) {
    kk_tp_list_free(&a->partitions);
    free(a->user_data);
    memset(a, 0, sizeof(*a));
}

int kk_decode_consumer_assignment(const uint8_t *data, size_t len, kk_consumer_assignment_t *out,
                                  kk_error_t *err) {
    memset(out, 0, sizeof(*out));
    if (len == 0)
        return KK_OK;
    kk_reader_t r;
    bool oom = false;
    kk_reader_init(&r, data, len);
    out->version = kk_read_i16(&r);
    if (out->version < 0)
        kk_reader_fail(&r);
    read_topic_partitions(&r, &out->partitions, &oom);
    out->user_data = kk_slice_memdup(kk_read_bytes(&r), &out->user_data_len, &oom);
    if (oom || r.failed) {
        kk_consumer_assignment_free(out);
        if (oom)
            return kk_error_set(err, KK_ERR_NO_MEMORY, "consumer assignment: out of memory");
        return kk_error_set(err, KK_ERR_MALFORMED,
                            "the consumer assignment from the leader is malformed");
    }
    return KK_OK;
}

/* ---- assignors -------------------------------------------------------------------------- */

bool kk_assignor_known(const char *name) {
    return name && (strcmp(name, "range") == 0 || strcmp(name, "roundrobin") == 0);
}

/* The Java client's member order: members with a group instance id first (by that id), then
 * the others by member id. (Java compares UTF-16 units; for the ASCII ids brokers hand out
 * this is the same as byte order.) */
static int compare_members(const kk_assign_member_t *a, const kk_assign_member_t *b) {
    if (a->group_instance_id && b->group_instance_id)
        return strcmp(a->group_instance_id, b->group_instance_id);
    if (a->group_instance_id)
        return -1;
    if (b->group_instance_id)
        return 1;
    return strcmp(a->member_id, b->member_id);
}

/* qsort has no context argument in C11: sort indices with a small insertion sort instead. */
static void sort_member_indices(const kk_assign_member_t *members, size_t *idx, size_t n) {
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    for (size_t i = 1; i < n; i++) {
        size_t v = idx[i], j = i;
        while (j > 0 && compare_members(&members[idx[j - 1]], &members[v]) > 0) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = v;
    }
}

static bool subscribes(const kk_assign_member_t *m, const char *topic) {
    for (size_t i = 0; i < m->topic_count; i++)
        if (m->topics[i] && strcmp(m->topics[i], topic) == 0)
            return true;
    return false;
}

static int compare_assign_topics(const void *a, const void *b) {
    return strcmp(((const kk_assign_topic_t *)a)->topic, ((const kk_assign_topic_t *)b)->topic);
}

typedef struct grow {
    size_t cap;
} grow_t;

static bool add_partition(kk_member_assignment_t *a, grow_t *g, const char *topic, int32_t p) {
    if (a->count == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 8;
        kk_topic_partition_t *grown = realloc(a->partitions, cap * sizeof(*grown));
        if (!grown)
            return false;
        a->partitions = grown;
        g->cap = cap;
    }
    a->partitions[a->count++] = (kk_topic_partition_t){topic, p};
    return true;
}

/* Per topic: its subscribers in member order split the partitions into ranges, the first
 * (count % subscribers) members getting one extra. */
static bool assign_range(const kk_assign_member_t *members, const size_t *order, size_t n,
                         const kk_assign_topic_t *topics, size_t topic_count,
                         kk_member_assignment_t *out, grow_t *grow, size_t *subs) {
    for (size_t t = 0; t < topic_count; t++) {
        int32_t partitions = topics[t].partition_count;
        size_t c = 0;
        for (size_t i = 0; i < n; i++)
            if (subscribes(&members[order[i]], topics[t].topic))
                subs[c++] = order[i];
        if (c == 0 || partitions <= 0)
            continue;
        size_t per = (size_t)partitions / c, extra = (size_t)partitions % c;
        for (size_t i = 0; i < c; i++) {
            size_t start = per * i + (i < extra ? i : extra);
            size_t len = per + (i < extra ? 1 : 0);
            for (size_t p = start; p < start + len; p++)
                if (!add_partition(&out[subs[i]], &grow[subs[i]], topics[t].topic, (int32_t)p))
                    return false;
        }
    }
    return true;
}

/* Every subscribed partition in (topic, partition) order is dealt to the members in a circle,
 * skipping members not subscribed to its topic. */
static bool assign_roundrobin(const kk_assign_member_t *members, const size_t *order, size_t n,
                              const kk_assign_topic_t *topics, size_t topic_count,
                              kk_member_assignment_t *out, grow_t *grow) {
    size_t pos = 0;
    for (size_t t = 0; t < topic_count; t++) {
        bool any = false;
        for (size_t i = 0; i < n && !any; i++)
            any = subscribes(&members[i], topics[t].topic);
        if (!any)
            continue;
        for (int32_t p = 0; p < topics[t].partition_count; p++) {
            while (!subscribes(&members[order[pos]], topics[t].topic))
                pos = (pos + 1) % n;
            size_t m = order[pos];
            if (!add_partition(&out[m], &grow[m], topics[t].topic, p))
                return false;
            pos = (pos + 1) % n;
        }
    }
    return true;
}

void kk_member_assignments_free(kk_member_assignment_t *out, size_t member_count) {
    if (!out)
        return;
    for (size_t i = 0; i < member_count; i++) {
        free(out[i].partitions);
        out[i].partitions = NULL;
        out[i].count = 0;
    }
}

int kk_assign(const char *assignor, const kk_assign_member_t *members, size_t member_count,
              const kk_assign_topic_t *topics, size_t topic_count, kk_member_assignment_t *out,
              kk_error_t *err) {
    if (!kk_assignor_known(assignor))
        return kk_error_set(err, KK_ERR_INVALID_ARG,
                            "unknown assignor \"%s\" (known: range, roundrobin)",
                            assignor ? assignor : "(null)");
    for (size_t i = 0; i < member_count; i++)
        out[i] = (kk_member_assignment_t){NULL, 0};
    if (member_count == 0)
        return KK_OK;
    size_t *order = malloc(member_count * sizeof(*order));
    size_t *subs = malloc(member_count * sizeof(*subs));
    grow_t *grow = calloc(member_count, sizeof(*grow));
    kk_assign_topic_t *sorted = topic_count ? malloc(topic_count * sizeof(*sorted)) : NULL;
    bool ok = order && subs && grow && (sorted || !topic_count);
    if (ok) {
        if (topic_count) {
            memcpy(sorted, topics, topic_count * sizeof(*sorted));
            qsort(sorted, topic_count, sizeof(*sorted), compare_assign_topics);
        }
        sort_member_indices(members, order, member_count);
        ok = strcmp(assignor, "range") == 0
                 ? assign_range(members, order, member_count, sorted, topic_count, out, grow, subs)
                 : assign_roundrobin(members, order, member_count, sorted, topic_count, out, grow);
    }
    free(order);
    free(subs);
    free(grow);
    free(sorted);
    if (!ok) {
        kk_member_assignments_free(out, member_count);
        return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory computing the assignment");
    }
    return KK_OK;
}
