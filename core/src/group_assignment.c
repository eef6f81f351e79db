/*
 * Claims and assignments: the partition counts a rebalance depends on, the leader's assignment
 * plan, and turning the assignment a member receives into its claims.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "group_internal.h"

void kk_grp_free_claims(kk_group_t *g) {
    for (size_t i = 0; i < g->claim_count; i++)
        kk_consumer_free(g->claims[i].consumer);
    free(g->claims);
    g->claims = NULL;
    g->claim_count = 0;
    g->claims_started = false;
    g->next_claim = 0;
}

bool kk_grp_forked(kk_group_t *g) {
    pid_t now = getpid();
    if (g->pid == now)
        return false;
    g->pid = now;
    /* the parent's thread was not copied: forget it without joining or signalling it */
    g->hb.running = false;
    free(g->hb.member_id);
    g->hb.member_id = NULL;
    kk_conn_close(&g->hb.conn);
    g->hb.coordinator_known = false;
    kk_conn_close(&g->coord);
    g->coordinator_known = false;
    kk_grp_free_claims(g); /* their consumers close their own inherited sockets */
    char *fresh = dup_str("");
    if (fresh) {
        free(g->member_id);
        g->member_id = fresh;
    }
    g->generation = -1;
    g->is_leader = false;
    g->lost_code = 0;
    if (g->state != GROUP_CLOSED)
        g->state = GROUP_UNJOINED;
    kk_log(g->client, KK_LOG_INFO,
           "group %s: process %ld joins as a new member (the membership was process %ld's)",
           g->group_id, (long)now, (long)getppid());
    return true;
}

claim_t kk_grp_new_claim(const char *topic, int32_t partition) {
    return (claim_t){
        .topic = topic, .partition = partition, .committed = -1, .consumed = -1, .seek_to = -1};
}

void kk_grp_carry_claims(kk_group_t *g) {
    size_t n = 0;
    for (size_t i = 0; i < g->claim_count; i++)
        n += g->claims[i].paused || g->claims[i].seek_to >= 0;
    if (n == 0)
        return;
    carried_t *grown = realloc(g->carried, (g->carried_count + n) * sizeof(*grown));
    if (!grown) {
        kk_log(g->client, KK_LOG_WARNING,
               "group %s: out of memory: %zu paused or sought partition(s) will start afresh if "
               "they come back",
               g->group_id, n);
        return;
    }
    g->carried = grown;
    for (size_t i = 0; i < g->claim_count; i++) {
        const claim_t *c = &g->claims[i];
        if (c->paused || c->seek_to >= 0)
            g->carried[g->carried_count++] =
                (carried_t){c->topic, c->partition, c->paused, c->seek_to};
    }
}

void kk_grp_apply_carried(kk_group_t *g) {
    for (size_t i = 0; i < g->carried_count; i++) {
        const carried_t *k = &g->carried[i];
        claim_t *c = kk_grp_find_claim(g, k->topic, k->partition);
        if (c && !c->consumer) {
            c->paused = k->paused;
            c->seek_to = k->seek_to;
        }
    }
    free(g->carried);
    g->carried = NULL;
    g->carried_count = 0;
}

void kk_grp_free_watched(kk_group_t *g) {
    for (size_t i = 0; i < g->watched_count; i++)
        free(g->watched[i].topic);
    free(g->watched);
    g->watched = NULL;
    g->watched_count = 0;
}

size_t kk_grp_copy_claims(const kk_group_t *g, kk_topic_partition_t *out, size_t cap) {
    for (size_t i = 0; i < g->claim_count && i < cap && out; i++)
        out[i] = (kk_topic_partition_t){g->claims[i].topic, g->claims[i].partition};
    return g->claim_count;
}

static int compare_claim_key(const char *topic, int32_t partition, const claim_t *c) {
    int d = strcmp(topic, c->topic);
    return d ? d : (partition > c->partition) - (partition < c->partition);
}

/* The claims are sorted by (topic, partition) (kk_grp_take_assignment sorts them). */
claim_t *kk_grp_find_claim(kk_group_t *g, const char *topic, int32_t partition) {
    size_t lo = 0, hi = g->claim_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = compare_claim_key(topic, partition, &g->claims[mid]);
        if (c == 0)
            return &g->claims[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* A name and its position in a list, to sort names without losing which came first. */
typedef struct name_ref {
    const char *name;
    size_t index;
} name_ref_t;

static int compare_name_refs(const void *a, const void *b) {
    const name_ref_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

static int compare_name_ref_index(const void *a, const void *b) {
    const name_ref_t *x = a, *y = b;
    return (x->index > y->index) - (x->index < y->index);
}

/* The first ref named name in refs sorted by compare_name_refs, or NULL. */
static const name_ref_t *find_name(const name_ref_t *refs, size_t n, const char *name) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(refs[mid].name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && strcmp(refs[lo].name, name) == 0 ? &refs[lo] : NULL;
}

bool kk_grp_lookup_counts(const kk_metadata_t *md, const char *const *topics, size_t n,
                          int32_t *counts) {
    size_t known = 0;
    name_ref_t *refs = malloc((md && md->topic_count ? md->topic_count : 1) * sizeof(*refs));
    if (!refs)
        return false;
    for (size_t i = 0; md && i < md->topic_count; i++)
        if (md->topics[i].name)
            refs[known++] = (name_ref_t){md->topics[i].name, i};
    qsort(refs, known, sizeof(*refs), compare_name_refs);
    for (size_t i = 0; i < n; i++) {
        const name_ref_t *r = topics[i] ? find_name(refs, known, topics[i]) : NULL;
        const kk_topic_info_t *t = r ? &md->topics[r->index] : NULL;
        if (!t || t->error_code == 3)
            counts[i] = 0;
        else if (t->error_code != 0 && t->partition_count == 0)
            counts[i] = -1;
        else
            counts[i] = (int32_t)t->partition_count;
    }
    free(refs);
    return true;
}

/* Partition counts of topics (0 for a topic that does not exist; -1 for one whose metadata
 * reports another error, which says nothing about its partitions). */
static int partition_counts(kk_group_t *g, const char *const *topics, size_t n, int32_t *counts,
                            kk_error_t *err) {
    kk_metadata_t *md = NULL;
    int rc = kk_client_metadata(g->client, topics, n, &md, err);
    if (rc != KK_OK)
        return rc;
    if (!kk_grp_lookup_counts(md, topics, n, counts))
        rc = kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
    kk_metadata_free(md);
    return rc;
}

static int set_watched(kk_group_t *g, const char *const *topics, const int32_t *counts, size_t n,
                       kk_error_t *err) {
    kk_grp_free_watched(g);
    g->watched = calloc(n ? n : 1, sizeof(*g->watched));
    if (!g->watched)
        return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (!(g->watched[i].topic = dup_str(topics[i])))
            return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
        g->watched[i].partitions = counts[i];
        g->watched_count++;
    }
    return KK_OK;
}

/* Before every join: the subscription's partition counts (what a change is measured against);
 * the first join also fails clearly on topics that do not exist. */
int kk_grp_check_subscription(kk_group_t *g, kk_error_t *err) {
    int32_t *counts = malloc(g->topic_count * sizeof(*counts));
    if (!counts)
        return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
    int rc = partition_counts(g, (const char *const *)g->topics, g->topic_count, counts, err);
    if (rc == KK_OK && !g->topics_verified) {
        char missing[KK_ERROR_MESSAGE_SIZE] = "";
        size_t used = 0, n = 0;
        for (size_t i = 0; i < g->topic_count; i++) {
            if (counts[i] != 0)
                continue;
            n++;
            int w = snprintf(missing + used, sizeof(missing) - used, "%s%s", used ? ", " : "",
                             g->topics[i]);
            used += w > 0 && (size_t)w < sizeof(missing) - used ? (size_t)w : 0;
        }
        if (n)
            rc = kk_error_set(err, 3, "group %s: %zu subscribed topic(s) do not exist: %s",
                              g->group_id, n, missing);
        else
            g->topics_verified = true;
    }
    if (rc == KK_OK)
        rc = set_watched(g, (const char *const *)g->topics, counts, g->topic_count, err);
    free(counts);
    return rc;
}

/* Sorted by (name, position), the first of each name's run is its first appearance. */
bool kk_grp_collect_topics(const kk_consumer_subscription_t *subs, size_t n, const char ***all,
                           size_t *count) {
    size_t total = 0, used = 0;
    for (size_t i = 0; i < n; i++)
        total += subs[i].topic_count;
    name_ref_t *refs = malloc((total ? total : 1) * sizeof(*refs));
    const char **list = malloc((total ? total : 1) * sizeof(*list));
    if (!refs || !list) {
        free(refs);
        free(list);
        return false;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t t = 0; t < subs[i].topic_count; t++) {
            const char *name = subs[i].topics[t];
            if (name && name[0] && strnlen(name, 250) <= 249) {
                refs[used] = (name_ref_t){name, used};
                used++;
            }
        }
    qsort(refs, used, sizeof(*refs), compare_name_refs);
    size_t unique = 0;
    for (size_t i = 0; i < used; i++)
        if (i == 0 || strcmp(refs[i - 1].name, refs[i].name) != 0)
            refs[unique++] = refs[i];
    qsort(refs, unique, sizeof(*refs), compare_name_ref_index);
    for (size_t i = 0; i < unique; i++)
        list[i] = refs[i].name;
    free(refs);
    *all = list;
    *count = unique;
    return true;
}

void kk_grp_leader_plan_free(leader_plan_t *plan) {
    for (size_t i = 0; i < plan->count; i++)
        kk_writer_free(&plan->buffers[i]);
    free(plan->buffers);
    free(plan->assignments);
    memset(plan, 0, sizeof(*plan));
}

int kk_grp_plan_assignment(kk_group_t *g, const kk_join_group_result_t *join, leader_plan_t *plan,
                           kk_error_t *err) {
    size_t n = join->member_count;
    kk_consumer_subscription_t *subs = calloc(n ? n : 1, sizeof(*subs));
    kk_assign_member_t *members = calloc(n ? n : 1, sizeof(*members));
    kk_member_assignment_t *shares = calloc(n ? n : 1, sizeof(*shares));
    const char **all = NULL;
    size_t all_count = 0;
    int32_t *counts = NULL;
    kk_assign_topic_t *topics = NULL;
    int rc = KK_OK;
    plan->buffers = calloc(n ? n : 1, sizeof(*plan->buffers));
    plan->assignments = calloc(n ? n : 1, sizeof(*plan->assignments));
    if (!subs || !members || !shares || !plan->buffers || !plan->assignments) {
        rc = kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
        goto done;
    }
    plan->count = n;
    for (size_t i = 0; i < n; i++) {
        const kk_join_group_member_t *m = &join->members[i];
        kk_error_t sub_err;
        if (kk_decode_consumer_subscription(m->metadata, m->metadata_len, &subs[i], &sub_err) !=
            KK_OK)
            kk_log(g->client, KK_LOG_WARNING, "group %s: member %s: %s; it gets no partitions",
                   g->group_id, m->member_id, sub_err.message);
        members[i] = (kk_assign_member_t){m->member_id, m->group_instance_id,
                                          (const char *const *)subs[i].topics, subs[i].topic_count};
    }
    if (!kk_grp_collect_topics(subs, n, &all, &all_count)) {
        rc = kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
        goto done;
    }
    counts = calloc(all_count ? all_count : 1, sizeof(*counts));
    topics = calloc(all_count ? all_count : 1, sizeof(*topics));
    if (!counts || !topics) {
        rc = kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
        goto done;
    }
    if (all_count && (rc = partition_counts(g, all, all_count, counts, err)) != KK_OK)
        goto done;
    for (size_t i = 0; i < all_count; i++)
        topics[i] = (kk_assign_topic_t){all[i], counts[i] > 0 ? counts[i] : 0};
    if ((rc = kk_assign(g->assignor, members, n, topics, all_count, shares, err)) != KK_OK)
        goto done;
    for (size_t i = 0; i < n; i++) {
        int16_t version = subs[i].version > KK_CONSUMER_PROTOCOL_VERSION
                              ? KK_CONSUMER_PROTOCOL_VERSION
                              : subs[i].version;
        kk_writer_init(&plan->buffers[i]);
        kk_encode_consumer_assignment(&plan->buffers[i], version < 0 ? 0 : version,
                                      shares[i].partitions, shares[i].count);
        if (plan->buffers[i].failed) {
            rc = kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
            goto done;
        }
        plan->assignments[i] = (kk_sync_assignment_in_t){
            join->members[i].member_id, plan->buffers[i].data, plan->buffers[i].len};
        kk_log(g->client, KK_LOG_DEBUG, "group %s: assigned %zu partition(s) to %s", g->group_id,
               shares[i].count, join->members[i].member_id);
    }
    /* the leader watches every member's topics for partition-count changes */
    rc = set_watched(g, all, counts, all_count, err);
done:
    if (rc != KK_OK)
        kk_grp_leader_plan_free(plan);
    kk_member_assignments_free(shares, n);
    for (size_t i = 0; i < n && subs; i++)
        kk_consumer_subscription_free(&subs[i]);
    free(subs);
    free(members);
    free(shares);
    free(all);
    free(counts);
    free(topics);
    return rc;
}

static int compare_claims(const void *a, const void *b) {
    const claim_t *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

/* Turns the assignment bytes into claims (only for topics we subscribed to). */
int kk_grp_take_assignment(kk_group_t *g, const uint8_t *data, size_t len, kk_error_t *err) {
    kk_consumer_assignment_t a;
    int rc = kk_decode_consumer_assignment(data, len, &a, err);
    if (rc != KK_OK)
        return rc;
    kk_grp_free_claims(g);
    size_t n = a.partitions.count;
    g->claims = calloc(n ? n : 1, sizeof(*g->claims));
    if (!g->claims) {
        kk_consumer_assignment_free(&a);
        return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
    }
    /* our subscription sorted, a name's first copy first (claims point at that one) */
    name_ref_t *ours = malloc((g->topic_count ? g->topic_count : 1) * sizeof(*ours));
    if (!ours) {
        kk_consumer_assignment_free(&a);
        return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
    }
    for (size_t t = 0; t < g->topic_count; t++)
        ours[t] = (name_ref_t){g->topics[t], t};
    qsort(ours, g->topic_count, sizeof(*ours), compare_name_refs);
    for (size_t i = 0; i < n; i++) {
        const kk_topic_partition_t *tp = &a.partitions.partitions[i];
        const name_ref_t *found = find_name(ours, g->topic_count, tp->topic);
        if (!found || tp->partition < 0) {
            kk_log(g->client, KK_LOG_WARNING, "group %s: ignoring %s[%d]: not in our subscription",
                   g->group_id, tp->topic, (int)tp->partition);
            continue;
        }
        g->claims[g->claim_count++] = kk_grp_new_claim(found->name, tp->partition);
    }
    free(ours);
    /* sorted (kk_grp_find_claim relies on it), each partition once */
    qsort(g->claims, g->claim_count, sizeof(*g->claims), compare_claims);
    size_t unique = 0;
    for (size_t i = 0; i < g->claim_count; i++)
        if (unique == 0 || compare_claims(&g->claims[unique - 1], &g->claims[i]) != 0)
            g->claims[unique++] = g->claims[i];
    g->claim_count = unique;
    kk_consumer_assignment_free(&a);
    kk_grp_apply_carried(g);
    return KK_OK;
}

/* Extra time a JoinGroup / SyncGroup may take beyond the rebalance itself. */

/* Whether the partition counts this member's assignment depends on have changed. */
bool kk_grp_partitions_changed(kk_group_t *g) {
    if (g->watched_count == 0)
        return false;
    const char **names = malloc(g->watched_count * sizeof(*names));
    int32_t *counts = malloc(g->watched_count * sizeof(*counts));
    bool changed = false;
    kk_error_t err;
    if (names && counts) {
        for (size_t i = 0; i < g->watched_count; i++)
            names[i] = g->watched[i].topic;
        if (partition_counts(g, names, g->watched_count, counts, &err) != KK_OK) {
            kk_log(g->client, KK_LOG_WARNING, "group %s: metadata check failed: %s", g->group_id,
                   err.message);
        } else {
            for (size_t i = 0; i < g->watched_count; i++) {
                watched_t *w = &g->watched[i];
                if (counts[i] < 0)
                    continue;
                if (w->partitions >= 0 && counts[i] != w->partitions) {
                    kk_log(g->client, KK_LOG_INFO,
                           "group %s: topic %s now has %d partition(s), had %d; rebalancing",
                           g->group_id, w->topic, (int)counts[i], (int)w->partitions);
                    changed = true;
                }
                w->partitions = counts[i];
            }
        }
    }
    free(names);
    free(counts);
    return changed;
}
