/*
 * The asynchronous producer: kk_producer_produce queues messages for a background I/O thread,
 * which batches them per partition, sends Produce requests to every leader at once (up to
 * max_in_flight unanswered per broker), retries in order, and queues one report per message
 * for the application to drain on its own thread (kk_producer_poll, with an event fd).
 *
 * Locking: everything under "shared" in struct kk_engine is guarded by mu. Everything under
 * "I/O thread" is touched only by the I/O thread (and by kk_engine_free after it has stopped).
 * A message (pmsg_t) belongs to the caller until it is on the incoming list, to the I/O thread
 * until it is completed, then to the report list (or, for kk_producer_send, to its waiter).
 *
 * Connections: the engine has a client of its own (same options; no log callback and no
 * interrupt check, since those may call into a binding). Everything that waits on one broker
 * before the engine can use it runs on a job thread, never on the I/O thread, so that a broker
 * that accepts and then answers slowly (or a connect that hangs until its timeout) does not
 * stall the others: a broker's connect with its TLS and SASL handshakes and ApiVersions (the
 * blocking kk_conn_open, one job thread per connecting broker) or its SASL re-authentication
 * (KIP-368: before the session ends, while nothing is in flight), and the bootstrap requests,
 * Metadata and InitProducerId (one at a time, since they share the client's bootstrap
 * connection). A job owns what it works on (the broker's kk_conn_t; the client while a
 * bootstrap job runs) until it says it is done, under mu, and wakes the I/O thread, which then
 * joins it and takes its result; meanwhile the broker's batches wait (and age toward
 * delivery_timeout_ms). close interrupts the client's waker, which every job's waits watch,
 * and the I/O thread joins the jobs before it ends. Produce requests are written whole and
 * their answers read when poll() says a broker's socket is readable.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "error.h"
#include "partitioner.h"
#include "producer_internal.h"
#include "protocol.h"
#include "protocol_produce.h"
#include "record_batch.h"
#include "sasl.h"
#include "stats.h"

/* Broker codes the engine treats specially. */
enum {
    ERR_MESSAGE_TOO_LARGE = 10,
    ERR_OUT_OF_ORDER_SEQUENCE = 45,
    ERR_DUPLICATE_SEQUENCE = 46,
    ERR_INVALID_PRODUCER_EPOCH = 47,
    ERR_UNKNOWN_PRODUCER_ID = 59,
};

/* How often a waiting caller looks at the interrupt flag. */
#define WAIT_SLICE_MS 20
/* The I/O thread never sleeps longer than this (delivery timeouts, metadata retries). */
#define MAX_POLL_MS 100
/* A SASL session that ends within this is re-authenticated on a job thread before the next
 * request, so that the request itself never has to (on the I/O thread). */
#define REAUTH_AHEAD_MS 2000
/* The idempotent producer keeps at most this many requests unanswered per partition's broker
 * (the broker remembers the last 5 batches per producer for duplicate detection). */
#define IDEMPOTENT_MAX_IN_FLIGHT 5

typedef struct pmsg pmsg_t;
typedef struct topic topic_t;
typedef struct part part_t;
typedef struct batch batch_t;
typedef struct kk_sync kk_sync_t;

struct pmsg {
    pmsg_t *next;
    topic_t *topic;
    void *opaque;
    kk_release_cb release; /* NULL: key and value are copies in this allocation */
    const uint8_t *key;
    const uint8_t *value;
    kk_header_t *headers;
    size_t key_len;
    size_t value_len;
    uint32_t header_count;
    int32_t partition; /* asked for (-1: choose), then where it went */
    int64_t timestamp_ms;
    int64_t enqueue_ms; /* monotonic, for delivery_timeout_ms */
    int64_t offset;
    int error;
    uint32_t mem; /* what it counts against buffer_memory */
    bool routed;  /* partition says where it went */
    uint32_t sync_index;
    kk_sync_t *sync; /* kk_producer_send's: its result goes there, not to a report */
};

/* One kk_producer_send call: its messages' results are written into its array. */
struct kk_sync {
    kk_message_t *msgs;   /* NULL once the caller stopped waiting (interrupted) */
    size_t remaining;     /* messages without a result yet */
    size_t refs;          /* messages in the engine, + 1 while the caller holds it */
    kk_error_t detail;    /* the first client-side failure's own message */
    atomic_bool detached; /* the caller stopped waiting: what is not sent yet is dropped */
};

typedef struct msgq {
    pmsg_t *head, *tail;
    size_t count;
    size_t bytes;
} msgq_t;

static void q_push(msgq_t *q, pmsg_t *m, size_t bytes) {
    m->next = NULL;
    if (q->tail)
        q->tail->next = m;
    else
        q->head = m;
    q->tail = m;
    q->count++;
    q->bytes += bytes;
}

/* Moves everything in from to the end of q. */
static void q_append(msgq_t *q, msgq_t *from) {
    if (!from->head)
        return;
    if (q->tail)
        q->tail->next = from->head;
    else
        q->head = from->head;
    q->tail = from->tail;
    q->count += from->count;
    q->bytes += from->bytes;
    *from = (msgq_t){0};
}

/* A topic, interned by the callers (under mu; never freed before the engine). The engine's
 * fields below `next` are the I/O thread's. */
struct topic {
    char *name;
    topic_t *next;
    bool seen;          /* the I/O thread knows it (in its topics array) */
    int32_t part_count; /* 0 until metadata names its partitions */
    part_t **parts;
    int error;          /* the metadata's error for it, 0 when fine */
    int failed_tries;   /* metadata refreshes that failed while messages waited */
    int64_t wait_since; /* monotonic: when messages started waiting for its metadata */
    msgq_t waiting;     /* messages until the metadata knows the topic */
    int32_t sticky;     /* the partition keyless messages go to now; -1: choose again */
    kk_codec_t codec;
};

struct batch {
    batch_t *next;
    part_t *part;
    msgq_t msgs;
    int32_t base_seq;
    int attempts;   /* sends so far */
    bool sent;      /* sent at least once (the broker may hold its sequence) */
    int last_error; /* why the last try failed */
    int8_t magic;   /* of enc; -1 when not encoded */
    int64_t enc_pid;
    int16_t enc_epoch;
    int32_t enc_seq;
    kk_writer_t enc;
};

struct part {
    topic_t *topic;
    int32_t id;
    int32_t leader;
    msgq_t queue;          /* not yet in a batch */
    batch_t *retry;        /* batches to send again, by sequence; before anything new */
    int in_flight;         /* batches sent and not answered */
    int retries_in_flight; /* of those, batches sent again: nothing new goes out behind them */
    int32_t next_seq;
    int64_t backoff_until;
    int failed_tries; /* see charge_sync_try */
};

typedef struct request {
    batch_t **batches;
    size_t count;
    kk_pending_t pending;
    int64_t sent_ms;
} request_t;

typedef struct broker {
    int32_t id;
    kk_conn_t *conn; /* the I/O thread's; NULL until the first connect and while one runs */
    bool connecting; /* a job has the connection (see job_t) */
    request_t *reqs; /* a ring of max_in_flight */
    int head, n;
    int64_t retry_at; /* after a failed connect */
} broker_t;

/* What runs on a job thread: a broker's connect or SASL re-authentication, or a request on the
 * bootstrap connection. */
typedef enum job_kind { JOB_CONNECT, JOB_REAUTH, JOB_METADATA, JOB_PRODUCER_ID } job_kind_t;

typedef struct job job_t;
struct job {
    job_t *next; /* in the I/O thread's list of started jobs */
    kk_engine_t *e;
    job_kind_t kind;
    pthread_t thread;
    bool threaded; /* to be joined (false: it ran on the I/O thread, no thread to spare) */
    bool done;     /* under mu: the job thread touches nothing of the job after it (the engine
                    * outlives it: the I/O thread joins every job before it ends) */
    int rc;
    kk_error_t err;
    /* JOB_CONNECT, JOB_REAUTH: the broker's connection, opened or re-authenticated by the job */
    broker_t *broker;
    kk_conn_t *conn;
    /* JOB_METADATA: the names of the first name_count topics of etopics (the topics' own) */
    const char **names;
    size_t name_count;
    kk_metadata_t *md;
    /* JOB_PRODUCER_ID: decide (whether the brokers allow idempotence), then a producer id when
     * idempotent */
    bool decide;
    bool connected;
    bool idempotent;
    bool got_pid;
    int16_t pid_version;
    int64_t producer_id;
    int16_t producer_epoch;
};

struct kk_engine {
    kk_producer_t *p; /* settings: p->cfg, compressed topics (read only) */
    pid_t pid;
    pthread_t thread;
    bool thread_started;
    int wake_r, wake_w;   /* wakes the I/O thread */
    int event_r, event_w; /* readable while reports wait */
    atomic_bool wake_pending;
    atomic_int drop_answers; /* tests: answers to read and then treat as lost */
    /* The I/O thread is in poll(), not started or ended: it changes nothing it owns until it
     * leaves poll() (for a forked child: see forget_parent_engine). */
    atomic_bool io_quiet;

    /* shared, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv; /* progress: reports queued, room in the buffer, the thread stopped */
    msgq_t incoming;
    msgq_t reports;
    topic_t *topics;
    int64_t buffered;   /* bytes counted against buffer_memory */
    size_t outstanding; /* messages produced without a report queued yet */
    int flushers;
    /* kk_producer_flush was called at this coarse time: messages queued until then go without
     * lingering even after the call returned (a flush with timeout 0, as an event loop makes
     * it between waits, must not depend on the I/O thread seeing it in progress); -1: never */
    int64_t flush_before_ms;
    int space_waiters;  /* producers waiting for room in buffer_memory */
    bool full_signaled; /* the I/O thread was woken for a batch's worth of incoming */
    bool purge_queued;
    bool drop_detached; /* a kk_producer_send was interrupted */
    bool stop;          /* close: purge everything and end the thread */
    bool stopped;
    bool signaled;    /* a byte is in the event pipe */
    pmsg_t *returned; /* drained by the last poll; freed by the next */

    /* I/O thread */
    kk_client_t *client; /* a bootstrap job's while one runs (bootstrap_busy) */
    job_t *jobs;         /* started, not yet joined */
    struct pollfd *pfds; /* poll()'s array: the wake-up pipe, then pfd_brokers' sockets */
    broker_t **pfd_brokers;
    size_t pfds_cap;
    bool bootstrap_busy;
    int16_t pid_version; /* the bootstrap broker's InitProducerId version, -1: unknown */
    kk_metadata_t *md;
    bool md_stale;
    int64_t md_next_try;
    topic_t **etopics;
    size_t etopic_count;
    part_t **parts;
    size_t part_count;
    broker_t **brokers;
    size_t broker_count;
    kk_round_robin_t rr;
    msgq_t done;  /* completed this round, handed over under mu in one go */
    msgq_t taken; /* taken off incoming, being routed (in the engine, not on the stack, so that
                   * a child forked meanwhile still reaches them: forget_parent_engine) */
    int max_in_flight;
    bool idempotence_decided;
    bool idempotent;
    int64_t producer_id;
    int16_t producer_epoch;
    bool bump_needed; /* restart sequences with a new epoch once nothing is in flight */
    int64_t pid_next_try;
    int flushing;
    int64_t flushed_before; /* flush_before_ms as this round of the I/O thread saw it */
    int64_t incoming_due;   /* when the untaken incoming messages must be taken; -1: none */
    int64_t md_time;
    kk_error_t detail; /* the last client-side failure, for kk_producer_send's message */
    /* encode_batch's working space, kept from batch to batch: the records' descriptions and
     * the uncompressed records of a compressed batch */
    kk_record_in_t *enc_recs;
    size_t enc_recs_cap;
    kk_header_in_t *enc_hdrs;
    size_t enc_hdrs_cap;
    kk_writer_t enc_scratch;
};

/* The process an engine belongs to, without a getpid() system call per message: a fork
 * handler counts forks, and this process's pid is read again only after one. */
static atomic_uint fork_count;
static pthread_once_t fork_handler_once = PTHREAD_ONCE_INIT;
static void count_fork(void) { atomic_fetch_add(&fork_count, 1); }
static void install_fork_handler(void) { pthread_atfork(NULL, NULL, count_fork); }

static pid_t current_pid(void) {
    static _Thread_local unsigned seen = UINT32_MAX;
    static _Thread_local pid_t pid;
    unsigned now = atomic_load(&fork_count);
    if (now != seen) {
        pid = getpid();
        seen = now;
    }
    return pid;
}

/* Monotonic milliseconds at the clock tick's resolution (a few ms): cheap enough to read for
 * every message, fine for linger and delivery timeouts. */
static int64_t coarse_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int make_pipe(int fds[2]) {
    if (pipe(fds) != 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
        fcntl(fds[i], F_SETFD, FD_CLOEXEC);
    }
    return 0;
}

static void drain_fd(int fd) {
    char buf[64];
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
}

static void wake_engine(kk_engine_t *e) {
    if (!atomic_exchange(&e->wake_pending, true)) {
        ssize_t n = write(e->wake_w, "w", 1);
        (void)n;
    }
}

/* ---- completing messages ---------------------------------------------------------------- */

/* A message's key, value and header bytes, as stats() counts them. */
static size_t payload_bytes(const pmsg_t *m) {
    size_t bytes = m->key_len + m->value_len;
    for (uint32_t h = 0; h < m->header_count; h++)
        bytes += m->headers[h].key_len + m->headers[h].value_len;
    return bytes;
}

static void complete(kk_engine_t *e, pmsg_t *m, int error, int64_t offset, int32_t partition) {
    kk_metrics_t *metrics = e->p->client ? e->p->client->metrics : NULL;
    if (metrics && error) {
        kk_metrics_error(metrics, error);
    } else if (metrics) {
        kk_metrics_add(&metrics->messages_sent, 1);
        kk_metrics_add(&metrics->bytes_sent, payload_bytes(m));
    }
    m->error = error;
    m->offset = error ? -1 : offset;
    if (partition >= 0) {
        m->partition = partition;
        m->routed = true;
    }
    q_push(&e->done, m, 0);
}

/* Completes a queue's messages in order, the i-th at base_offset + i (-1: unknown). A
 * delivered queue joins the done list whole, counted once in the stats. */
static void complete_queue(kk_engine_t *e, msgq_t *q, int error, int64_t base_offset) {
    if (error || !q->head) {
        int64_t i = 0;
        for (pmsg_t *m = q->head, *next; m; m = next, i++) {
            next = m->next;
            complete(e, m, error, base_offset >= 0 ? base_offset + i : -1, -1);
        }
        *q = (msgq_t){0};
        return;
    }
    size_t bytes = 0;
    int64_t i = 0;
    for (pmsg_t *m = q->head; m; m = m->next, i++) {
        m->error = KK_OK;
        m->offset = base_offset >= 0 ? base_offset + i : -1;
        bytes += payload_bytes(m);
    }
    kk_metrics_t *metrics = e->p->client ? e->p->client->metrics : NULL;
    if (metrics) {
        kk_metrics_add(&metrics->messages_sent, (uint64_t)i);
        kk_metrics_add(&metrics->bytes_sent, bytes);
    }
    q_append(&e->done, q);
}

static void free_batch(batch_t *b) {
    kk_writer_free(&b->enc);
    free(b);
}

/* Hands the round's completed messages to the reports (or their kk_producer_send waiter). */
static void publish_done(kk_engine_t *e) {
    if (!e->done.head)
        return;
    pthread_mutex_lock(&e->mu);
    pmsg_t *m = e->done.head;
    bool reports = false;
    while (m) {
        pmsg_t *next = m->next;
        e->buffered -= m->mem;
        e->outstanding--;
        if (m->sync) {
            kk_sync_t *w = m->sync;
            if (w->msgs && m->error < 0 && w->detail.code == 0 && e->detail.code == m->error)
                w->detail = e->detail;
            if (w->msgs) {
                kk_message_t *out = &w->msgs[m->sync_index];
                out->error = m->error;
                out->offset = m->offset;
                out->result_partition = m->routed ? m->partition : -1;
            }
            w->remaining--;
            if (--w->refs == 0)
                free(w);
            free(m);
        } else {
            q_push(&e->reports, m, 0);
            reports = true;
        }
        m = next;
    }
    e->done = (msgq_t){0};
    if (reports && !e->signaled) {
        ssize_t n = write(e->event_w, "r", 1);
        (void)n;
        e->signaled = true;
    }
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

/* ---- topics, partitions, metadata -------------------------------------------------------- */

static size_t record_bytes(const pmsg_t *m) {
    size_t n = 24 + m->key_len + m->value_len;
    for (uint32_t i = 0; i < m->header_count; i++)
        n += m->headers[i].key_len + m->headers[i].value_len + 10;
    return n;
}

/* Fails the kk_producer_send messages of a queue with error, keeping the others in order:
 * kk_producer_send gives up after max_send_retries tries, where kk_producer_produce waits for
 * delivery_timeout_ms. */
static void fail_sync_in_queue(kk_engine_t *e, msgq_t *q, int error, bool sized) {
    msgq_t kept = {0};
    for (pmsg_t *m = q->head, *next; m; m = next) {
        next = m->next;
        if (m->sync)
            complete(e, m, error, -1, -1);
        else
            q_push(&kept, m, sized ? record_bytes(m) : 0);
    }
    *q = kept;
}

static bool is_detached(const pmsg_t *m) { return m->sync && atomic_load(&m->sync->detached); }

/* Drops (KK_ERR_INTERRUPTED) the messages of interrupted kk_producer_send calls that are not
 * sent yet, so that the caller may send them again without duplicates. */
static void drop_detached_queue(kk_engine_t *e, msgq_t *q, bool sized) {
    msgq_t kept = {0};
    for (pmsg_t *m = q->head, *next; m; m = next) {
        next = m->next;
        if (is_detached(m))
            complete(e, m, KK_ERR_INTERRUPTED, -1, -1);
        else
            q_push(&kept, m, sized ? record_bytes(m) : 0);
    }
    *q = kept;
}

static bool has_sync(const msgq_t *q) {
    for (const pmsg_t *m = q->head; m; m = m->next)
        if (m->sync)
            return true;
    return false;
}

static void fail_batch(kk_engine_t *e, batch_t *b, int error);

/* A try that could not even be made for this partition (no leader, no connection): after
 * max_send_retries of them its kk_producer_send messages fail with error. */
static void charge_sync_try(kk_engine_t *e, part_t *pt, int error) {
    if (!has_sync(&pt->queue) && !pt->retry)
        return;
    if (++pt->failed_tries <= e->p->cfg.max_send_retries)
        return;
    pt->failed_tries = 0;
    fail_sync_in_queue(e, &pt->queue, error, true);
    for (batch_t **at = &pt->retry; *at;) {
        batch_t *b = *at;
        if (has_sync(&b->msgs)) {
            *at = b->next;
            fail_batch(e, b, error);
        } else {
            at = &b->next;
        }
    }
}

static part_t *new_part(topic_t *t, int32_t id) {
    part_t *pt = calloc(1, sizeof(*pt));
    if (pt) {
        pt->topic = t;
        pt->id = id;
        pt->leader = -1;
    }
    return pt;
}

/* Takes the metadata's view of a topic: partition count (never shrinks), leaders, error. */
static void apply_topic_metadata(kk_engine_t *e, topic_t *t) {
    const kk_topic_info_t *info = kk_metadata_topic(e->md, t->name);
    if (!info) {
        t->error = 3; /* UNKNOWN_TOPIC_OR_PARTITION */
        return;
    }
    t->error = info->error_code;
    if (info->error_code != 0 || info->partition_count == 0) {
        if (info->error_code == 0)
            t->error = 5; /* LEADER_NOT_AVAILABLE: partitions not there yet */
        return;
    }
    int32_t count = (int32_t)info->partition_count;
    if (count > t->part_count) {
        part_t **grown = realloc(t->parts, (size_t)count * sizeof(*grown));
        part_t **all =
            realloc(e->parts, (e->part_count + (size_t)(count - t->part_count)) * sizeof(*all));
        if (grown)
            t->parts = grown;
        if (all)
            e->parts = all;
        if (!grown || !all)
            return;
        for (int32_t i = t->part_count; i < count; i++) {
            part_t *pt = new_part(t, i);
            if (!pt) {
                count = i;
                break;
            }
            t->parts[i] = pt;
            e->parts[e->part_count++] = pt;
        }
        t->part_count = count;
    }
    for (size_t i = 0; i < info->partition_count; i++) {
        const kk_partition_info_t *pi = &info->partitions[i];
        if (pi->partition >= 0 && pi->partition < t->part_count)
            t->parts[pi->partition]->leader = pi->leader;
    }
}

static void route(kk_engine_t *e, pmsg_t *m, int64_t now);

static void start_bootstrap_job(kk_engine_t *e, job_t *job);

/* Asks for the metadata of the topics known so far, on a job thread (metadata_done). */
static void refresh_metadata(kk_engine_t *e, int64_t now) {
    if (e->etopic_count == 0 || now < e->md_next_try || e->bootstrap_busy)
        return;
    job_t *job = calloc(1, sizeof(*job));
    const char **names = malloc(e->etopic_count * sizeof(*names));
    if (!job || !names) {
        free(job);
        free(names);
        return;
    }
    for (size_t i = 0; i < e->etopic_count; i++)
        names[i] = e->etopics[i]->name;
    job->kind = JOB_METADATA;
    job->names = names;
    job->name_count = e->etopic_count;
    e->md_stale = false; /* what makes it stale again while the job runs asks again after it */
    start_bootstrap_job(e, job);
}

/* A metadata request's result, for the first requested topics of etopics. */
static void metadata_done(kk_engine_t *e, int rc, kk_metadata_t *md, const kk_error_t *err,
                          size_t requested, int64_t now) {
    e->md_next_try = now + (e->p->cfg.retry_backoff_ms > 0 ? e->p->cfg.retry_backoff_ms : 1);
    if (rc != KK_OK) {
        e->md_stale = true;
        /* messages waiting for it fail by delivery_timeout_ms, or topic_wait_ms below;
         * kk_producer_send's after max_send_retries refreshes (at once when not retriable) */
        e->detail = *err;
        for (size_t i = 0; i < requested; i++) {
            topic_t *t = e->etopics[i];
            if (!t->waiting.head)
                continue;
            if (now - t->wait_since > e->p->cfg.topic_wait_ms && !kk_err_is_retriable(rc)) {
                complete_queue(e, &t->waiting, rc, -1);
            } else if (!kk_err_is_retriable(rc) || ++t->failed_tries > e->p->cfg.max_send_retries) {
                t->failed_tries = 0;
                fail_sync_in_queue(e, &t->waiting, rc, false);
            }
        }
        for (size_t i = 0; i < e->part_count; i++)
            if (!kk_err_is_retriable(rc))
                charge_sync_try(e, e->parts[i], rc);
        return;
    }
    kk_metadata_free(e->md);
    e->md = md;
    if (requested < e->etopic_count)
        e->md_stale = true; /* topics seen since the request: ask again */
    e->md_time = now;
    for (size_t i = 0; i < requested; i++) {
        topic_t *t = e->etopics[i];
        apply_topic_metadata(e, t);
        t->failed_tries = 0;
        for (int32_t j = 0; j < t->part_count; j++)
            if (t->parts[j]->leader < 0)
                charge_sync_try(e, t->parts[j], 5); /* LEADER_NOT_AVAILABLE */
        if (!t->waiting.head)
            continue;
        if (t->part_count > 0) {
            msgq_t q = t->waiting;
            t->waiting = (msgq_t){0};
            for (pmsg_t *m = q.head, *next; m; m = next) {
                next = m->next;
                route(e, m, now);
            }
        } else if ((t->error != 3 && t->error != 5) ||
                   now - t->wait_since > e->p->cfg.topic_wait_ms) {
            complete_queue(e, &t->waiting, t->error ? t->error : 3, -1);
        } else {
            e->md_stale = true; /* ask again after the backoff */
        }
    }
}

/* Picks a partition for keyless messages: the same one until its batch goes out (fewer,
 * fuller batches), then the next one with a leader. */
static int32_t sticky_partition(kk_engine_t *e, topic_t *t) {
    if (t->sticky >= 0 && t->sticky < t->part_count && t->parts[t->sticky]->leader >= 0)
        return t->sticky;
    int32_t stack[64];
    int32_t *avail = t->part_count <= 64 ? stack : malloc((size_t)t->part_count * sizeof(*avail));
    if (!avail)
        return 0;
    size_t n = 0;
    for (int32_t i = 0; i < t->part_count; i++)
        if (t->parts[i]->leader >= 0)
            avail[n++] = i;
    int32_t chosen = n ? kk_round_robin_next(&e->rr, avail, n)
                       : (int32_t)(e->rr.next++ % (uint32_t)t->part_count);
    if (avail != stack)
        free(avail);
    t->sticky = chosen;
    return chosen;
}

static int32_t round_robin_partition(kk_engine_t *e, topic_t *t) {
    int32_t saved = t->sticky;
    t->sticky = -1;
    int32_t chosen = sticky_partition(e, t);
    t->sticky = saved;
    return chosen;
}

static void route(kk_engine_t *e, pmsg_t *m, int64_t now) {
    topic_t *t = m->topic;
    if (!t->seen) {
        topic_t **grown = realloc(e->etopics, (e->etopic_count + 1) * sizeof(*grown));
        if (!grown) {
            complete(e, m, KK_ERR_NO_MEMORY, -1, -1);
            return;
        }
        e->etopics = grown;
        e->etopics[e->etopic_count++] = t;
        t->seen = true;
        t->sticky = -1;
        t->codec = kk_producer_codec_for_topic(e->p, t->name);
        if (e->md)
            apply_topic_metadata(e, t);
    }
    if (t->part_count == 0) {
        if (!t->waiting.head)
            t->wait_since = now;
        q_push(&t->waiting, m, 0);
        e->md_stale = true;
        return;
    }
    int32_t partition = m->partition;
    if (partition < 0) {
        if (m->key)
            partition =
                kk_partition_for_key(e->p->cfg.partitioner, m->key, m->key_len, t->part_count);
        else if (m->sync)
            partition = round_robin_partition(e, t); /* kk_producer_send's placement */
        else
            partition = sticky_partition(e, t);
    }
    if (partition < 0 || partition >= t->part_count) {
        complete(e, m, KK_ERR_INVALID_PARTITION, -1, -1);
        return;
    }
    m->partition = partition;
    m->routed = true;
    part_t *pt = t->parts[partition];
    q_push(&pt->queue, m, record_bytes(m));
    if (pt->leader < 0)
        e->md_stale = true;
    if (!m->key && m->partition == t->sticky && pt->queue.bytes >= (size_t)e->p->cfg.batch_size)
        t->sticky = -1;
}

/* ---- brokers and idempotence ----------------------------------------------------------- */

static broker_t *find_broker(kk_engine_t *e, int32_t id) {
    for (size_t i = 0; i < e->broker_count; i++)
        if (e->brokers[i]->id == id)
            return e->brokers[i];
    broker_t **grown = realloc(e->brokers, (e->broker_count + 1) * sizeof(*grown));
    if (!grown)
        return NULL;
    e->brokers = grown;
    broker_t *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->reqs = calloc((size_t)e->max_in_flight, sizeof(*b->reqs));
    if (!b->reqs) {
        free(b);
        return NULL;
    }
    b->id = id;
    e->brokers[e->broker_count++] = b;
    return b;
}

static size_t total_in_flight(const kk_engine_t *e) {
    size_t n = 0;
    for (size_t i = 0; i < e->broker_count; i++)
        n += (size_t)e->brokers[i]->n;
    return n;
}

/* On a job thread, with the client: connects to the bootstrap broker, decides (when asked)
 * whether the brokers allow idempotence, and gets a new producer id and epoch from
 * InitProducerId when the producer is idempotent. */
static int bootstrap_producer_id(kk_engine_t *e, job_t *job, kk_error_t *err) {
    int rc = kk_client_connect(e->client, err);
    if (rc != KK_OK)
        return rc;
    kk_conn_t *c = &e->client->bootstrap;
    job->connected = true;
    job->pid_version = kk_conn_version(c, KK_API_INIT_PRODUCER_ID);
    if (job->decide)
        job->idempotent = job->pid_version >= 0 && kk_conn_version(c, KK_API_PRODUCE) >= 3;
    if (!job->idempotent)
        return KK_OK;
    if (job->pid_version < 0)
        return kk_error_set(err, KK_ERR_UNSUPPORTED_VERSION, "no InitProducerId");
    kk_writer_t *w = kk_conn_begin(c, KK_API_INIT_PRODUCER_ID, job->pid_version);
    kk_encode_init_producer_id_request(w, job->pid_version, -1, -1);
    kk_reader_t r;
    rc = kk_conn_roundtrip(c, &r, err);
    if (rc != KK_OK)
        return rc;
    kk_init_producer_id_response_t resp;
    rc = kk_decode_init_producer_id_response(&r, job->pid_version, &resp, err);
    if (rc != KK_OK)
        return rc;
    if (resp.error_code != 0)
        return kk_error_set(err, resp.error_code, "InitProducerId: %s",
                            kk_err_name(resp.error_code));
    job->got_pid = true;
    job->producer_id = resp.producer_id;
    job->producer_epoch = resp.producer_epoch;
    return KK_OK;
}

/* Whether a try that failed with code may still have been appended: no answer (a connection
 * lost, a timeout on either side), or an answer that says it was (20). */
static bool maybe_written(int code) {
    return code < 0 || code == 7 /* REQUEST_TIMED_OUT */ || code == 13 /* NETWORK_EXCEPTION */ ||
           code == 20 /* NOT_ENOUGH_REPLICAS_AFTER_APPEND */;
}

/* The new epoch starts every partition at sequence 0. A batch whose last try ended without
 * the broker's word that it was not written (a lost connection or answer, a timeout) may be in
 * the log already, where the broker cannot recognise it under the new epoch: sending it again
 * could write it twice, so it fails with that error (as the Java client fails such batches).
 * The others are renumbered, in order. */
static void restart_sequences(kk_engine_t *e) {
    for (size_t i = 0; i < e->part_count; i++) {
        part_t *pt = e->parts[i];
        int32_t seq = 0;
        for (batch_t **at = &pt->retry; *at;) {
            batch_t *b = *at;
            if (b->sent && maybe_written(b->last_error)) {
                *at = b->next;
                complete_queue(e, &b->msgs, b->last_error ? b->last_error : KK_ERR_TIMED_OUT, -1);
                free_batch(b);
                continue;
            }
            b->base_seq = seq;
            seq += (int32_t)b->msgs.count;
            at = &b->next;
        }
        pt->next_seq = seq;
    }
    e->bump_needed = false;
}

/* A bootstrap_producer_id job's result. */
static void producer_id_done(kk_engine_t *e, const job_t *job, int64_t now) {
    if (job->connected)
        e->pid_version = job->pid_version;
    if (job->decide && job->connected) {
        e->idempotent = job->idempotent;
        e->idempotence_decided = true;
        e->producer_id = -1;
        e->producer_epoch = -1;
        if (e->idempotent && e->max_in_flight > IDEMPOTENT_MAX_IN_FLIGHT)
            e->max_in_flight = IDEMPOTENT_MAX_IN_FLIGHT; /* rings were sized larger: fine */
    }
    if (job->rc != KK_OK) {
        e->pid_next_try = now + e->p->cfg.retry_backoff_ms + 1;
        return;
    }
    if (job->got_pid) {
        e->producer_id = job->producer_id;
        e->producer_epoch = job->producer_epoch;
        if (e->bump_needed)
            restart_sequences(e);
    }
}

/* Decides once whether this producer is idempotent, and gets (or bumps) its producer id: a
 * new epoch of an idempotent (not transactional) producer needs no round trip, since its id
 * is its own: it bumps the epoch itself and the broker accepts sequence 0 of the higher epoch
 * (KIP-360, InitProducerId v3+ brokers); older brokers, or an epoch at its maximum, get a new
 * producer id from InitProducerId on the bootstrap broker, on a job thread. Returns true when
 * batches may be made and sent. */
static bool idempotence_ready(kk_engine_t *e, int64_t now) {
    bool decide = false;
    if (!e->idempotence_decided) {
        const kk_producer_config_t *cfg = &e->p->cfg;
        if (!cfg->enable_idempotence || cfg->required_acks != -1) {
            e->idempotence_decided = true;
            return true;
        }
        decide = true;
    } else {
        if (!e->idempotent)
            return true;
        if (e->producer_id >= 0 && !e->bump_needed)
            return true;
        if (e->bump_needed && total_in_flight(e) > 0)
            return false; /* every answer first: they settle which sequences the broker has */
        if (e->bump_needed && e->pid_version >= 3 && e->producer_id >= 0 &&
            e->producer_epoch < INT16_MAX) {
            e->producer_epoch++;
            restart_sequences(e);
            return true;
        }
    }
    if (now < e->pid_next_try || e->bootstrap_busy)
        return false;
    job_t *job = calloc(1, sizeof(*job));
    if (!job)
        return false;
    job->kind = JOB_PRODUCER_ID;
    job->decide = decide;
    job->idempotent = !decide; /* decided: idempotent, since it asks for an id */
    start_bootstrap_job(e, job);
    return false;
}

/* ---- batches and requests --------------------------------------------------------------- */

static int8_t magic_for(int16_t produce_version) {
    return produce_version >= 3 ? 2 : produce_version == 2 ? 1 : 0;
}

/* Takes up to batch_size bytes (at least one message) from the front of the queue. */
static batch_t *make_batch(kk_engine_t *e, part_t *pt) {
    batch_t *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->part = pt;
    b->magic = -1;
    kk_writer_init(&b->enc);
    size_t limit = (size_t)e->p->cfg.batch_size;
    while (pt->queue.head) {
        pmsg_t *m = pt->queue.head;
        size_t size = record_bytes(m);
        if (b->msgs.count > 0 && b->msgs.bytes + size > limit)
            break;
        pt->queue.head = m->next;
        if (!pt->queue.head)
            pt->queue.tail = NULL;
        pt->queue.count--;
        pt->queue.bytes -= size;
        q_push(&b->msgs, m, size);
    }
    /* without idempotence the sequence only orders retries; it is not sent */
    b->base_seq = pt->next_seq;
    pt->next_seq += (int32_t)b->msgs.count;
    if (pt->topic->sticky == pt->id)
        pt->topic->sticky = -1;
    return b;
}

/* Makes room for n items of size each in *array (of *cap), keeping what it holds. */
static bool reserve_items(void **array, size_t *cap, size_t n, size_t size) {
    if (n <= *cap)
        return true;
    size_t grown_cap = *cap ? *cap : 64;
    while (grown_cap < n)
        grown_cap *= 2;
    void *grown = realloc(*array, grown_cap * size);
    if (!grown)
        return false;
    *array = grown;
    *cap = grown_cap;
    return true;
}

static int encode_batch(kk_engine_t *e, batch_t *b, int8_t magic, kk_error_t *err) {
    bool idem = e->idempotent && magic == 2;
    if (b->magic == magic &&
        (!idem || (b->enc_pid == e->producer_id && b->enc_epoch == e->producer_epoch &&
                   b->enc_seq == b->base_seq)))
        return KK_OK;
    if (b->magic != magic) {
        size_t header_total = 0;
        for (pmsg_t *m = b->msgs.head; m; m = m->next)
            header_total += m->header_count;
        if (!reserve_items((void **)&e->enc_recs, &e->enc_recs_cap, b->msgs.count,
                           sizeof(*e->enc_recs)) ||
            !reserve_items((void **)&e->enc_hdrs, &e->enc_hdrs_cap, header_total,
                           sizeof(*e->enc_hdrs)))
            return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
        kk_record_in_t *recs = e->enc_recs;
        kk_header_in_t *hdrs = e->enc_hdrs;
        size_t i = 0, h = 0;
        for (pmsg_t *m = b->msgs.head; m; m = m->next, i++) {
            recs[i] = (kk_record_in_t){.key = m->key,
                                       .key_len = m->key_len,
                                       .value = m->value,
                                       .value_len = m->value_len,
                                       .timestamp_ms = m->timestamp_ms,
                                       .headers = m->header_count ? hdrs + h : NULL,
                                       .header_count = m->header_count};
            for (uint32_t j = 0; j < m->header_count; j++)
                hdrs[h++] = (kk_header_in_t){m->headers[j].key, m->headers[j].key_len,
                                             m->headers[j].value, m->headers[j].value_len};
        }
        kk_writer_reset(&b->enc);
        int rc = kk_records_encode_with(&b->enc, &e->enc_scratch, magic, b->part->topic->codec,
                                        recs, b->msgs.count, err);
        /* kept for the next batch, unless a record far over batch_size made it that big
         * (a batch_size of records holds at most batch_size / 24 of them: record_bytes) */
        size_t batch_size = (size_t)e->p->cfg.batch_size;
        if (e->enc_scratch.cap > 2 * batch_size)
            kk_writer_free(&e->enc_scratch);
        if (e->enc_recs_cap > 2 * (batch_size / 24 + 1)) {
            free(e->enc_recs);
            e->enc_recs = NULL;
            e->enc_recs_cap = 0;
        }
        if (rc != KK_OK) {
            b->magic = -1;
            return rc;
        }
        b->magic = magic;
        b->enc_pid = -1;
        b->enc_epoch = -1;
        b->enc_seq = -1;
    }
    if (idem) {
        kk_record_batch_set_producer(b->enc.data, b->enc.len, e->producer_id, e->producer_epoch,
                                     b->base_seq);
        b->enc_pid = e->producer_id;
        b->enc_epoch = e->producer_epoch;
        b->enc_seq = b->base_seq;
    }
    return KK_OK;
}

static int64_t oldest_enqueue(const batch_t *b) {
    return b->msgs.head ? b->msgs.head->enqueue_ms : 0;
}

/* Fails a batch for good. A batch the broker may have seen leaves a hole in the partition's
 * sequence: the idempotent producer then starts a new epoch before sending more. */
static void fail_batch(kk_engine_t *e, batch_t *b, int error) {
    if (e->idempotent && b->sent)
        e->bump_needed = true;
    complete_queue(e, &b->msgs, error, -1);
    free_batch(b);
}

static void insert_retry(part_t *pt, batch_t *b) {
    batch_t **at = &pt->retry;
    while (*at && (*at)->base_seq < b->base_seq)
        at = &(*at)->next;
    b->next = *at;
    *at = b;
}

/* A batch that failed retriably: back in front of its partition's queue, in sequence order,
 * unless out of tries or time. */
static void retry_batch(kk_engine_t *e, batch_t *b, int error, int64_t now) {
    const kk_producer_config_t *cfg = &e->p->cfg;
    if (b->attempts > cfg->max_send_retries ||
        now - oldest_enqueue(b) >= cfg->delivery_timeout_ms) {
        fail_batch(e, b, error);
        return;
    }
    part_t *pt = b->part;
    if (e->p->client && e->p->client->metrics)
        kk_metrics_add(&e->p->client->metrics->retries, 1);
    b->last_error = error;
    insert_retry(pt, b);
    pt->backoff_until = now + cfg->retry_backoff_ms;
    e->md_stale = true;
}

static bool part_ready(const kk_engine_t *e, const part_t *pt, int64_t now) {
    if (pt->retries_in_flight > 0)
        return false; /* a retry is acknowledged before anything follows it */
    if (pt->retry)
        return pt->in_flight == 0 && now >= pt->backoff_until;
    if (!pt->queue.head || now < pt->backoff_until)
        return false;
    return e->flushing || pt->queue.head->enqueue_ms <= e->flushed_before ||
           pt->queue.bytes >= (size_t)e->p->cfg.batch_size ||
           now - pt->queue.head->enqueue_ms >= e->p->cfg.linger_ms;
}

/* A batch sent is no longer in flight (answered, or its connection is gone). */
static void landed(batch_t *bt) {
    bt->part->in_flight--;
    if (bt->attempts > 1)
        bt->part->retries_in_flight--;
}

/* Drops a broker's connection: every request it had unanswered is retried. */
static void broker_failed(kk_engine_t *e, broker_t *b, int error, int64_t now) {
    if (b->conn)
        kk_conn_close(b->conn);
    while (b->n > 0) {
        request_t *rq = &b->reqs[b->head];
        for (size_t i = 0; i < rq->count; i++) {
            landed(rq->batches[i]);
            if (kk_err_is_retriable(error) || error == KK_ERR_NOT_CONNECTED)
                retry_batch(e, rq->batches[i], error, now);
            else
                fail_batch(e, rq->batches[i], error);
        }
        free(rq->batches);
        rq->batches = NULL;
        b->head = (b->head + 1) % e->max_in_flight;
        b->n--;
    }
    b->head = 0;
    e->md_stale = true;
}

static int compare_batch_topic(const void *x, const void *y) {
    const batch_t *a = *(batch_t *const *)x, *b = *(batch_t *const *)y;
    if (a->part->topic != b->part->topic)
        return strcmp(a->part->topic->name, b->part->topic->name);
    return (a->part->id > b->part->id) - (a->part->id < b->part->id);
}

static void start_connect(kk_engine_t *e, broker_t *b, int64_t now);
static void start_reauth(kk_engine_t *e, broker_t *b);

/* Builds and sends one Produce request to broker b from its ready partitions. False when
 * there was nothing to send (or the connection failed). */
static bool send_one(kk_engine_t *e, broker_t *b, int64_t now) {
    const kk_producer_config_t *cfg = &e->p->cfg;
    size_t cap = 16, n = 0, bytes = 0, max_bytes = (size_t)cfg->max_request_bytes - 512;
    batch_t **batches = NULL;
    int16_t version = -1;
    int8_t magic = 2;
    kk_error_t err;
    for (size_t i = 0; i < e->part_count; i++) {
        part_t *pt = e->parts[i];
        if (pt->leader != b->id || !part_ready(e, pt, now))
            continue;
        size_t estimate =
            pt->retry ? (pt->retry->enc.len ? pt->retry->enc.len : pt->retry->msgs.bytes)
                      : (pt->queue.bytes < (size_t)cfg->batch_size ? pt->queue.bytes
                                                                   : (size_t)cfg->batch_size);
        if (n > 0 && bytes + estimate > max_bytes)
            break;
        if (!b->conn || !kk_conn_is_open(b->conn)) {
            /* (n is 0 here: an open connection stays open until the request is sent) */
            start_connect(e, b, now);
            free(batches);
            return false;
        }
        if (n == 0 && kk_conn_reauth_due(b->conn, REAUTH_AHEAD_MS)) {
            start_reauth(e, b);
            free(batches);
            return false;
        }
        if (version < 0) {
            version = kk_conn_version(b->conn, KK_API_PRODUCE);
            if (version < 0) {
                free(batches);
                return false;
            }
            magic = magic_for(version);
        }
        batch_t *bt;
        if (pt->retry) {
            bt = pt->retry;
            pt->retry = bt->next;
            bt->next = NULL;
        } else {
            bt = make_batch(e, pt);
            if (!bt)
                break;
        }
        if (encode_batch(e, bt, magic, &err) != KK_OK) {
            fail_batch(e, bt, err.code);
            continue;
        }
        if (!batches || n == cap) {
            if (batches)
                cap *= 2;
            batch_t **grown = realloc(batches, cap * sizeof(*grown));
            if (!grown) {
                retry_batch(e, bt, KK_ERR_NO_MEMORY, now);
                break;
            }
            batches = grown;
        }
        batches[n++] = bt;
        bytes += bt->enc.len;
    }
    if (n == 0) {
        free(batches);
        return false;
    }
    qsort(batches, n, sizeof(*batches), compare_batch_topic);
    kk_produce_partition_in_t *pin = malloc(n * sizeof(*pin));
    kk_produce_topic_in_t *tin = malloc(n * sizeof(*tin));
    if (!pin || !tin) {
        free(pin);
        free(tin);
        for (size_t i = 0; i < n; i++)
            retry_batch(e, batches[i], KK_ERR_NO_MEMORY, now);
        free(batches);
        return false;
    }
    size_t tc = 0;
    for (size_t i = 0; i < n; i++) {
        batch_t *bt = batches[i];
        pin[i] = (kk_produce_partition_in_t){bt->part->id, bt->enc.data, bt->enc.len};
        if (tc == 0 || tin[tc - 1].topic != bt->part->topic->name)
            tin[tc++] = (kk_produce_topic_in_t){bt->part->topic->name, &pin[i], 0};
        tin[tc - 1].partition_count++;
        bt->attempts++;
        bt->sent = true;
    }
    kk_writer_t *w = kk_conn_begin(b->conn, KK_API_PRODUCE, version);
    kk_encode_produce_request(w, version, cfg->required_acks, cfg->ack_timeout_ms, tin, tc);
    free(pin);
    free(tin);
    if (cfg->required_acks == 0) {
        int rc = kk_conn_send_only(b->conn, &err);
        for (size_t i = 0; i < n; i++) {
            if (rc == KK_OK) {
                complete_queue(e, &batches[i]->msgs, KK_OK, -1);
                free_batch(batches[i]);
            } else {
                retry_batch(e, batches[i], rc, now);
            }
        }
        free(batches);
        if (rc != KK_OK) {
            e->detail = err;
            broker_failed(e, b, rc, now);
        }
        return rc == KK_OK;
    }
    request_t *rq = &b->reqs[(b->head + b->n) % e->max_in_flight];
    *rq = (request_t){batches, n, {0, 0, 0}, now};
    for (size_t i = 0; i < n; i++) {
        batches[i]->part->in_flight++;
        if (batches[i]->attempts > 1)
            batches[i]->part->retries_in_flight++;
    }
    b->n++;
    int rc = kk_conn_send(b->conn, &rq->pending, &err);
    if (rc != KK_OK) {
        e->detail = err;
        broker_failed(e, b, rc, now);
        return false;
    }
    return true;
}

/* Is this batch the oldest of its partition the broker has not acknowledged? */
static bool lowest_outstanding(const kk_engine_t *e, const batch_t *bt) {
    const part_t *pt = bt->part;
    if (pt->retry && pt->retry->base_seq < bt->base_seq)
        return false;
    for (size_t i = 0; i < e->broker_count; i++) {
        const broker_t *b = e->brokers[i];
        for (int k = 0; k < b->n; k++) {
            const request_t *rq = &b->reqs[(b->head + k) % e->max_in_flight];
            for (size_t j = 0; j < rq->count; j++)
                if (rq->batches[j] && rq->batches[j]->part == pt &&
                    rq->batches[j]->base_seq < bt->base_seq)
                    return false;
        }
    }
    return true;
}

/* A batch the broker refused as larger than the topic's max.message.bytes, holding several
 * records: two batches of half its records each, sent again in its place (as the Java client
 * does), so that a batch_size above the topic's limit costs a retry, not the messages. The
 * broker wrote nothing of it: the halves take its sequence numbers, first half first. Each
 * split halves again until a batch fits or holds a single record, which then fails. */
static bool split_batch(batch_t *bt) {
    size_t half = bt->msgs.count / 2;
    batch_t *second = calloc(1, sizeof(*second));
    if (!second)
        return false;
    *second = (batch_t){
        .part = bt->part, .magic = -1, .sent = bt->sent, .last_error = ERR_MESSAGE_TOO_LARGE};
    kk_writer_init(&second->enc);
    pmsg_t *last_kept = bt->msgs.head;
    for (size_t i = 1; i < half; i++)
        last_kept = last_kept->next;
    for (pmsg_t *m = last_kept->next; m; m = m->next)
        second->msgs.bytes += record_bytes(m);
    second->msgs =
        (msgq_t){last_kept->next, bt->msgs.tail, bt->msgs.count - half, second->msgs.bytes};
    last_kept->next = NULL;
    bt->msgs = (msgq_t){bt->msgs.head, last_kept, half, bt->msgs.bytes - second->msgs.bytes};
    second->base_seq = bt->base_seq + (int32_t)half;
    /* new batches, not retries: the first goes out once nothing of the partition is in
     * flight, the second behind it (insert_retry keeps them in sequence order) */
    bt->attempts = 0;
    bt->last_error = ERR_MESSAGE_TOO_LARGE;
    bt->magic = -1;
    kk_writer_reset(&bt->enc);
    insert_retry(bt->part, second);
    insert_retry(bt->part, bt);
    return true;
}

static void settle_batch(kk_engine_t *e, batch_t *bt, int code, int64_t base_offset, int64_t now) {
    part_t *pt = bt->part;
    landed(bt);
    if (code == 0 || (code == ERR_DUPLICATE_SEQUENCE && e->idempotent)) {
        /* a duplicate: the broker has this batch already, from a try whose answer was lost */
        complete_queue(e, &bt->msgs, KK_OK, code == 0 ? base_offset : -1);
        free_batch(bt);
        return;
    }
    if (e->idempotent && (code == ERR_UNKNOWN_PRODUCER_ID || code == ERR_INVALID_PRODUCER_EPOCH ||
                          (code == ERR_OUT_OF_ORDER_SEQUENCE && lowest_outstanding(e, bt)))) {
        /* The broker lost (or never had) our state for this partition, or an earlier batch
         * it has not seen failed for good: a new epoch restarts the sequences (KIP-360). An
         * out-of-order answer behind a batch that is being retried only needs the retry. */
        e->bump_needed = true;
        retry_batch(e, bt, code, now);
        return;
    }
    if (kk_err_is_retriable(code) || (e->idempotent && code == ERR_OUT_OF_ORDER_SEQUENCE)) {
        retry_batch(e, bt, code, now);
        return;
    }
    if (code == ERR_MESSAGE_TOO_LARGE && bt->msgs.count > 1 && split_batch(bt))
        return;
    (void)pt;
    fail_batch(e, bt, code);
}

/* Reads the answer to the oldest request unanswered on b. */
static void receive_one(kk_engine_t *e, broker_t *b, int64_t now) {
    request_t *rq = &b->reqs[b->head];
    kk_error_t err;
    kk_reader_t r;
    int rc = kk_conn_receive(b->conn, &rq->pending,
                             e->p->cfg.ack_timeout_ms + b->conn->opts.request_timeout_ms, &r, &err);
    kk_produce_response_t resp;
    if (rc == KK_OK) {
        rc = kk_decode_produce_response(&r, rq->pending.version, &resp, &err);
        if (rc != KK_OK)
            kk_conn_close(b->conn);
    }
    if (rc == KK_OK && atomic_load(&e->drop_answers) > 0) {
        atomic_fetch_sub(&e->drop_answers, 1);
        kk_produce_response_free(&resp);
        rc = kk_error_set(&err, KK_ERR_CONNECTION_CLOSED, "an answer dropped by the test hook");
    }
    if (rc != KK_OK) {
        e->detail = err;
        broker_failed(e, b, rc, now);
        return;
    }
    b->head = (b->head + 1) % e->max_in_flight;
    b->n--;
    for (size_t i = 0; i < rq->count; i++) {
        batch_t *bt = rq->batches[i];
        const kk_produce_partition_result_t *res =
            kk_produce_response_find(&resp, bt->part->topic->name, bt->part->id);
        if (!res)
            settle_batch(e, bt, KK_ERR_MALFORMED, -1, now);
        else if (res->error_code == 0 &&
                 res->base_offset > INT64_MAX - ((int64_t)bt->msgs.count - 1))
            settle_batch(e, bt, KK_ERR_MALFORMED, -1, now);
        else
            settle_batch(e, bt, res->error_code, res->base_offset, now);
    }
    kk_produce_response_free(&resp);
    free(rq->batches);
    rq->batches = NULL;
}

/* ---- jobs: what waits on one broker, off the I/O thread ---------------------------------- */

static void *job_main(void *arg) {
    job_t *job = arg;
    kk_engine_t *e = job->e;
    kk_error_clear(&job->err);
    switch (job->kind) {
    case JOB_CONNECT:
        job->rc = kk_conn_open(job->conn, &job->err);
        break;
    case JOB_REAUTH:
        job->rc = kk_conn_reauthenticate(job->conn, &job->err);
        break;
    case JOB_METADATA:
        job->rc = kk_client_metadata(e->client, job->names, job->name_count, &job->md, &job->err);
        break;
    case JOB_PRODUCER_ID:
        job->rc = bootstrap_producer_id(e, job, &job->err);
        break;
    }
    pthread_mutex_lock(&e->mu);
    job->done = true;
    pthread_mutex_unlock(&e->mu);
    wake_engine(e);
    return NULL;
}

/* Starts a job on a thread of its own (which inherits the I/O thread's blocked signals). */
static void start_job(kk_engine_t *e, job_t *job) {
    job->e = e;
    job->next = e->jobs;
    e->jobs = job;
    job->threaded = pthread_create(&job->thread, NULL, job_main, job) == 0;
    if (!job->threaded)
        job_main(job); /* no thread to spare: blocking, as before there were jobs */
}

/* Metadata and InitProducerId: one at a time, since they share the client. */
static void start_bootstrap_job(kk_engine_t *e, job_t *job) {
    e->bootstrap_busy = true;
    start_job(e, job);
}

/* A connect that could not be made (or not even begun): tried again after the backoff. */
static void connect_failed(kk_engine_t *e, broker_t *b, const kk_error_t *err, int64_t now) {
    b->retry_at = now + e->p->cfg.retry_backoff_ms + 1;
    e->md_stale = true;
    e->detail = *err;
    for (size_t j = 0; j < e->part_count; j++)
        if (e->parts[j]->leader == b->id)
            charge_sync_try(e, e->parts[j], err->code);
}

/* Hands broker b's connection to a job that opens it, at the address the metadata gives. */
static void start_connect(kk_engine_t *e, broker_t *b, int64_t now) {
    if (b->connecting || now < b->retry_at)
        return;
    const kk_broker_info_t *info = e->md ? kk_metadata_broker(e->md, b->id) : NULL;
    if (!info) {
        kk_error_t err;
        kk_error_set(&err, KK_ERR_UNKNOWN_BROKER, "broker %d is not in the cluster metadata",
                     (int)b->id);
        connect_failed(e, b, &err, now);
        return;
    }
    job_t *job = calloc(1, sizeof(*job));
    if (!job)
        return;
    kk_conn_t *conn = b->conn;
    if (conn && (strcmp(conn->host, info->host) != 0 || conn->port != info->port)) {
        /* the broker moved: a connection to its new address */
        b->conn = NULL;
        kk_conn_destroy(conn);
        free(conn);
        conn = NULL;
    }
    if (!conn) {
        conn = malloc(sizeof(*conn));
        if (!conn) {
            free(job);
            return;
        }
        kk_conn_init(conn, info->host, info->port, &e->client->conn_opts);
    }
    job->kind = JOB_CONNECT;
    job->broker = b;
    job->conn = conn;
    b->conn = NULL; /* the job's until it is done */
    b->connecting = true;
    start_job(e, job);
}

/* Hands broker b's connection, open with nothing in flight, to a job that re-authenticates it
 * (which the next request would otherwise do first, on this thread). */
static void start_reauth(kk_engine_t *e, broker_t *b) {
    job_t *job = calloc(1, sizeof(*job));
    if (!job)
        return; /* the next request re-authenticates it */
    job->kind = JOB_REAUTH;
    job->broker = b;
    job->conn = b->conn;
    b->conn = NULL;
    b->connecting = true;
    start_job(e, job);
}

/* Takes a finished job's result (on the I/O thread) and frees it. */
static void job_done(kk_engine_t *e, job_t *job, int64_t now) {
    if (job->threaded)
        pthread_join(job->thread, NULL);
    switch (job->kind) {
    case JOB_CONNECT:
    case JOB_REAUTH:
        job->broker->conn = job->conn;
        job->broker->connecting = false;
        if (job->rc != KK_OK)
            connect_failed(e, job->broker, &job->err, now);
        break;
    case JOB_METADATA:
        e->bootstrap_busy = false;
        metadata_done(e, job->rc, job->md, &job->err, job->name_count, now);
        free(job->names);
        break;
    case JOB_PRODUCER_ID:
        e->bootstrap_busy = false;
        producer_id_done(e, job, now);
        break;
    }
    free(job);
}

/* Takes the jobs that have finished; with wait (when the engine stops: close has interrupted
 * the client, which ends every job's waits), all of them, without using their results. */
static void collect_jobs(kk_engine_t *e, bool wait) {
    if (!e->jobs)
        return;
    job_t *finished = NULL;
    pthread_mutex_lock(&e->mu);
    for (job_t **at = &e->jobs; *at;) {
        job_t *job = *at;
        if (job->done || wait) {
            *at = job->next;
            job->next = finished;
            finished = job;
        } else {
            at = &job->next;
        }
    }
    pthread_mutex_unlock(&e->mu);
    int64_t now = kk_monotonic_ms();
    while (finished) {
        job_t *job = finished;
        finished = job->next;
        if (!wait) {
            job_done(e, job, now);
            continue;
        }
        if (job->threaded)
            pthread_join(job->thread, NULL);
        if (job->kind == JOB_CONNECT || job->kind == JOB_REAUTH) {
            job->broker->conn = job->conn;
            job->broker->connecting = false;
        }
        kk_metadata_free(job->md);
        free(job->names);
        free(job);
    }
}

/* ---- the I/O thread --------------------------------------------------------------------- */

static void expire_queue(kk_engine_t *e, msgq_t *q, int64_t now, size_t (*size)(const pmsg_t *)) {
    int64_t limit = e->p->cfg.delivery_timeout_ms;
    while (q->head && now - q->head->enqueue_ms >= limit) {
        pmsg_t *m = q->head;
        q->head = m->next;
        if (!q->head)
            q->tail = NULL;
        q->count--;
        q->bytes -= size ? size(m) : 0;
        complete(e, m, KK_ERR_TIMED_OUT, -1, -1);
    }
}

static void expire(kk_engine_t *e, int64_t now) {
    for (size_t i = 0; i < e->etopic_count; i++)
        expire_queue(e, &e->etopics[i]->waiting, now, NULL);
    for (size_t i = 0; i < e->part_count; i++) {
        part_t *pt = e->parts[i];
        expire_queue(e, &pt->queue, now, record_bytes);
        while (pt->retry && now - oldest_enqueue(pt->retry) >= e->p->cfg.delivery_timeout_ms) {
            batch_t *bt = pt->retry;
            pt->retry = bt->next;
            fail_batch(e, bt, KK_ERR_TIMED_OUT);
        }
    }
    for (size_t i = 0; i < e->broker_count; i++) {
        broker_t *b = e->brokers[i];
        if (b->n > 0 &&
            now - b->reqs[b->head].sent_ms >
                (int64_t)e->client->conn_opts.request_timeout_ms + e->p->cfg.ack_timeout_ms)
            broker_failed(e, b, KK_ERR_TIMED_OUT, now);
    }
}

/* Fails what is not yet sent (and, when all, what is unanswered) with KK_ERR_PURGED. */
static void purge(kk_engine_t *e, bool all) {
    for (size_t i = 0; i < e->etopic_count; i++)
        complete_queue(e, &e->etopics[i]->waiting, KK_ERR_PURGED, -1);
    for (size_t i = 0; i < e->part_count; i++) {
        part_t *pt = e->parts[i];
        complete_queue(e, &pt->queue, KK_ERR_PURGED, -1);
        while (pt->retry) {
            batch_t *bt = pt->retry;
            pt->retry = bt->next;
            fail_batch(e, bt, KK_ERR_PURGED);
        }
    }
    if (!all)
        return;
    for (size_t i = 0; i < e->broker_count; i++) {
        broker_t *b = e->brokers[i];
        if (b->conn)
            kk_conn_close(b->conn);
        while (b->n > 0) {
            request_t *rq = &b->reqs[b->head];
            for (size_t j = 0; j < rq->count; j++) {
                landed(rq->batches[j]);
                fail_batch(e, rq->batches[j], KK_ERR_PURGED);
            }
            free(rq->batches);
            rq->batches = NULL;
            b->head = (b->head + 1) % e->max_in_flight;
            b->n--;
        }
    }
}

static bool anything_queued(const kk_engine_t *e) {
    for (size_t i = 0; i < e->etopic_count; i++)
        if (e->etopics[i]->waiting.head)
            return true;
    for (size_t i = 0; i < e->part_count; i++)
        if (e->parts[i]->queue.head || e->parts[i]->retry)
            return true;
    return false;
}

static broker_t *broker_for_leader(kk_engine_t *e, int32_t leader) {
    if (leader < 0 || !e->md || !kk_metadata_broker(e->md, leader))
        return NULL;
    return find_broker(e, leader);
}

/* How long poll() may sleep: until the first linger or backoff deadline, at most MAX_POLL_MS. */
static int poll_timeout(kk_engine_t *e, int64_t now) {
    int64_t wake = now + MAX_POLL_MS;
    for (size_t i = 0; i < e->part_count; i++) {
        const part_t *pt = e->parts[i];
        if (!pt->queue.head && !pt->retry)
            continue;
        if (pt->leader < 0 || pt->retries_in_flight > 0)
            continue; /* metadata retries, or the retry's answer, wake us */
        int64_t at;
        if (pt->backoff_until > now)
            at = pt->backoff_until;
        else if (pt->retry)
            continue; /* waits for its in-flight answers */
        else if (e->flushing || pt->queue.head->enqueue_ms <= e->flushed_before ||
                 pt->queue.bytes >= (size_t)e->p->cfg.batch_size)
            continue; /* ready now: either sent already or its broker is full (answers wake us) */
        else
            at = pt->queue.head->enqueue_ms + e->p->cfg.linger_ms;
        if (at < wake)
            wake = at;
    }
    if ((e->md_stale && e->etopic_count) || (e->idempotent && e->bump_needed)) {
        int64_t at = e->md_next_try > e->pid_next_try ? e->md_next_try : e->pid_next_try;
        if (at > now && at < wake)
            wake = at;
    }
    if (e->incoming_due >= 0 && e->incoming_due < wake)
        wake = e->incoming_due;
    int64_t ms = wake - now;
    return ms < 1 ? 1 : ms > MAX_POLL_MS ? MAX_POLL_MS : (int)ms;
}

static void *engine_main(void *arg) {
    kk_engine_t *e = arg;
    atomic_store(&e->io_quiet, false);
    for (;;) {
        int64_t now = kk_monotonic_ms();
        drain_fd(e->wake_r);
        atomic_store(&e->wake_pending, false);
        pthread_mutex_lock(&e->mu);
        bool stop = e->stop, purge_queued = e->purge_queued, drop_detached = e->drop_detached;
        e->purge_queued = false;
        e->drop_detached = false;
        e->flushing = e->flushers > 0 || e->space_waiters > 0 || stop;
        e->flushed_before = e->flush_before_ms;
        /* New messages are taken once a batch's worth is there or the oldest has lingered:
         * producers wake this thread only for the first message of a round and for a full
         * batch, not for every message. */
        e->incoming_due = -1;
        if (e->incoming.head) {
            if (e->flushing || purge_queued || drop_detached ||
                e->incoming.head->enqueue_ms <= e->flushed_before ||
                e->incoming.bytes >= (size_t)e->p->cfg.batch_size ||
                now - e->incoming.head->enqueue_ms >= e->p->cfg.linger_ms) {
                e->taken = e->incoming;
                e->incoming = (msgq_t){0};
                e->full_signaled = false;
            } else {
                e->incoming_due = e->incoming.head->enqueue_ms + e->p->cfg.linger_ms;
            }
        }
        pthread_mutex_unlock(&e->mu);

        while (e->taken.head) {
            pmsg_t *m = e->taken.head;
            e->taken.head = m->next;
            route(e, m, now);
        }
        e->taken = (msgq_t){0};
        if (stop) {
            purge(e, true);
            publish_done(e);
            break;
        }
        collect_jobs(e, false);
        if (purge_queued)
            purge(e, false);
        if (drop_detached) {
            for (size_t i = 0; i < e->etopic_count; i++)
                drop_detached_queue(e, &e->etopics[i]->waiting, false);
            for (size_t i = 0; i < e->part_count; i++)
                drop_detached_queue(e, &e->parts[i]->queue, true);
        }
        if (e->md && now - e->md_time > e->p->cfg.metadata_refresh_interval_ms)
            e->md_stale = true;
        if (e->md_stale || !e->md)
            refresh_metadata(e, now);
        now = kk_monotonic_ms();
        expire(e, now);
        if (anything_queued(e) && idempotence_ready(e, now)) {
            for (size_t i = 0; i < e->part_count; i++)
                broker_for_leader(e, e->parts[i]->leader); /* every leader has its broker_t */
            for (size_t i = 0; i < e->broker_count; i++) {
                broker_t *b = e->brokers[i];
                while (b->n < e->max_in_flight && send_one(e, b, now)) {
                }
            }
        }
        publish_done(e);

        size_t nfds = 1;
        if (e->pfds_cap < e->broker_count + 1) {
            size_t cap = e->broker_count + 1;
            struct pollfd *grown = realloc(e->pfds, cap * sizeof(*grown));
            if (grown)
                e->pfds = grown;
            broker_t **bgrown = grown ? realloc(e->pfd_brokers, cap * sizeof(*bgrown)) : NULL;
            if (bgrown)
                e->pfd_brokers = bgrown;
            if (!grown || !bgrown) {
                poll(NULL, 0, 1);
                continue;
            }
            e->pfds_cap = cap;
        }
        struct pollfd *fds = e->pfds;
        broker_t **fd_brokers = e->pfd_brokers;
        fds[0] = (struct pollfd){e->wake_r, POLLIN, 0};
        int timeout = poll_timeout(e, kk_monotonic_ms());
        if (e->incoming_due < 0 && total_in_flight(e) == 0 && !anything_queued(e) && !e->done.head)
            timeout = -1; /* idle: only a producer, flush, purge or close wakes us */
        for (size_t i = 0; i < e->broker_count; i++) {
            broker_t *b = e->brokers[i];
            if (b->n == 0 || !b->conn || !kk_conn_is_open(b->conn))
                continue;
            if (b->conn->tls && kk_tls_pending(b->conn->tls))
                timeout = 0;
            fd_brokers[nfds] = b;
            fds[nfds++] = (struct pollfd){b->conn->fd, POLLIN, 0};
        }
        atomic_store(&e->io_quiet, true); /* everything the thread owns is consistent here */
        int ready = poll(fds, (nfds_t)nfds, timeout);
        atomic_store(&e->io_quiet, false);
        now = kk_monotonic_ms();
        for (size_t i = 1; i < nfds; i++) {
            broker_t *b = fd_brokers[i];
            bool readable = ready > 0 && (fds[i].revents & (POLLIN | POLLHUP | POLLERR));
            if (!readable && !(b->conn->tls && kk_tls_pending(b->conn->tls)))
                continue;
            /* the first answer is there; take the others that have arrived too */
            receive_one(e, b, now);
            while (b->n > 0 && kk_conn_is_open(b->conn)) {
                struct pollfd one = {b->conn->fd, POLLIN, 0};
                if (!(b->conn->tls && kk_tls_pending(b->conn->tls)) && poll(&one, 1, 0) <= 0)
                    break;
                receive_one(e, b, now);
            }
        }
        publish_done(e);
    }
    collect_jobs(e, true);
    atomic_store(&e->io_quiet, true);
    pthread_mutex_lock(&e->mu);
    e->stopped = true;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

/* ---- the caller's side ------------------------------------------------------------------ */

static kk_engine_t *engine_new(kk_producer_t *p, kk_error_t *err) {
    kk_engine_t *e = calloc(1, sizeof(*e));
    if (!e) {
        kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
        return NULL;
    }
    e->p = p;
    atomic_init(&e->io_quiet, true);
    pthread_once(&fork_handler_once, install_fork_handler);
    e->pid = current_pid();
    e->flush_before_ms = e->flushed_before = -1;
    e->wake_r = e->wake_w = e->event_r = e->event_w = -1;
    int wake[2], event[2];
    if (make_pipe(wake) != 0) {
        free(e);
        kk_error_set(err, KK_ERR_IO, "pipe: %s", strerror(errno));
        return NULL;
    }
    if (make_pipe(event) != 0) {
        close(wake[0]);
        close(wake[1]);
        free(e);
        kk_error_set(err, KK_ERR_IO, "pipe: %s", strerror(errno));
        return NULL;
    }
    e->wake_r = wake[0];
    e->wake_w = wake[1];
    e->event_r = event[0];
    e->event_w = event[1];
    pthread_mutex_init(&e->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&e->cv, &attr);
    pthread_condattr_destroy(&attr);
    kk_client_config_t cc = p->cfg.client;
    cc.log_cb = NULL; /* the I/O thread never calls the application */
    cc.interrupt_check = NULL;
    e->client = kk_client_new(&cc, err);
    if (e->client && p->client) {
        kk_client_use_metrics(e->client, p->client->metrics); /* the producer's stats() */
        /* the I/O thread never calls an OAUTHBEARER token provider: it authenticates with
         * the token the caller's thread last obtained (kk_producer_produce/send/flush) */
        kk_sasl_share_oauth(&e->client->sasl, &p->client->sasl);
    }
    e->max_in_flight = p->cfg.max_in_flight > 0 ? p->cfg.max_in_flight : 1;
    e->pid_version = -1;
    kk_round_robin_init(&e->rr, (uint32_t)(kk_monotonic_ms() ^ (uint64_t)getpid() * 2654435761u));
    /* The I/O thread blocks every signal, so that a signal meant for the application (Ctrl-C
     * while a binding waits) interrupts the application's own threads, never this one. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int started = e->client ? pthread_create(&e->thread, NULL, engine_main, e) : -1;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (started != 0) {
        if (e->client)
            kk_error_set(err, KK_ERR_NO_MEMORY, "cannot start the producer's I/O thread");
        kk_engine_free(e, false);
        return NULL;
    }
    e->thread_started = true;
    return e;
}

static void free_pmsg(pmsg_t *m, bool release) {
    if (release && m->release)
        m->release(m->opaque, (void *)m->key, (void *)m->value);
    free(m);
}

static void free_list(pmsg_t *m, bool release) {
    while (m) {
        pmsg_t *next = m->next;
        free_pmsg(m, release);
        m = next;
    }
}

/* Frees the engine's tables once no message is left in them: partitions, brokers with their
 * connections and request rings, topics, metadata and the engine's client (kk_engine_free, and
 * a forked child's free_inherited after it dropped the parent's messages). */
static void free_tables(kk_engine_t *e) {
    for (size_t i = 0; i < e->part_count; i++)
        free(e->parts[i]);
    free(e->parts);
    for (size_t i = 0; i < e->broker_count; i++) {
        if (e->brokers[i]->conn) {
            kk_conn_destroy(e->brokers[i]->conn);
            free(e->brokers[i]->conn);
        }
        free(e->brokers[i]->reqs);
        free(e->brokers[i]);
    }
    free(e->brokers);
    free(e->etopics);
    for (topic_t *t = e->topics, *next; t; t = next) {
        next = t->next;
        free(t->parts);
        free(t->name);
        free(t);
    }
    kk_metadata_free(e->md);
    kk_client_free(e->client);
    free(e->pfds);
    free(e->pfd_brokers);
    free(e->enc_recs);
    free(e->enc_hdrs);
    kk_writer_free(&e->enc_scratch);
}

void kk_engine_free(kk_engine_t *e, bool release_reports) {
    if (!e)
        return;
    if (e->thread_started) {
        pthread_mutex_lock(&e->mu);
        e->stop = true;
        pthread_mutex_unlock(&e->mu);
        wake_engine(e);
        kk_client_interrupt(e->client);
        pthread_join(e->thread, NULL);
    }
    free_list(e->reports.head, release_reports);
    free_list(e->returned, false);
    free_list(e->incoming.head, release_reports);
    free_tables(e);
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->mu);
    int fds[4] = {e->wake_r, e->wake_w, e->event_r, e->event_w};
    for (int i = 0; i < 4; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(e);
}

/* In a forked child: closes (never shuts down) the descriptors of the parent's engine, its
 * connections (the client's, the brokers', those its connect jobs had) and its pipes. */
static void close_inherited(kk_engine_t *e) {
    kk_client_forked(e->client);
    for (size_t i = 0; i < e->broker_count; i++)
        if (e->brokers[i]->conn)
            kk_conn_close(e->brokers[i]->conn);
    for (job_t *job = e->jobs; job; job = job->next)
        if (job->kind == JOB_CONNECT || job->kind == JOB_REAUTH)
            kk_conn_close(job->conn);
    int fds[4] = {e->wake_r, e->wake_w, e->event_r, e->event_w};
    for (int i = 0; i < 4; i++)
        close(fds[i]);
}

/* A message of the parent's engine, in a forked child: freed without its release callback
 * (the parent's callbacks are not called here, and no report is made of it), and with its
 * kk_producer_send waiter once no message refers to it (that caller, a thread of the parent,
 * does not exist here: it held a reference while its msgs were set). */
static void drop_inherited(pmsg_t *m) {
    while (m) {
        pmsg_t *next = m->next;
        kk_sync_t *w = m->sync;
        if (w && --w->refs == (w->msgs ? 1u : 0u))
            free(w);
        free(m);
        m = next;
    }
}

static void drop_inherited_batch(batch_t *b) {
    drop_inherited(b->msgs.head);
    free_batch(b);
}

/* Frees a quiet parent's engine in a forked child (see forget_parent_engine): everything it
 * holds, wherever the parent's threads had put it. Its mutex and condition are not destroyed
 * (a parent's thread that waited on the condition would be waited for; neither holds anything
 * but its own memory), and no callback is called. */
static void free_inherited(kk_engine_t *e) {
    drop_inherited(e->incoming.head);
    drop_inherited(e->reports.head);
    drop_inherited(e->returned);
    drop_inherited(e->done.head);
    drop_inherited(e->taken.head);
    for (size_t i = 0; i < e->part_count; i++) {
        part_t *pt = e->parts[i];
        drop_inherited(pt->queue.head);
        for (batch_t *b = pt->retry, *next; b; b = next) {
            next = b->next;
            drop_inherited_batch(b);
        }
    }
    for (size_t i = 0; i < e->broker_count; i++) {
        broker_t *b = e->brokers[i];
        for (int k = 0; k < b->n; k++) {
            request_t *rq = &b->reqs[(b->head + k) % e->max_in_flight];
            for (size_t j = 0; j < rq->count; j++)
                drop_inherited_batch(rq->batches[j]);
            free(rq->batches);
        }
    }
    for (job_t *job = e->jobs, *next; job; job = next) {
        next = job->next;
        if (job->kind == JOB_CONNECT || job->kind == JOB_REAUTH) {
            kk_conn_destroy(job->conn);
            free(job->conn);
        }
        kk_metadata_free(job->md);
        free(job->names);
        free(job);
    }
    for (topic_t *t = e->topics; t; t = t->next)
        drop_inherited(t->waiting.head);
    free_tables(e);
    free(e);
}

/* In a forked child, the parent's engine: its descriptors are closed; its memory, a copy
 * that no thread of this process uses, is freed when no thread of the parent was changing it
 * at fork(): the I/O thread was in poll() (or not running), no job was running, and no
 * thread held mu, which is tried, never waited for (a mutex held by a thread of the parent
 * at fork() stays locked here for ever). Otherwise its lists may be half changed and freeing
 * them could free a message twice, so it is left behind unused (a leak checker reports it;
 * no process-wide list keeps it reachable: the library keeps no global state but the fork
 * counter). What a parent thread working at fork() held only in its registers and stack is
 * lost to the child in any case. */
static void forget_parent_engine(kk_engine_t *e) {
    close_inherited(e);
    bool quiet = atomic_load(&e->io_quiet) && pthread_mutex_trylock(&e->mu) == 0;
    if (quiet) {
        for (job_t *job = e->jobs; job && quiet; job = job->next)
            quiet = job->done;
        pthread_mutex_unlock(&e->mu);
    }
    if (quiet) {
        free_inherited(e);
        return;
    }
    kk_waker_destroy(&e->client->waker); /* the pipe kk_client_forked made for it */
}

/* The producer's engine, started on first use; after fork() a new one for this process (the
 * parent's is forgotten: forget_parent_engine). */
static kk_engine_t *get_engine(kk_producer_t *p, kk_error_t *err) {
    kk_engine_t *running = atomic_load_explicit(&p->engine, memory_order_acquire);
    if (running && running->pid == current_pid())
        return running; /* the common case, without the lock */
    pthread_mutex_lock(&p->engine_lock);
    kk_engine_t *e = p->engine;
    if (e && e->pid != current_pid()) {
        forget_parent_engine(e);
        e = NULL;
        p->engine = NULL;
        p->closed = false;
    }
    if (!e && !p->closed) {
        e = engine_new(p, err);
        p->engine = e;
    } else if (!e)
        kk_error_set(err, KK_ERR_STATE, "the producer is closed");
    pthread_mutex_unlock(&p->engine_lock);
    return e;
}

static bool interrupted(kk_producer_t *p) {
    const kk_client_config_t *cc = &p->cfg.client;
    return p->client->waker.interrupted ||
           (cc->interrupt_check && cc->interrupt_check(cc->interrupt_opaque));
}

/* Waits on the engine's condition for at most until (monotonic ms; -1: no limit), in slices.
 * Called with mu held. KK_OK after a wake-up or a slice, KK_ERR_TIMED_OUT past the deadline,
 * KK_ERR_INTERRUPTED. */
static int wait_slice(kk_engine_t *e, kk_producer_t *p, int64_t until) {
    int64_t now = kk_monotonic_ms();
    if (until >= 0 && now >= until)
        return KK_ERR_TIMED_OUT;
    if (p->client->waker.interrupted)
        return KK_ERR_INTERRUPTED;
    if (p->cfg.client.interrupt_check) {
        pthread_mutex_unlock(&e->mu);
        bool stop = interrupted(p);
        pthread_mutex_lock(&e->mu);
        if (stop)
            return KK_ERR_INTERRUPTED;
    }
    int64_t slice = WAIT_SLICE_MS;
    if (until >= 0 && until - now < slice)
        slice = until - now;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += (long)(slice % 1000) * 1000000L;
    ts.tv_sec += slice / 1000 + ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_cond_timedwait(&e->cv, &e->mu, &ts);
    return KK_OK;
}

static topic_t *find_topic(kk_engine_t *e, const char *name) {
    for (topic_t *t = e->topics; t; t = t->next)
        if (strcmp(t->name, name) == 0)
            return t;
    return NULL;
}

static topic_t *intern_topic(kk_engine_t *e, const char *name) {
    topic_t *t = find_topic(e, name);
    if (t)
        return t;
    t = calloc(1, sizeof(*t));
    if (!t || !(t->name = strdup(name))) {
        free(t);
        return NULL;
    }
    t->next = e->topics;
    e->topics = t;
    return t;
}

void kk_engine_release(kk_producer_t *p) {
    kk_engine_t *e = p->engine;
    if (!e)
        return;
    p->engine = NULL;
    if (e->pid != current_pid()) {
        /* a forked child: the parent's engine is not ours to stop */
        forget_parent_engine(e);
        return;
    }
    kk_error_t ignored;
    kk_producer_close(p, 0, &ignored);
    kk_engine_free(e, true);
}

/* When messages were queued: read once per kk_producer_send call, not per message (two clock
 * reads were a twentieth of a sync send's CPU), so a call's messages share their timestamp. */
typedef struct msg_clock {
    int64_t enqueue_ms; /* coarse monotonic: linger and delivery_timeout_ms count from it */
    int64_t wall_ms;    /* the timestamp of a message that has none */
} msg_clock_t;

/* A message in one allocation: the struct, its headers, then (copied) key, value and header
 * bytes. NULL with err filled when out of memory. */
static pmsg_t *new_pmsg(const kk_produce_message_t *msg, int32_t partition,
                        const msg_clock_t *clock, kk_error_t *err) {
    /* one allocation: the message, its headers, then (copied) key, value and header bytes */
    size_t extra = msg->header_count * sizeof(kk_header_t);
    for (size_t i = 0; i < msg->header_count; i++)
        extra += msg->headers[i].key_len + (msg->headers[i].value ? msg->headers[i].value_len : 0);
    if (!msg->release)
        extra += (msg->key ? msg->key_len : 0) + (msg->value ? msg->value_len : 0);
    size_t total = sizeof(pmsg_t) + extra;
    pmsg_t *m = malloc(total);
    if (!m) {
        kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory for a %zu-byte message", total);
        return NULL;
    }
    uint8_t *at = (uint8_t *)(m + 1);
    *m = (pmsg_t){.opaque = msg->opaque,
                  .release = msg->release,
                  .key_len = msg->key ? msg->key_len : 0,
                  .value_len = msg->value ? msg->value_len : 0,
                  .header_count = (uint32_t)msg->header_count,
                  .partition = partition,
                  .offset = -1};
    /* messages whose bytes the caller lent count them too: buffer_memory bounds both */
    size_t counted = total + (msg->release ? m->key_len + m->value_len : 0);
    m->mem = counted > UINT32_MAX ? UINT32_MAX : (uint32_t)counted;
    if (msg->header_count) {
        m->headers = (kk_header_t *)at;
        at += msg->header_count * sizeof(kk_header_t);
        for (size_t i = 0; i < msg->header_count; i++) {
            const kk_header_t *h = &msg->headers[i];
            m->headers[i].key = (const char *)at;
            m->headers[i].key_len = h->key_len;
            if (h->key_len)
                memcpy(at, h->key, h->key_len);
            at += h->key_len;
            m->headers[i].value = h->value ? at : NULL;
            m->headers[i].value_len = h->value ? h->value_len : 0;
            if (h->value && h->value_len)
                memcpy(at, h->value, h->value_len);
            at += h->value ? h->value_len : 0;
        }
    }
    if (msg->release) {
        m->key = msg->key;
        m->value = msg->value;
    } else {
        if (msg->key) {
            memcpy(at, msg->key, m->key_len);
            m->key = at;
            at += m->key_len;
        }
        if (msg->value) {
            memcpy(at, msg->value, m->value_len);
            m->value = at;
        }
    }
    m->enqueue_ms = clock->enqueue_ms;
    m->timestamp_ms = msg->timestamp_ms > 0 ? msg->timestamp_ms : clock->wall_ms;

    return m;
}

int kk_producer_test_drop_answers(kk_producer_t *p, int count, kk_error_t *err) {
    kk_engine_t *e = get_engine(p, err);
    if (!e)
        return err->code;
    atomic_store(&e->drop_answers, count);
    return KK_OK;
}

/* kk_producer_produce and kk_producer_try_produce. Without may_wait, whatever would wait or call
 * into the application (no room in the buffer, a callback partitioner, an OAuth token due) leaves
 * the message unqueued with *queued false and KK_OK. */
static int produce_one(kk_producer_t *p, const kk_produce_message_t *msg, bool may_wait,
                       bool *queued, kk_error_t *err) {
    kk_error_clear(err);
    *queued = false;
    if (!p || !msg)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "kk_producer_produce: NULL argument");
    if (msg->partition < -1)
        return kk_error_set(err, KK_ERR_INVALID_ARG,
                            "partition %d: use -1 to let the producer choose", (int)msg->partition);
    if ((msg->key_len && !msg->key) || (msg->value_len && !msg->value) ||
        (msg->header_count && !msg->headers))
        return kk_error_set(err, KK_ERR_INVALID_ARG, "a NULL pointer with a length");
    if (msg->key_len > INT32_MAX || msg->value_len > INT32_MAX || msg->header_count > INT32_MAX)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "a key, value or header list too large");
    for (size_t i = 0; i < msg->header_count; i++)
        if ((msg->headers[i].key_len && !msg->headers[i].key) ||
            (msg->headers[i].value_len && !msg->headers[i].value))
            return kk_error_set(err, KK_ERR_INVALID_ARG, "header %zu: a NULL pointer with a length",
                                i);
    bool call_partitioner =
        msg->partition < 0 && msg->key && p->cfg.partitioner == KK_PARTITIONER_CALLBACK;
    if (!may_wait && (call_partitioner || kk_sasl_oauth_due(&p->client->sasl, false)))
        return KK_OK;
    if (!msg->topic || call_partitioner) {
        /* checked before the partitioner sees it; otherwise once per topic, when interned */
        if (!kk_producer_valid_topic(msg->topic))
            return kk_error_set(err, KK_ERR_INVALID_ARG, "'%s' is not a valid topic name",
                                msg->topic ? msg->topic : "(null)");
    }
    /* the I/O thread authenticates with the token this thread obtains (none is due here
     * without may_wait: checked above) */
    int token_rc = may_wait ? kk_sasl_oauth_refresh(&p->client->sasl, false, err) : KK_OK;
    if (token_rc != KK_OK)
        return token_rc;
    kk_engine_t *e = get_engine(p, err);
    if (!e)
        return err->code;
    int32_t partition = msg->partition;
    if (call_partitioner) {
        int rc =
            kk_producer_callback_partition(p, msg->topic, msg->key, msg->key_len, &partition, err);
        if (rc != KK_OK)
            return rc;
    }
    msg_clock_t clock = {coarse_ms(), wall_ms()};
    pmsg_t *m = new_pmsg(msg, partition, &clock, err);
    if (!m)
        return err->code;
    int64_t now = m->enqueue_ms;

    int rc = KK_OK;
    bool wake = false, full = false;
    pthread_mutex_lock(&e->mu);
    m->topic = find_topic(e, msg->topic);
    if (!m->topic) {
        if (!kk_producer_valid_topic(msg->topic))
            rc = KK_ERR_INVALID_ARG;
        else if (!(m->topic = intern_topic(e, msg->topic)))
            rc = KK_ERR_NO_MEMORY;
    }
    int64_t until = now + p->cfg.max_block_ms;
    bool waiting = false;
    while (rc == KK_OK && !e->stop && e->buffered > 0 &&
           e->buffered + m->mem > p->cfg.buffer_memory) {
        if (!may_wait) {
            full = true;
            break;
        }
        if (p->cfg.max_block_ms == 0) {
            rc = KK_ERR_QUEUE_FULL;
            break;
        }
        if (!waiting) {
            /* a full buffer sends what it holds without lingering */
            waiting = true;
            e->space_waiters++;
            pthread_mutex_unlock(&e->mu);
            wake_engine(e);
            pthread_mutex_lock(&e->mu);
        }
        rc = wait_slice(e, p, until);
    }
    if (waiting)
        e->space_waiters--;
    if (rc == KK_OK && e->stop)
        rc = KK_ERR_STATE;
    if (rc == KK_OK && !full) {
        e->buffered += m->mem;
        e->outstanding++;
        q_push(&e->incoming, m, record_bytes(m));
        wake = e->incoming.count == 1;
        if (!e->full_signaled && e->incoming.bytes >= (size_t)p->cfg.batch_size)
            wake = e->full_signaled = true;
    }
    pthread_mutex_unlock(&e->mu);
    if (full) {
        free(m);
        return KK_OK;
    }
    if (rc != KK_OK) {
        free(m);
        if (rc == KK_ERR_INVALID_ARG)
            return kk_error_set(err, rc, "'%s' is not a valid topic name", msg->topic);
        if (rc == KK_ERR_TIMED_OUT || rc == KK_ERR_QUEUE_FULL)
            return kk_error_set(
                err, KK_ERR_QUEUE_FULL,
                "the producer's buffer (buffer_memory %d bytes) stayed full for %d ms",
                (int)p->cfg.buffer_memory, p->cfg.max_block_ms);
        if (rc == KK_ERR_INTERRUPTED)
            return kk_error_set(err, rc,
                                "produce interrupted while waiting for room in the buffer");
        if (rc == KK_ERR_STATE)
            return kk_error_set(err, rc, "the producer is closed");
        return kk_error_set(err, rc, "out of memory");
    }
    *queued = true;
    if (wake)
        wake_engine(e);
    return KK_OK;
}

int kk_producer_produce(kk_producer_t *p, const kk_produce_message_t *msg, kk_error_t *err) {
    bool queued;
    return produce_one(p, msg, true, &queued, err);
}

int kk_producer_try_produce(kk_producer_t *p, const kk_produce_message_t *msg, bool *queued,
                            kk_error_t *err) {
    bool ignored;
    return produce_one(p, msg, false, queued ? queued : &ignored, err);
}

size_t kk_producer_poll(kk_producer_t *p, kk_delivery_report_t *reports, size_t cap,
                        int timeout_ms) {
    if (!p)
        return 0;
    pthread_mutex_lock(&p->engine_lock);
    kk_engine_t *e = p->engine && p->engine->pid == current_pid() ? p->engine : NULL;
    pthread_mutex_unlock(&p->engine_lock);
    if (!e)
        return 0;
    pthread_mutex_lock(&e->mu);
    pmsg_t *old = e->returned;
    e->returned = NULL;
    int64_t until = timeout_ms < 0 ? -1 : kk_monotonic_ms() + timeout_ms;
    while (cap > 0 && !e->reports.head && timeout_ms != 0 && wait_slice(e, p, until) == KK_OK) {
    }
    size_t n = 0;
    pmsg_t *taken = NULL, **tail = &taken;
    while (n < cap && e->reports.head) {
        pmsg_t *m = e->reports.head;
        e->reports.head = m->next;
        e->reports.count--;
        *tail = m;
        tail = &m->next;
        n++;
    }
    *tail = NULL;
    if (!e->reports.head) {
        e->reports.tail = NULL;
        if (e->signaled) {
            drain_fd(e->event_r);
            e->signaled = false;
        }
    }
    e->returned = taken;
    pthread_mutex_unlock(&e->mu);
    free_list(old, false);
    size_t i = 0;
    for (pmsg_t *m = taken; m; m = m->next, i++) {
        if (m->release) {
            m->release(m->opaque, (void *)m->key, (void *)m->value);
            m->release = NULL;
        }
        reports[i] = (kk_delivery_report_t){m->opaque, m->topic->name,  m->partition,
                                            m->offset, m->timestamp_ms, m->error};
    }
    return n;
}

int kk_producer_event_fd(kk_producer_t *p, kk_error_t *err) {
    kk_error_clear(err);
    if (!p) {
        kk_error_set(err, KK_ERR_INVALID_ARG, "producer is NULL");
        return -1;
    }
    kk_engine_t *e = get_engine(p, err);
    return e ? e->event_r : -1;
}

size_t kk_producer_in_flight(kk_producer_t *p) {
    if (!p)
        return 0;
    pthread_mutex_lock(&p->engine_lock);
    kk_engine_t *e = p->engine && p->engine->pid == current_pid() ? p->engine : NULL;
    pthread_mutex_unlock(&p->engine_lock);
    if (!e)
        return 0;
    pthread_mutex_lock(&e->mu);
    size_t n = e->outstanding;
    pthread_mutex_unlock(&e->mu);
    return n;
}

int kk_producer_flush(kk_producer_t *p, int timeout_ms, size_t *remaining, kk_error_t *err) {
    kk_error_clear(err);
    if (remaining)
        *remaining = 0;
    if (!p)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "producer is NULL");
    /* the I/O thread authenticates with the token this thread obtains */
    int token_rc = kk_sasl_oauth_refresh(&p->client->sasl, false, err);
    if (token_rc != KK_OK)
        return token_rc;
    pthread_mutex_lock(&p->engine_lock);
    kk_engine_t *e = p->engine && p->engine->pid == current_pid() ? p->engine : NULL;
    pthread_mutex_unlock(&p->engine_lock);
    if (!e)
        return KK_OK;
    pthread_mutex_lock(&e->mu);
    e->flushers++;
    e->flush_before_ms = coarse_ms();
    pthread_mutex_unlock(&e->mu);
    wake_engine(e);
    pthread_mutex_lock(&e->mu);
    int64_t until = timeout_ms < 0 ? -1 : kk_monotonic_ms() + timeout_ms;
    int rc = KK_OK;
    while (e->outstanding > 0 && !e->stopped && (rc = wait_slice(e, p, until)) == KK_OK) {
    }
    e->flushers--;
    size_t left = e->outstanding;
    pthread_mutex_unlock(&e->mu);
    if (remaining)
        *remaining = left;
    if (left == 0)
        return KK_OK;
    if (rc == KK_ERR_INTERRUPTED)
        return kk_error_set(err, rc, "flush interrupted with %zu message(s) in flight", left);
    return kk_error_set(err, KK_ERR_TIMED_OUT, "%zu message(s) still in flight after %d ms", left,
                        timeout_ms);
}

void kk_producer_purge(kk_producer_t *p) {
    if (!p)
        return;
    pthread_mutex_lock(&p->engine_lock);
    kk_engine_t *e = p->engine && p->engine->pid == current_pid() ? p->engine : NULL;
    pthread_mutex_unlock(&p->engine_lock);
    if (!e)
        return;
    pthread_mutex_lock(&e->mu);
    e->purge_queued = true;
    pthread_mutex_unlock(&e->mu);
    wake_engine(e);
}

int kk_producer_close(kk_producer_t *p, int timeout_ms, kk_error_t *err) {
    kk_error_clear(err);
    if (!p)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "producer is NULL");
    pthread_mutex_lock(&p->engine_lock);
    kk_engine_t *e = p->engine && p->engine->pid == current_pid() ? p->engine : NULL;
    bool already = p->closed;
    p->closed = true;
    pthread_mutex_unlock(&p->engine_lock);
    if (!e || already)
        return KK_OK;
    size_t left = 0;
    kk_error_t flush_err;
    int rc = timeout_ms != 0 ? kk_producer_flush(p, timeout_ms, &left, &flush_err) : KK_OK;
    pthread_mutex_lock(&e->mu);
    left = e->outstanding;
    e->stop = true;
    pthread_mutex_unlock(&e->mu);
    wake_engine(e);
    kk_client_interrupt(e->client); /* a connect or metadata call of the I/O thread ends now */
    pthread_join(e->thread, NULL);
    e->thread_started = false;
    if (left == 0)
        return KK_OK;
    if (rc == KK_ERR_INTERRUPTED)
        return kk_error_set(err, rc, "close interrupted: %zu message(s) purged", left);
    return kk_error_set(err, KK_ERR_TIMED_OUT, "%zu message(s) purged at close", left);
}

/* ---- kk_producer_send: enqueue, then wait for every result -------------------------------- */

/* A result the engine has not written yet (a value no code takes). */
#define NO_RESULT_YET INT32_MIN

/* Moves the messages of q (made by kk_producer_send for w) to the engine's incoming list, so
 * the I/O thread batches and sends them while the caller prepares the rest. The first hand-over
 * makes the engine stop lingering until the call returns (a flusher). KK_ERR_STATE when the
 * engine stops, KK_ERR_NO_MEMORY; then q keeps the messages. */
static int hand_over(kk_engine_t *e, kk_sync_t *w, const kk_message_t *msgs, msgq_t *q,
                     int64_t *buffered, bool *flushing) {
    pthread_mutex_lock(&e->mu);
    int rc = e->stop ? KK_ERR_STATE : KK_OK;
    for (pmsg_t *m = q->head; rc == KK_OK && m; m = m->next) {
        m->topic = intern_topic(e, msgs[m->sync_index].topic);
        if (!m->topic)
            rc = KK_ERR_NO_MEMORY;
    }
    if (rc == KK_OK && q->head) {
        if (!*flushing) {
            *flushing = true;
            e->flushers++; /* no lingering: the caller waits */
        }
        e->buffered += *buffered;
        e->outstanding += q->count;
        w->remaining += q->count;
        w->refs += q->count;
        q_append(&e->incoming, q);
        *buffered = 0;
    }
    pthread_mutex_unlock(&e->mu);
    if (rc == KK_OK)
        wake_engine(e);
    return rc;
}

/* How many bytes of a kk_producer_send call's messages go to the I/O thread at a time: the
 * call in equal parts of at most batch_size, so that the first part starts on its way as
 * early as it can and no small remainder is left for last (a call waits for its last batch). */
static size_t hand_over_bytes(const kk_message_t *msgs, size_t count, size_t batch_size) {
    size_t total = 0;
    for (size_t i = 0; i < count; i++)
        total += 24 + msgs[i].key_len + msgs[i].value_len; /* record_bytes, headers aside */
    size_t parts = (total + batch_size - 1) / batch_size;
    return parts > 1 ? total / parts + 1 : batch_size;
}

int kk_producer_send(kk_producer_t *p, kk_message_t *msgs, size_t count, kk_error_t *err) {
    kk_error_clear(err);
    if (!p || (count && !msgs))
        return kk_error_set(err, KK_ERR_INVALID_ARG, "kk_producer_send: NULL argument");
    if (count == 0)
        return KK_OK;
    /* the I/O thread authenticates with the token this thread obtains */
    int token_rc = kk_sasl_oauth_refresh(&p->client->sasl, false, err);
    if (token_rc != KK_OK)
        return token_rc;
    /* Brokers that need MessageSet v0/v1 (Produce v0-v2) keep the direct path. */
    kk_error_t ignored;
    if (kk_client_connect(p->client, &ignored) == KK_OK &&
        kk_client_api_version(p->client, KK_API_PRODUCE) < 3)
        return kk_producer_send_direct(p, msgs, count, err);
    kk_engine_t *e = get_engine(p, err);
    if (!e)
        return err->code;
    kk_sync_t *w = calloc(1, sizeof(*w));
    if (!w)
        return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
    w->msgs = msgs;
    w->refs = 1;
    msg_clock_t clock = {coarse_ms(), wall_ms()};
    msgq_t q = {0};
    int64_t buffered = 0;
    bool flushing = false;
    int rc = KK_OK;
    const char *last_valid_topic = NULL;
    size_t chunk = hand_over_bytes(msgs, count, (size_t)p->cfg.batch_size);
    size_t i = 0;
    for (; i < count; i++) {
        kk_message_t *m = &msgs[i];
        if ((m->error = kk_producer_check_message(m, &last_valid_topic)) != 0)
            continue;
        int32_t partition = m->partition;
        if (partition < 0 && m->key && p->cfg.partitioner == KK_PARTITIONER_CALLBACK) {
            kk_error_t perr;
            int prc =
                kk_producer_callback_partition(p, m->topic, m->key, m->key_len, &partition, &perr);
            if (prc != KK_OK) {
                m->error = prc;
                if (w->detail.code == 0 && prc < 0)
                    w->detail = perr;
                continue;
            }
        }
        kk_produce_message_t pm = {.topic = m->topic,
                                   .partition = partition,
                                   .key = m->key,
                                   .key_len = m->key_len,
                                   .value = m->value,
                                   .value_len = m->value_len,
                                   .headers = m->headers,
                                   .header_count = m->header_count,
                                   .timestamp_ms = m->timestamp_ms};
        pmsg_t *pmsg = new_pmsg(&pm, partition, &clock, err);
        if (!pmsg) {
            m->error = KK_ERR_NO_MEMORY;
            continue;
        }
        pmsg->sync = w;
        pmsg->sync_index = (uint32_t)i;
        m->error = NO_RESULT_YET;
        buffered += pmsg->mem;
        q_push(&q, pmsg, record_bytes(pmsg));
        /* a batch's worth goes to the I/O thread at once: it encodes and sends while this
         * thread prepares the next */
        if (q.bytes >= chunk && (rc = hand_over(e, w, msgs, &q, &buffered, &flushing)) != KK_OK)
            break;
    }
    if (rc == KK_OK)
        rc = hand_over(e, w, msgs, &q, &buffered, &flushing);
    for (i = i < count ? i + 1 : count; i < count; i++) { /* never looked at: the engine stopped */
        msgs[i].result_partition = -1;
        msgs[i].offset = -1;
        msgs[i].error = NO_RESULT_YET;
    }
    pthread_mutex_lock(&e->mu);
    if (flushing) {
        int wait_rc = KK_OK;
        while (w->remaining > 0 && !e->stopped && (wait_rc = wait_slice(e, p, -1)) == KK_OK) {
        }
        if (rc == KK_OK && wait_rc != KK_ERR_TIMED_OUT)
            rc = wait_rc;
        e->flushers--;
    }
    kk_error_t detail = w->detail;
    if (w->remaining > 0) {
        /* interrupted: what is not sent yet is dropped, so a retry of the call cannot
         * duplicate it; results that come later are not written */
        atomic_store(&w->detached, true);
        e->drop_detached = true;
    }
    w->msgs = NULL;
    if (--w->refs == 0)
        free(w);
    pthread_mutex_unlock(&e->mu);
    if (rc == KK_ERR_INTERRUPTED)
        wake_engine(e);
    free_list(q.head, false); /* not enqueued (closed, or out of memory) */
    if (rc == KK_ERR_STATE) {
        for (size_t i = 0; i < count; i++)
            if (msgs[i].error == NO_RESULT_YET)
                msgs[i].error = KK_ERR_STATE;
        return kk_error_set(err, KK_ERR_STATE, "the producer is closed");
    }
    int fatal = rc; /* KK_ERR_INTERRUPTED, or KK_ERR_NO_MEMORY */
    size_t failed = 0, first_failed = count;
    for (size_t i = 0; i < count; i++) {
        if (msgs[i].error == NO_RESULT_YET)
            msgs[i].error = fatal != KK_OK ? fatal : KK_ERR_INTERRUPTED;
        if (msgs[i].error != KK_OK) {
            failed++;
            if (first_failed == count)
                first_failed = i;
        }
    }
    if (failed == 0)
        return KK_OK;
    const kk_message_t *m = &msgs[first_failed];
    int code = failed == count ? m->error : KK_ERR_PARTIAL_FAILURE;
    char where[300];
    if (m->result_partition >= 0)
        snprintf(where, sizeof(where), "%s[%d]", m->topic ? m->topic : "(null)",
                 (int)m->result_partition);
    else
        snprintf(where, sizeof(where), "%s", m->topic ? m->topic : "(null topic)");
    if (fatal == KK_ERR_INTERRUPTED)
        return kk_error_set(err, code, "%zu of %zu messages not delivered: send interrupted",
                            failed, count);
    if (detail.code != KK_OK && detail.code == m->error)
        return kk_error_set(
            err, code, "%zu of %zu messages not delivered; first: message %zu to %s: %s (%s)",
            failed, count, first_failed, where, kk_err_name(m->error), detail.message);
    return kk_error_set(
        err, code, "%zu of %zu messages not delivered; first: message %zu to %s: %s (%s)", failed,
        count, first_failed, where, kk_err_name(m->error), kk_err_description(m->error));
}
