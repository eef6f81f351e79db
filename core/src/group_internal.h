/*
 * The consumer group's private parts, shared by the group_*.c files:
 *   group.c             configuration, construction, accessors, kk_group_join/poll/close
 *   group_coordinator.c finding the coordinator, running requests against it
 *   group_heartbeat.c   the heartbeat thread
 *   group_assignment.c  claims, partition counts, the leader's plan, taking an assignment
 *   group_offsets.c     OffsetFetch / OffsetCommit, kk_group_commit*
 *   group_membership.c  JoinGroup + SyncGroup, starting claims, callbacks, LeaveGroup
 *   group_consumer.c    the KIP-848 protocol (group_protocol consumer): ConsumerGroupHeartbeat
 *                       from both threads, reconciling assignments on the caller's thread
 *
 * Two threads: the caller's, which does everything but heartbeats, and a heartbeat thread per
 * member that only keeps the session alive. The heartbeat thread has its own client (for its
 * waker and for finding the coordinator again) and its own connection; it never logs and
 * never calls the application. What it shares with the caller's thread is a snapshot written
 * before it starts and read-only while it runs, and the atomics in heartbeat_t (the fatal
 * error's text is written before the atomic code is published, and read only after it is
 * seen).
 */
#ifndef KK_GROUP_INTERNAL_H
#define KK_GROUP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "assignor.h"
#include "client.h"
#include "error.h"
#include "protocol_cgroup.h"
#include "protocol_group.h"

/* One claimed partition. */
typedef struct claim {
    const char *topic; /* points into kk_group.topics */
    int32_t partition;
    kk_consumer_t *consumer; /* NULL until the claims are started */
    int64_t committed;       /* the highest commit this member knows of; -1 none */
    int64_t consumed;        /* the position after what poll returned; -1 nothing yet */
    bool announced;          /* on_assign has seen it */
    bool paused;             /* kk_group_pause: not fetched until kk_group_resume */
    int64_t seek_to;         /* kk_group_seek's offset until a batch from there arrives; -1 */
} claim_t;

/* A partition's pause and seek, kept across a classic rebalance (which gives every claim up)
 * for the claims of the next assignment that name the same partition. */
typedef struct carried {
    const char *topic; /* points into kk_group.topics */
    int32_t partition;
    bool paused;
    int64_t seek_to;
} carried_t;

/* A topic whose partition count a rebalance depends on. */
typedef struct watched {
    char *topic;
    int32_t partitions; /* -1: not known yet */
} watched_t;

typedef struct heartbeat {
    pthread_t thread;
    bool running;        /* touched by the caller's thread only */
    kk_client_t *client; /* no log callback: this thread must never call the application */
    kk_conn_t conn;
    bool coordinator_known;
    /* the snapshot: written before the thread starts */
    const char *group_id;
    char *member_id;
    const char *instance_id; /* kk_group.instance_id */
    int32_t generation;
    int interval_ms;
    int session_timeout_ms;
    int retry_backoff_ms;
    /* shared */
    atomic_bool stop;
    atomic_int rejoin; /* 0, or the error that means "rejoin" (22, 25, 27) */
    atomic_int fatal;  /* 0, or a code; fatal_err is complete once it is set */
    kk_error_t fatal_err;
    atomic_llong last_ok_ms; /* the last answer that kept the session alive */
    /* KIP-848: both threads send ConsumerGroupHeartbeat, one at a time under `lock`, which
     * also guards the fields below it. The heartbeat thread only keeps the session alive; an
     * assignment it receives waits in `pending` for the caller's thread. */
    bool consumer_protocol;
    pthread_mutex_t lock;
    atomic_int member_epoch;   /* the coordinator's latest word; read without the lock */
    atomic_int cg_interval_ms; /* from the coordinator's answers */
    int64_t cg_last_sent_ms;
    bool cg_send_full; /* an answer was lost: the caller's thread sends every field next */
    bool pending;      /* an assignment the caller's thread has not taken yet */
    kk_cg_topic_partitions_t *pending_assigned;
    size_t pending_count;
} heartbeat_t;

typedef enum group_state {
    GROUP_UNJOINED = 0, /* not a member (or must rejoin) */
    GROUP_MEMBER,       /* a member of `generation` with `claims` */
    GROUP_CLOSED,
} group_state_t;

struct kk_group {
    kk_group_config_t cfg; /* strings below are our copies */
    char *group_id;
    char **topics;
    size_t topic_count;
    char *assignor;
    kk_client_t *client;

    kk_conn_t coord;
    bool coordinator_known;

    group_state_t state;
    bool topics_verified; /* the first join checks the subscription exists */
    char *member_id;      /* "" until the coordinator gives one */
    int32_t generation;
    char *protocol_name;
    bool is_leader;
    bool in_callback;
    bool revoking; /* inside on_revoke: the claims still count for commits */
    int lost_code; /* a commit found the generation over (22, 25, 27): rejoin, nothing to commit */

    claim_t *claims;
    size_t claim_count;
    bool claims_started; /* committed offsets fetched and consumers created */
    size_t next_claim;
    carried_t *carried; /* from the claims of the last generation; see carried_t */
    size_t carried_count;
    watched_t *watched;
    size_t watched_count;
    int64_t next_metadata_check_ms;
    int64_t next_auto_commit_ms;

    heartbeat_t hb;
    pid_t pid; /* the process whose member this is (see kk_grp_forked) */

    /* KIP-848 (group_protocol consumer) */
    char *instance_id;        /* NULL: dynamic membership */
    char *remote_assignor;    /* NULL: the broker's default */
    uint8_t (*topic_ids)[16]; /* topics[i]'s id; zeros until resolved */
};

/* ---- small helpers ---------------------------------------------------------------------- */

static inline char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    if (copy)
        memcpy(copy, s, n);
    return copy;
}

static inline int set_string(char **slot, const char *value, kk_error_t *err) {
    char *copy = dup_str(value ? value : "");
    if (!copy)
        return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
    free(*slot);
    *slot = copy;
    return KK_OK;
}

/* Errors after which the coordinator must be found again. */
static inline bool coordinator_moved(int code) {
    return code == 15 || code == 16 || (code < 0 && kk_err_is_retriable(code));
}

/* Errors worth retrying against the (possibly new) coordinator. */
static inline bool coordinator_retriable(int code) {
    return code == 14 || coordinator_moved(code) || (code > 0 && kk_err_is_retriable(code));
}

/* Errors that end this member's generation (110, FENCED_MEMBER_EPOCH: KIP-848's). */
static inline bool generation_lost(int code) {
    return code == 22 || code == 25 || code == 27 || code == 110;
}

/* ---- group_coordinator.c ---------------------------------------------------------------- */

/* Finds the group's coordinator through the client's bootstrap connection (also used by the
 * heartbeat thread, with its own client). On success res holds the coordinator's address and
 * is freed by the caller with kk_coordinator_result_free. */
int kk_grp_find_coordinator(kk_client_t *client, const char *group_id, kk_coordinator_result_t *res,
                            kk_error_t *err);
/* Forgets the coordinator: the next request finds it again. */
void kk_grp_coordinator_lost(kk_group_t *g);
/* Connects g->coord to the coordinator, finding it first if needed. */
int kk_grp_ensure_coordinator(kk_group_t *g, kk_error_t *err);
/* The heartbeat thread's own coordinator connection (both protocols): finds the coordinator
 * with the thread's client when it is not known, and opens the connection. */
int kk_grp_hb_connect(heartbeat_t *hb, kk_error_t *err);

/* Runs op against the coordinator, finding it again after coordinator errors, until the
 * deadline passes. */
typedef int (*coord_op_t)(kk_group_t *g, kk_conn_t *conn, void *arg, kk_error_t *err);
int kk_grp_with_coordinator(kk_group_t *g, coord_op_t op, void *arg, int64_t deadline,
                            kk_error_t *err);

/* ---- group_heartbeat.c ------------------------------------------------------------------ */

/* Starts the heartbeat thread for the current member id and generation (stopping an old one). */
/* Starts the heartbeat thread with thread_main (NULL: the classic protocol's loop). */
int kk_grp_heartbeat_start(kk_group_t *g, void *(*thread_main)(void *), kk_error_t *err);
/* Stops and joins the heartbeat thread, if it runs. */
void kk_grp_heartbeat_stop(kk_group_t *g);

/* ---- group_assignment.c ----------------------------------------------------------------- */

void kk_grp_free_claims(kk_group_t *g);
/* In a child process after fork(): forgets the parent's membership (member id, generation,
 * claims, coordinator and heartbeat connections, closed without shutdown) so the next call
 * joins as a new member; the parent's heartbeat thread does not exist here and is not joined.
 * Returns true when it did so. */
bool kk_grp_forked(kk_group_t *g);
void kk_grp_free_watched(kk_group_t *g);
/* Copies up to cap claims to out (which may be NULL); returns how many claims there are. */
size_t kk_grp_copy_claims(const kk_group_t *g, kk_topic_partition_t *out, size_t cap);
claim_t *kk_grp_find_claim(kk_group_t *g, const char *topic, int32_t partition);
/* A new claim of (topic, partition): not started, not paused, no seek. */
claim_t kk_grp_new_claim(const char *topic, int32_t partition);
/* Remembers the pause and seek of the claims that have any (before they are freed). */
void kk_grp_carry_claims(kk_group_t *g);
/* Gives the claims of a new assignment the pause and seek their partitions had, then forgets
 * what was carried. */
void kk_grp_apply_carried(kk_group_t *g);

/* Before every join: the subscription's partition counts (what a change is measured against);
 * the first join also fails clearly on topics that do not exist. */
int kk_grp_check_subscription(kk_group_t *g, kk_error_t *err);
/* Whether the partition counts this member's assignment depends on have changed. */
bool kk_grp_partitions_changed(kk_group_t *g);

/* The leader's work: decode every member's subscription, look up the partition counts of all
 * their topics, run the assignor and encode each member's share. */
typedef struct leader_plan {
    kk_sync_assignment_in_t *assignments;
    kk_writer_t *buffers;
    size_t count;
} leader_plan_t;

/* The leader's list of every member's topics: valid names (1..249 bytes), each once, in order
 * of first appearance; *all points at the subscriptions' strings (free only the array). */
bool kk_grp_collect_topics(const kk_consumer_subscription_t *subs, size_t n, const char ***all,
                           size_t *count);
/* Partition counts of topics in md: 0 for a topic that does not exist, -1 for one whose
 * metadata reports another error. False when out of memory. */
bool kk_grp_lookup_counts(const kk_metadata_t *md, const char *const *topics, size_t n,
                          int32_t *counts);
int kk_grp_plan_assignment(kk_group_t *g, const kk_join_group_result_t *join, leader_plan_t *plan,
                           kk_error_t *err);
void kk_grp_leader_plan_free(leader_plan_t *plan);
/* Turns the assignment bytes into claims (only for topics we subscribed to). */
int kk_grp_take_assignment(kk_group_t *g, const uint8_t *data, size_t len, kk_error_t *err);

/* ---- group_offsets.c -------------------------------------------------------------------- */

/* The committed offsets of partitions[0..count) into *result (freed by the caller with
 * kk_partition_offsets_free, also on failure). */
int kk_grp_fetch_committed(kk_group_t *g, const kk_topic_partition_t *partitions, size_t count,
                           int64_t deadline, kk_partition_offsets_t *result, kk_error_t *err);
/* The committed offset for (topic, partition) in a fetch result (-1 when none). */
int kk_grp_committed_in(const kk_partition_offsets_t *res, const char *topic, int32_t partition,
                        int64_t *offset, kk_error_t *err);
/* Commits every claim whose consumed position is past its last commit. */
int kk_grp_commit_consumed(kk_group_t *g, int64_t deadline, kk_error_t *err);
/* The automatic commit, when one is due: KK_OK when none was due or it worked; also KK_OK with
 * *soft_failure set (and a warning logged) when it failed in a way the next rejoin or the next
 * interval mends; otherwise the error. */
int kk_grp_auto_commit(kk_group_t *g, bool *soft_failure, kk_error_t *err);

/* ---- group_membership.c ----------------------------------------------------------------- */

/* Gives up every claim before a rejoin (or on close): auto-commits first unless the
 * generation is known to be lost, then tells the application, then stops heartbeats. */
void kk_grp_revoke_claims(kk_group_t *g, bool lost);
/* Everything a call does before it fetches: act on the heartbeat thread's flags, (re)join,
 * start claims, auto-commit and watch partition counts. */
int kk_grp_maintain(kk_group_t *g, int64_t join_deadline, kk_error_t *err);
/* Sends LeaveGroup for the current member id, retrying until the deadline (classic static
 * members do not: their partitions wait for them until the session timeout). */
int kk_grp_leave(kk_group_t *g, int64_t deadline, kk_error_t *err);
/* Fetches the committed offsets of the claims that have no consumer yet, creates their
 * consumers and tells on_assign about the claims it has not seen. */
int kk_grp_start_claims(kk_group_t *g, int64_t deadline, kk_error_t *err);
/* Calls cb with partitions[0..n) (in_callback set). */
void kk_grp_call_back_with(kk_group_t *g, kk_rebalance_cb cb, const kk_topic_partition_t *parts,
                           size_t n);

/* ---- group_consumer.c ------------------------------------------------------------------- */

/* kk_grp_maintain for group_protocol consumer. */
int kk_grp_cg_maintain(kk_group_t *g, int64_t join_deadline, kk_error_t *err);
/* Leaves with epoch -1 (or -2 for a static member). */
int kk_grp_cg_leave(kk_group_t *g, int64_t deadline, kk_error_t *err);
/* The heartbeat thread's loop for group_protocol consumer. */
void *kk_grp_cg_heartbeat_main(void *arg);
/* Whether records fetched now may be handed out: false when the coordinator has fenced this
 * member (the next kk_grp_maintain gives its partitions up). */
bool kk_grp_cg_still_member(kk_group_t *g, kk_error_t *err);
/* The generation (member epoch for KIP-848) that commits carry. */
int32_t kk_grp_commit_generation(kk_group_t *g);

#endif
