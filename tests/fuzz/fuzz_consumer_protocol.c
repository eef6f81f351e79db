/* The consumer protocol (assignor.c, group_assignment.c): a member's subscription, the
 * assignment a member receives, and the leader's work on every member's metadata: topics
 * collected, both assignors run, each share encoded and decoded again. Input: [mode][...]:
 *   mode % 3 == 0: a subscription
 *   mode % 3 == 1: an assignment
 *   mode % 3 == 2: up to 8 members, each [u8 id][u16 length][subscription bytes] */
#include <stdio.h>

#include "fuzz_common.h"
#include "group_internal.h"

enum { MAX_MEMBERS = 8 };

/* A topic's partition count, from its name: 0..7. */
static int32_t partitions_of(const char *name) {
    uint32_t h = 2166136261u;
    for (const char *p = name; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return (int32_t)(h % 8);
}

static void leader(fuzz_input_t *in) {
    kk_consumer_subscription_t subs[MAX_MEMBERS];
    kk_assign_member_t members[MAX_MEMBERS];
    char ids[MAX_MEMBERS][8];
    size_t n = 0;
    kk_error_t err;
    while (n < MAX_MEMBERS && in->size >= 3) {
        uint8_t id = fuzz_take_byte(in);
        size_t len = (size_t)fuzz_take_byte(in) << 8;
        len |= fuzz_take_byte(in);
        if (len > in->size)
            len = in->size;
        fuzz_input_t chunk = {in->data, len};
        uint8_t *copy = fuzz_copy(&chunk);
        in->data += len;
        in->size -= len;
        if (!copy)
            break;
        if (kk_decode_consumer_subscription(copy, len, &subs[n], &err) != KK_OK)
            memset(&subs[n], 0, sizeof(subs[n]));
        free(copy);
        snprintf(ids[n], sizeof(ids[n]), "m%u", (unsigned)(id % 16));
        members[n] = (kk_assign_member_t){ids[n], id & 0x80 ? ids[n] : NULL,
                                          (const char *const *)subs[n].topics, subs[n].topic_count};
        n++;
    }
    const char **all = NULL;
    size_t all_count = 0;
    if (kk_grp_collect_topics(subs, n, &all, &all_count)) {
        kk_assign_topic_t *topics = calloc(all_count ? all_count : 1, sizeof(*topics));
        size_t expected = 0;
        for (size_t t = 0; topics && t < all_count; t++) {
            topics[t] = (kk_assign_topic_t){all[t], partitions_of(all[t])};
            expected += (size_t)topics[t].partition_count;
        }
        for (int a = 0; topics && a < 2; a++) {
            kk_member_assignment_t out[MAX_MEMBERS];
            if (kk_assign(a ? "roundrobin" : "range", members, n, topics, all_count, out, &err) !=
                KK_OK)
                continue;
            size_t assigned = 0;
            for (size_t i = 0; i < n; i++) {
                assigned += out[i].count;
                kk_writer_t w;
                kk_writer_init(&w);
                kk_encode_consumer_assignment(&w, 3, out[i].partitions, out[i].count);
                kk_consumer_assignment_t back;
                if (!w.failed &&
                    kk_decode_consumer_assignment(w.data, w.len, &back, &err) == KK_OK) {
                    if (back.partitions.count != out[i].count)
                        abort(); /* an encoded share must decode to the same partitions */
                    kk_consumer_assignment_free(&back);
                }
                kk_writer_free(&w);
            }
            /* every partition of every collected topic goes to exactly one member */
            if (assigned != expected)
                abort();
            kk_member_assignments_free(out, n);
        }
        free(topics);
        free(all);
    }
    for (size_t i = 0; i < n; i++)
        kk_consumer_subscription_free(&subs[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_input_t in = {data, size};
    uint8_t mode = fuzz_take_byte(&in);
    kk_error_t err;
    if (mode % 3 == 2) {
        leader(&in);
        return 0;
    }
    uint8_t *body = fuzz_copy(&in);
    if (!body)
        return 0;
    if (mode % 3 == 0) {
        kk_consumer_subscription_t sub;
        if (kk_decode_consumer_subscription(body, in.size, &sub, &err) == KK_OK)
            kk_consumer_subscription_free(&sub);
    } else {
        kk_group_t g;
        memset(&g, 0, sizeof(g));
        char *topics[] = {"t", "a", "b"};
        g.topics = topics;
        g.topic_count = 3;
        g.group_id = "fuzz";
        if (kk_grp_take_assignment(&g, body, in.size, &err) == KK_OK) {
            for (size_t i = 1; i < g.claim_count; i++)
                if (strcmp(g.claims[i - 1].topic, g.claims[i].topic) > 0)
                    abort(); /* claims stay sorted: kk_grp_find_claim depends on it */
            kk_grp_free_claims(&g);
        }
    }
    free(body);
    return 0;
}
