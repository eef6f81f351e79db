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

/* A partition's place in the caller's array, for sorting by topic without losing that order. */
typedef struct tp_ref {
    const char *topic;
    size_t index;
} tp_ref_t;

static int compare_tp_refs(const void *a, const void *b) {
    const tp_ref_t *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* One topic's run in the sorted refs, and its first position in the caller's array. */
typedef struct tp_run {
    size_t start;
    size_t first;
} tp_run_t;

static int compare_tp_runs(const void *a, const void *b) {
    const tp_run_t *x = a, *y = b;
    return (x->first > y->first) - (x->first < y->first);
}

/* Writes [topic, [partition...]]... for partitions grouped by topic in order of first
 * appearance (the caller sorts first when it wants sorted output). O(n log n): the partitions
 * sorted by (topic, position) form one run per topic, and the runs are written in the order
 * of their first positions. */
static void write_topic_partitions(kk_writer_t *w, const kk_topic_partition_t *p, size_t n) {
    if (n == 0) { /* (qsort must not see the NULL arrays) */
        kk_write_array_len(w, 0);
        return;
    }
    tp_ref_t *refs = malloc(n * sizeof(*refs));
    tp_run_t *runs = malloc(n * sizeof(*runs));
    if (!refs || !runs) {
        free(refs);
        free(runs);
        w->failed = true;
        return;
    }
    for (size_t i = 0; i < n; i++)
        refs[i] = (tp_ref_t){p[i].topic, i};
    qsort(refs, n, sizeof(*refs), compare_tp_refs);
    size_t run_count = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || strcmp(refs[i - 1].topic, refs[i].topic) != 0)
            runs[run_count++] = (tp_run_t){i, refs[i].index};
    qsort(runs, run_count, sizeof(*runs), compare_tp_runs);
    kk_write_array_len(w, (int32_t)run_count);
    for (size_t r = 0; r < run_count; r++) {
        const tp_ref_t *start = &refs[runs[r].start], *end = start + 1;
        while (end < refs + n && strcmp(end->topic, start->topic) == 0)
            end++;
        kk_write_string(w, start->topic);
        kk_write_array_len(w, (int32_t)(end - start));
        for (const tp_ref_t *q = start; q < end; q++)
            kk_write_i32(w, p[q->index].partition);
    }
    free(refs);
    free(runs);
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

typedef struct member_ref {
    const kk_assign_member_t *member;
    size_t index;
} member_ref_t;

/* Ties keep the input order (as a stable sort would). */
static int compare_member_refs(const void *a, const void *b) {
    const member_ref_t *x = a, *y = b;
    int c = compare_members(x->member, y->member);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

static bool sort_member_indices(const kk_assign_member_t *members, size_t *idx, size_t n) {
    member_ref_t *refs = malloc(n * sizeof(*refs));
    if (!refs)
        return false;
    for (size_t i = 0; i < n; i++)
        refs[i] = (member_ref_t){&members[i], i};
    qsort(refs, n, sizeof(*refs), compare_member_refs);
    for (size_t i = 0; i < n; i++)
        idx[i] = refs[i].index;
    free(refs);
    return true;
}

static int compare_assign_topics(const void *a, const void *b) {
    return strcmp(((const kk_assign_topic_t *)a)->topic, ((const kk_assign_topic_t *)b)->topic);
}

/* Who subscribes to what: (topic index in the sorted topics, member rank in member order),
 * sorted and without repeats, so that each topic's subscribers in member order form a run. */
typedef struct sub_pair {
    size_t topic;
    size_t rank;
} sub_pair_t;

static int compare_sub_pairs(const void *a, const void *b) {
    const sub_pair_t *x = a, *y = b;
    if (x->topic != y->topic)
        return (x->topic > y->topic) - (x->topic < y->topic);
    return (x->rank > y->rank) - (x->rank < y->rank);
}

/* The first sorted topic named name, or topic_count. */
static size_t lower_bound_topic(const kk_assign_topic_t *topics, size_t topic_count,
                                const char *name) {
    size_t lo = 0, hi = topic_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(topics[mid].topic, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Fills *pairs (sorted, unique) and starts[t]..starts[t + 1], each topic's run in it. */
static bool subscriptions(const kk_assign_member_t *members, const size_t *order, size_t n,
                          const kk_assign_topic_t *topics, size_t topic_count, sub_pair_t **pairs,
                          size_t *starts) {
    size_t total = 0, count = 0, cap = 0;
    for (size_t i = 0; i < n; i++)
        total += members[i].topic_count;
    cap = total ? total : 1;
    sub_pair_t *p = malloc(cap * sizeof(*p));
    if (!p)
        return false;
    for (size_t r = 0; r < n; r++) {
        const kk_assign_member_t *m = &members[order[r]];
        for (size_t i = 0; i < m->topic_count; i++) {
            if (!m->topics[i])
                continue;
            /* the topic list may name a topic twice: each copy counts, as in a linear scan */
            for (size_t t = lower_bound_topic(topics, topic_count, m->topics[i]);
                 t < topic_count && strcmp(topics[t].topic, m->topics[i]) == 0; t++) {
                if (count == cap) {
                    sub_pair_t *grown = realloc(p, 2 * cap * sizeof(*p));
                    if (!grown) {
                        free(p);
                        return false;
                    }
                    p = grown;
                    cap *= 2;
                }
                p[count++] = (sub_pair_t){t, r};
            }
        }
    }
    qsort(p, count, sizeof(*p), compare_sub_pairs);
    size_t unique = 0;
    for (size_t i = 0; i < count; i++)
        if (unique == 0 || compare_sub_pairs(&p[unique - 1], &p[i]) != 0)
            p[unique++] = p[i];
    size_t k = 0;
    for (size_t t = 0; t <= topic_count; t++) {
        starts[t] = k;
        while (k < unique && p[k].topic == t)
            k++;
    }
    *pairs = p;
    return true;
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
static bool assign_range(const size_t *order, const kk_assign_topic_t *topics, size_t topic_count,
                         const sub_pair_t *pairs, const size_t *starts, kk_member_assignment_t *out,
                         grow_t *grow) {
    for (size_t t = 0; t < topic_count; t++) {
        int32_t partitions = topics[t].partition_count;
        const sub_pair_t *subs = &pairs[starts[t]];
        size_t c = starts[t + 1] - starts[t];
        if (c == 0 || partitions <= 0)
            continue;
        size_t per = (size_t)partitions / c, extra = (size_t)partitions % c;
        for (size_t i = 0; i < c; i++) {
            size_t start = per * i + (i < extra ? i : extra);
            size_t len = per + (i < extra ? 1 : 0);
            size_t m = order[subs[i].rank];
            for (size_t p = start; p < start + len; p++)
                if (!add_partition(&out[m], &grow[m], topics[t].topic, (int32_t)p))
                    return false;
        }
    }
    return true;
}

/* Every subscribed partition in (topic, partition) order is dealt to the members in a circle,
 * skipping members not subscribed to its topic: the next one is the topic's first subscriber
 * at or after the circle's position. */
static bool assign_roundrobin(const size_t *order, size_t n, const kk_assign_topic_t *topics,
                              size_t topic_count, const sub_pair_t *pairs, const size_t *starts,
                              kk_member_assignment_t *out, grow_t *grow) {
    size_t pos = 0;
    for (size_t t = 0; t < topic_count; t++) {
        const sub_pair_t *subs = &pairs[starts[t]];
        size_t c = starts[t + 1] - starts[t];
        if (c == 0)
            continue;
        size_t lo = 0, hi = c;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (subs[mid].rank < pos)
                lo = mid + 1;
            else
                hi = mid;
        }
        size_t j = lo == c ? 0 : lo;
        for (int32_t p = 0; p < topics[t].partition_count; p++) {
            size_t m = order[subs[j].rank];
            if (!add_partition(&out[m], &grow[m], topics[t].topic, p))
                return false;
            pos = (subs[j].rank + 1) % n;
            j = j + 1 == c ? 0 : j + 1;
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
    size_t *starts = malloc((topic_count + 1) * sizeof(*starts));
    grow_t *grow = calloc(member_count, sizeof(*grow));
    kk_assign_topic_t *sorted = topic_count ? malloc(topic_count * sizeof(*sorted)) : NULL;
    sub_pair_t *pairs = NULL;
    bool ok = order && starts && grow && (sorted || !topic_count);
    if (ok) {
        if (topic_count) {
            memcpy(sorted, topics, topic_count * sizeof(*sorted));
            qsort(sorted, topic_count, sizeof(*sorted), compare_assign_topics);
        }
        ok = sort_member_indices(members, order, member_count) &&
             subscriptions(members, order, member_count, sorted, topic_count, &pairs, starts);
    }
    if (ok)
        ok = strcmp(assignor, "range") == 0
                 ? assign_range(order, sorted, topic_count, pairs, starts, out, grow)
                 : assign_roundrobin(order, member_count, sorted, topic_count, pairs, starts, out,
                                     grow);
    free(order);
    free(starts);
    free(grow);
    free(sorted);
    free(pairs);
    if (!ok) {
        kk_member_assignments_free(out, member_count);
        return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory computing the assignment");
    }
    return KK_OK;
}
