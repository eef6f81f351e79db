/*
 * The producer and the consumer against a fake broker on loopback that answers every request
 * well-formed on the wire but with values a real broker would never send: offsets at the end
 * of the int64 range, error codes in the range the library uses for its own conditions. Each
 * must end in a clear error (or a mapped code), never in signed overflow or a client-side
 * code the broker did not mean.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <malloc.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buffer.h"
#include "fake_wire.h"
#include "compression.h"
#include "crc32c.h"
#include "kafkette.h"
#include "protocol.h"
#include "record_batch.h"

/* The bytes the process has allocated, and the most since the last reset: malloc, calloc,
 * realloc and free are wrapped (glibc's __libc_* functions do the work), counting each block's
 * usable size. Under AddressSanitizer, whose allocator this would bypass, nothing is counted. */
#if defined(__SANITIZE_ADDRESS__)
#define MEASURED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MEASURED 0
#endif
#endif
#ifndef MEASURED
#define MEASURED 1
#endif

static atomic_long allocated, allocated_peak;

#if MEASURED
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

static void count_allocated(long delta) {
    long now = atomic_fetch_add(&allocated, delta) + delta;
    long peak = atomic_load(&allocated_peak);
    while (now > peak && !atomic_compare_exchange_weak(&allocated_peak, &peak, now)) {
    }
}

void *malloc(size_t n) {
    void *p = __libc_malloc(n);
    if (p)
        count_allocated((long)malloc_usable_size(p));
    return p;
}

void *calloc(size_t count, size_t n) {
    void *p = __libc_calloc(count, n);
    if (p)
        count_allocated((long)malloc_usable_size(p));
    return p;
}

void *realloc(void *p, size_t n) {
    long before = p ? (long)malloc_usable_size(p) : 0;
    void *q = __libc_realloc(p, n);
    if (q)
        count_allocated((long)malloc_usable_size(q) - before);
    else if (n == 0)
        count_allocated(-before);
    return q;
}

void free(void *p) {
    if (p)
        count_allocated(-(long)malloc_usable_size(p));
    __libc_free(p);
}
#endif

/* Starts a measurement: returns the bytes allocated now, from which the peak is counted. */
static long peak_reset(void) {
    long now = atomic_load(&allocated);
    atomic_store(&allocated_peak, now);
    return now;
}

#define TOPIC "t"
enum { MAX_CONNECTIONS = 16 };

typedef struct fake_broker {
    int listen_fd;
    int port;
    atomic_bool stop;
    pthread_t thread;
    pthread_t conn_threads[MAX_CONNECTIONS];
    int conn_fds[MAX_CONNECTIONS];
    int connections;
    /* what to answer */
    int64_t produce_base_offset;
    int16_t produce_error;
    int64_t fetch_base_offset; /* the batch's base offset */
    int fetch_records;         /* records in the batch (0: empty record set) */
    int16_t fetch_error;
    /* when set, Fetch answers with every batch of this record set whose last offset is at or
     * past the requested offset, whatever max_bytes says */
    const kk_writer_t *fetch_log;
    int fetches;
    int16_t api_versions_error;
    /* how to answer Metadata instead, on the transport level */
    enum { META_PROPER, META_100MIB_THEN_NOTHING, META_DRIP, META_WRONG_CORRELATION } metadata_mode;
    atomic_size_t heap_while_waiting; /* META_100MIB_THEN_NOTHING: heap in use 300 ms after */
} fake_broker_t;

static size_t heap_in_use(void) {
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

typedef struct conn_arg {
    fake_broker_t *fb;
    int fd;
} conn_arg_t;

/* Only the oldest versions the client still speaks, so each answer is short to write. */
static void answer_api_versions(fake_broker_t *fb, int fd, int16_t version, int32_t correlation_id) {
    const int16_t ranges[][3] = {{KK_API_PRODUCE, 3, 3},
                                 {KK_API_FETCH, 4, 4},
                                 {KK_API_METADATA, 0, 0},
                                 {KK_API_API_VERSIONS, 0, 3}};
    const int n = (int)(sizeof(ranges) / sizeof(ranges[0]));
    kk_writer_t body;
    kk_writer_init(&body);
    kk_write_i16(&body, fb->api_versions_error);
    kk_write_array_len_v(&body, n, version >= 3);
    for (int i = 0; i < n; i++) {
        kk_write_i16(&body, ranges[i][0]);
        kk_write_i16(&body, ranges[i][1]);
        kk_write_i16(&body, ranges[i][2]);
        if (version >= 3)
            kk_write_empty_tags(&body);
    }
    if (version >= 1)
        kk_write_i32(&body, 0);
    if (version >= 3)
        kk_write_empty_tags(&body);
    fake_send_frame(fd, &body, correlation_id);
    kk_writer_free(&body);
}

/* Metadata v0: this broker is node 1 and leads partition 0 of TOPIC. */
static void answer_metadata(fake_broker_t *fb, int fd, int32_t correlation_id) {
    kk_writer_t body;
    kk_writer_init(&body);
    kk_write_array_len(&body, 1);
    kk_write_i32(&body, 1);
    kk_write_string(&body, "127.0.0.1");
    kk_write_i32(&body, fb->port);
    kk_write_array_len(&body, 1);
    kk_write_i16(&body, 0);
    kk_write_string(&body, TOPIC);
    kk_write_array_len(&body, 1);
    kk_write_i16(&body, 0);
    kk_write_i32(&body, 0); /* partition */
    kk_write_i32(&body, 1); /* leader */
    kk_write_array_len(&body, 1);
    kk_write_i32(&body, 1);
    kk_write_array_len(&body, 1);
    kk_write_i32(&body, 1);
    fake_send_frame(fd, &body, correlation_id);
    kk_writer_free(&body);
}

/* Produce v3: partition 0 of TOPIC at the configured base offset. */
static void answer_produce(fake_broker_t *fb, int fd, int32_t correlation_id) {
    kk_writer_t body;
    kk_writer_init(&body);
    kk_write_array_len(&body, 1);
    kk_write_string(&body, TOPIC);
    kk_write_array_len(&body, 1);
    kk_write_i32(&body, 0);
    kk_write_i16(&body, fb->produce_error);
    kk_write_i64(&body, fb->produce_base_offset);
    kk_write_i64(&body, -1); /* log_append_time */
    kk_write_i32(&body, 0);  /* throttle */
    fake_send_frame(fd, &body, correlation_id);
    kk_writer_free(&body);
}

/* The part of fb->fetch_log a Fetch v4 request (r at its body) asks for. */
static void fetch_from_log(const fake_broker_t *fb, kk_reader_t *r, kk_writer_t *records) {
    (void)kk_read_i32(r); /* replica id */
    (void)kk_read_i32(r); /* max wait */
    (void)kk_read_i32(r); /* min bytes */
    (void)kk_read_i32(r); /* max bytes */
    (void)kk_read_i8(r); /* isolation level */
    (void)kk_read_array_len(r, 1);
    (void)kk_read_string(r);
    (void)kk_read_array_len(r, 1);
    (void)kk_read_i32(r); /* partition */
    int64_t offset = kk_read_i64(r);
    assert_false(r->failed);
    const uint8_t *log = fb->fetch_log->data;
    for (size_t pos = 0; pos < fb->fetch_log->len;) {
        uint64_t base = 0;
        for (int i = 0; i < 8; i++)
            base = base << 8 | log[pos + (size_t)i];
        size_t size = 12 + ((size_t)log[pos + 8] << 24 | (size_t)log[pos + 9] << 16 |
                            (size_t)log[pos + 10] << 8 | log[pos + 11]);
        int32_t last_delta = (int32_t)((uint32_t)log[pos + 23] << 24 | (uint32_t)log[pos + 24] << 16 |
                                       (uint32_t)log[pos + 25] << 8 | log[pos + 26]);
        if ((int64_t)base + last_delta >= offset)
            kk_write_raw(records, log + pos, size);
        pos += size;
    }
}

/* Fetch v4: one v2 batch of fetch_records records at fetch_base_offset, or from fetch_log. */
static void answer_fetch(fake_broker_t *fb, int fd, int32_t correlation_id, kk_reader_t *request) {
    kk_writer_t records;
    kk_writer_init(&records);
    fb->fetches++;
    if (fb->fetch_log) {
        fetch_from_log(fb, request, &records);
    } else if (fb->fetch_records > 0) {
        kk_record_in_t in[8];
        assert_true(fb->fetch_records <= 8);
        for (int i = 0; i < fb->fetch_records; i++)
            in[i] = (kk_record_in_t){.value = (const uint8_t *)"v", .value_len = 1,
                                     .timestamp_ms = 1700000000000LL};
        kk_error_t err;
        assert_int_equal(kk_records_encode(&records, 2, KK_CODEC_NONE, in, (size_t)fb->fetch_records, &err),
                         KK_OK);
        /* the CRC covers attributes onwards: the base offset can be rewritten freely */
        for (int b = 0; b < 8; b++)
            records.data[b] = (uint8_t)((uint64_t)fb->fetch_base_offset >> (56 - 8 * b));
    }
    kk_writer_t body;
    kk_writer_init(&body);
    kk_write_i32(&body, 0); /* throttle */
    kk_write_array_len(&body, 1);
    kk_write_string(&body, TOPIC);
    kk_write_array_len(&body, 1);
    kk_write_i32(&body, 0);
    kk_write_i16(&body, fb->fetch_error);
    kk_write_i64(&body, INT64_MAX); /* high watermark */
    kk_write_i64(&body, INT64_MAX); /* last stable offset */
    kk_write_array_len(&body, 0);   /* aborted transactions */
    kk_write_bytes(&body, records.data, records.len);
    fake_send_frame(fd, &body, correlation_id);
    kk_writer_free(&body);
    kk_writer_free(&records);
}

static void *serve_connection(void *arg) {
    conn_arg_t *ca = arg;
    fake_broker_t *fb = ca->fb;
    int fd = ca->fd;
    free(ca);
    for (;;) {
        uint8_t size_bytes[4];
        if (!fake_read_exact(&fb->stop, fd, size_bytes, 4))
            break;
        uint32_t size = (uint32_t)size_bytes[0] << 24 | (uint32_t)size_bytes[1] << 16 |
                        (uint32_t)size_bytes[2] << 8 | size_bytes[3];
        uint8_t *request = malloc(size);
        if (!fake_read_exact(&fb->stop, fd, request, size)) {
            free(request);
            break;
        }
        kk_reader_t r;
        kk_reader_init(&r, request, size);
        int16_t api_key = kk_read_i16(&r);
        int16_t version = kk_read_i16(&r);
        int32_t correlation_id = kk_read_i32(&r);
        (void)kk_read_string(&r); /* client id */
        switch (api_key) {
        case KK_API_API_VERSIONS: answer_api_versions(fb, fd, version, correlation_id); break;
        case KK_API_METADATA:
            if (fb->metadata_mode == META_PROPER) {
                answer_metadata(fb, fd, correlation_id);
            } else if (fb->metadata_mode == META_100MIB_THEN_NOTHING) {
                /* announce 100 MiB (exactly the default limit) and send nothing more */
                const uint8_t prefix[8] = {0x06, 0x40, 0x00, 0x00, 0, 0, 0, 0};
                ssize_t ignored = send(fd, prefix, sizeof(prefix), MSG_NOSIGNAL);
                (void)ignored;
                sleep_ms(300);
                atomic_store(&fb->heap_while_waiting, heap_in_use());
            } else if (fb->metadata_mode == META_DRIP) {
                /* a 1,000-byte response, one byte every 20 ms: 20 s to arrive */
                uint8_t frame[1004] = {0, 0, 0x03, 0xe8};
                frame[4] = (uint8_t)(correlation_id >> 24), frame[5] = (uint8_t)(correlation_id >> 16);
                frame[6] = (uint8_t)(correlation_id >> 8), frame[7] = (uint8_t)correlation_id;
                for (size_t i = 0; i < sizeof(frame) && !atomic_load(&fb->stop); i++) {
                    if (send(fd, &frame[i], 1, MSG_NOSIGNAL) != 1)
                        break;
                    sleep_ms(20);
                }
            } else {
                answer_metadata(fb, fd, correlation_id + 7);
            }
            break;
        case KK_API_PRODUCE: answer_produce(fb, fd, correlation_id); break;
        case KK_API_FETCH: answer_fetch(fb, fd, correlation_id, &r); break;
        default: fail_msg("the fake broker got API %d", (int)api_key);
        }
        free(request);
    }
    return NULL;
}

static void *fake_broker_main(void *arg) {
    fake_broker_t *fb = arg;
    while (!atomic_load(&fb->stop)) {
        struct pollfd p = {.fd = fb->listen_fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept(fb->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        if (fb->connections == MAX_CONNECTIONS) {
            close(fd);
            continue;
        }
        conn_arg_t *ca = malloc(sizeof(*ca));
        *ca = (conn_arg_t){fb, fd};
        fb->conn_fds[fb->connections] = fd;
        pthread_create(&fb->conn_threads[fb->connections++], NULL, serve_connection, ca);
    }
    for (int i = 0; i < fb->connections; i++) {
        pthread_join(fb->conn_threads[i], NULL);
        close(fb->conn_fds[i]);
    }
    return NULL;
}

static fake_broker_t *fake_broker_start(void) {
    fake_broker_t *fb = calloc(1, sizeof(*fb));
    fb->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fb->listen_fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    assert_int_equal(listen(fb->listen_fd, 8), 0);
    socklen_t len = sizeof(addr);
    getsockname(fb->listen_fd, (struct sockaddr *)&addr, &len);
    fb->port = ntohs(addr.sin_port);
    return fb;
}

static void fake_broker_run(fake_broker_t *fb) {
    pthread_create(&fb->thread, NULL, fake_broker_main, fb);
}

static void fake_broker_stop(fake_broker_t *fb) {
    atomic_store(&fb->stop, true);
    pthread_join(fb->thread, NULL);
    close(fb->listen_fd);
    free(fb);
}

static void client_config(kk_client_config_t *cfg, const fake_broker_t *fb, char *bootstrap, size_t n) {
    snprintf(bootstrap, n, "127.0.0.1:%d", fb->port);
    cfg->bootstrap_servers = bootstrap;
    cfg->request_timeout_ms = 2000;
}

/* Produces three messages; returns the send's code and fills msgs. */
static int produce_three(fake_broker_t *fb, kk_message_t msgs[3], kk_error_t *err) {
    char bootstrap[64];
    kk_producer_config_t cfg;
    kk_producer_config_init(&cfg);
    client_config(&cfg.client, fb, bootstrap, sizeof(bootstrap));
    cfg.max_send_retries = 0;
    kk_producer_t *p = kk_producer_new(&cfg, err);
    assert_non_null(p);
    for (int i = 0; i < 3; i++)
        msgs[i] = (kk_message_t){.topic = TOPIC, .value = "v", .value_len = 1, .partition = 0};
    int rc = kk_producer_send(p, msgs, 3, err);
    kk_producer_free(p);
    return rc;
}

static void test_produce_offsets_in_range(void **state) {
    (void)state;
    fake_broker_t *fb = fake_broker_start();
    fb->produce_base_offset = INT64_MAX - 2; /* the last of three is INT64_MAX: fine */
    fake_broker_run(fb);
    kk_message_t msgs[3];
    kk_error_t err;
    assert_int_equal(produce_three(fb, msgs, &err), KK_OK);
    assert_true(msgs[2].offset == INT64_MAX);
    fake_broker_stop(fb);
}

/* A base offset whose messages would run past INT64_MAX: signed overflow in base_offset + i. */
static void test_produce_base_offset_overflow_is_malformed(void **state) {
    (void)state;
    fake_broker_t *fb = fake_broker_start();
    fb->produce_base_offset = INT64_MAX - 1;
    fake_broker_run(fb);
    kk_message_t msgs[3];
    kk_error_t err;
    assert_int_not_equal(produce_three(fb, msgs, &err), KK_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(msgs[i].error, KK_ERR_MALFORMED);
        assert_true(msgs[i].offset == -1);
    }
    fake_broker_stop(fb);
}

static int fetch_once(fake_broker_t *fb, int64_t from, kk_fetch_batch_t **batch, int64_t *next,
                      kk_error_t *err) {
    char bootstrap[64];
    kk_consumer_config_t cfg;
    kk_consumer_config_init(&cfg);
    client_config(&cfg.client, fb, bootstrap, sizeof(bootstrap));
    cfg.topic = TOPIC;
    cfg.partition = 0;
    cfg.offset = (kk_offset_spec_t){KK_OFFSET_AT, from};
    cfg.failover_tries = 0;
    kk_consumer_t *c = kk_consumer_new(&cfg, err);
    assert_non_null(c);
    int rc = kk_consumer_fetch(c, NULL, batch, err);
    *next = kk_consumer_next_offset(c);
    kk_consumer_free(c);
    return rc;
}

static void test_fetch_up_to_last_offset_below_max(void **state) {
    (void)state;
    fake_broker_t *fb = fake_broker_start();
    fb->fetch_base_offset = INT64_MAX - 3;
    fb->fetch_records = 2; /* offsets INT64_MAX - 3 and - 2 */
    fake_broker_run(fb);
    kk_fetch_batch_t *batch = NULL;
    int64_t next;
    kk_error_t err;
    assert_int_equal(fetch_once(fb, INT64_MAX - 3, &batch, &next, &err), KK_OK);
    assert_int_equal(batch->count, 2);
    assert_true(next == INT64_MAX - 1);
    kk_fetch_batch_free(batch);
    fake_broker_stop(fb);
}

/* A record at offset INT64_MAX: no offset can follow it (offset + 1 overflowed). */
static void test_fetch_record_at_int64_max_is_malformed(void **state) {
    (void)state;
    fake_broker_t *fb = fake_broker_start();
    fb->fetch_base_offset = INT64_MAX - 1;
    fb->fetch_records = 2; /* offsets INT64_MAX - 1 and INT64_MAX */
    fake_broker_run(fb);
    kk_fetch_batch_t *batch = NULL;
    int64_t next;
    kk_error_t err;
    assert_int_equal(fetch_once(fb, INT64_MAX - 1, &batch, &next, &err), KK_ERR_MALFORMED);
    assert_null(batch);
    assert_non_null(strstr(err.message, "9223372036854775807"));
    assert_true(next == INT64_MAX - 1); /* not moved */
    fake_broker_stop(fb);
}

/* Codes from -100 down are the library's own (timeouts, closed connections, malformed
 * responses...): a broker that sends one must not be read as that condition. Every negative
 * code but -1, and codes the library does not know, become UNKNOWN_SERVER_ERROR. */
static void test_fetch_broker_code_in_client_range(void **state) {
    (void)state;
    fake_broker_t *fb = fake_broker_start();
    fb->fetch_error = KK_ERR_MALFORMED;
    fake_broker_run(fb);
    kk_fetch_batch_t *batch = NULL;
    int64_t next;
    kk_error_t err;
    assert_int_equal(fetch_once(fb, 0, &batch, &next, &err), KK_ERR_UNKNOWN_SERVER_ERROR);
    assert_null(batch);
    fake_broker_stop(fb);
}

static void test_produce_broker_code_in_client_range(void **state) {
    (void)state;
    fake_broker_t *fb = fake_broker_start();
    fb->produce_error = KK_ERR_NOT_ASSIGNED;
    fake_broker_run(fb);
    kk_message_t msgs[3];
    kk_error_t err;
    assert_int_not_equal(produce_three(fb, msgs, &err), KK_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(msgs[i].error, KK_ERR_UNKNOWN_SERVER_ERROR);
    fake_broker_stop(fb);
}

static void test_api_versions_broker_code_in_client_range(void **state) {
    (void)state;
    fake_broker_t *fb = fake_broker_start();
    fb->api_versions_error = KK_ERR_TIMED_OUT;
    fake_broker_run(fb);
    kk_message_t msgs[3];
    kk_error_t err;
    assert_int_not_equal(produce_three(fb, msgs, &err), KK_OK);
    assert_int_not_equal(err.code, KK_ERR_TIMED_OUT);
    assert_int_not_equal(msgs[0].error, KK_ERR_TIMED_OUT);
    fake_broker_stop(fb);
}

static void test_unknown_positive_broker_code(void **state) {
    (void)state;
    fake_broker_t *fb = fake_broker_start();
    fb->fetch_error = 30000; /* no such code (yet) */
    fake_broker_run(fb);
    kk_fetch_batch_t *batch = NULL;
    int64_t next;
    kk_error_t err;
    assert_int_equal(fetch_once(fb, 0, &batch, &next, &err), KK_ERR_UNKNOWN_SERVER_ERROR);
    fake_broker_stop(fb);
}

/* Runs one metadata request and returns its code; *elapsed in seconds. */
static int metadata_once(fake_broker_t *fb, int timeout_ms, kk_error_t *err, double *elapsed) {
    char bootstrap[64];
    kk_client_config_t cfg;
    kk_client_config_init(&cfg);
    client_config(&cfg, fb, bootstrap, sizeof(bootstrap));
    cfg.request_timeout_ms = timeout_ms;
    kk_client_t *client = kk_client_new(&cfg, err);
    assert_non_null(client);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    kk_metadata_t *md = NULL;
    int rc = kk_client_metadata(client, NULL, 0, &md, err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    *elapsed = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    kk_metadata_free(md);
    kk_client_free(client);
    return rc;
}

/* A length prefix of 100 MiB (allowed by the default limit) followed by nothing: the client
 * must not set aside 100 MiB for bytes that never come, and must time out clearly. */
static void test_100mib_prefix_then_nothing(void **state) {
    (void)state;
    fake_broker_t *fb = fake_broker_start();
    fb->metadata_mode = META_100MIB_THEN_NOTHING;
    size_t before = heap_in_use();
    fake_broker_run(fb);
    kk_error_t err;
    double elapsed;
    int rc = metadata_once(fb, 800, &err, &elapsed);
    assert_int_equal(rc, KK_ERR_TIMED_OUT);
    assert_non_null(strstr(err.message, "timed out"));
    size_t during = atomic_load(&fb->heap_while_waiting);
    fake_broker_stop(fb);
    if (before == 0) { /* an allocator that glibc's mallinfo2 does not see (ASan's) */
        print_message("heap not measurable with this allocator; only the timeout was checked\n");
        return;
    }
    assert_true(during > 0);
    size_t grew = during > before ? during - before : 0;
    print_message("heap while the client waited for a 100 MiB response: +%zu bytes\n", grew);
    assert_true(grew < (size_t)4 << 20);
}

/* A response that arrives a byte at a time: the deadline is for the whole response, not
 * renewed by each byte. */
static void test_slow_drip_times_out(void **state) {
    (void)state;
    fake_broker_t *fb = fake_broker_start();
    fb->metadata_mode = META_DRIP;
    fake_broker_run(fb);
    kk_error_t err;
    double elapsed;
    int rc = metadata_once(fb, 500, &err, &elapsed);
    assert_int_equal(rc, KK_ERR_TIMED_OUT);
    assert_non_null(strstr(err.message, "timed out"));
    /* the client may retry once on a new connection: two deadlines at most */
    assert_true(elapsed < 2.5);
    fake_broker_stop(fb);
}

static void test_wrong_correlation_id(void **state) {
    (void)state;
    fake_broker_t *fb = fake_broker_start();
    fb->metadata_mode = META_WRONG_CORRELATION;
    fake_broker_run(fb);
    kk_error_t err;
    double elapsed;
    assert_int_equal(metadata_once(fb, 2000, &err, &elapsed), KK_ERR_CORRELATION);
    assert_non_null(strstr(err.message, "correlation id"));
    fake_broker_stop(fb);
}

/* A zstd v2 batch of n records at base, each as small as a record gets (null key, empty value,
 * no headers: 7 to 10 bytes with its offset delta): about n x 10 bytes that compress to a few
 * hundred KB. Each record costs the decoder and the consumer 144 bytes of bookkeeping, 15 times
 * its own size. */
static void write_zstd_bomb(kk_writer_t *log, int64_t base, int32_t n) {
    kk_writer_t raw;
    kk_writer_init(&raw);
    for (int32_t i = 0; i < n; i++) {
        uint8_t body[16];
        size_t len = 0;
        body[len++] = 0; /* attributes */
        body[len++] = 0; /* timestamp delta 0 */
        for (uint32_t v = (uint32_t)i << 1; ; v >>= 7) { /* offset delta, zigzag varint */
            body[len++] = (uint8_t)(v & 0x7f) | (v > 0x7f ? 0x80 : 0);
            if (v <= 0x7f)
                break;
        }
        body[len++] = 1; /* key: null (-1) */
        body[len++] = 0; /* value: empty */
        body[len++] = 0; /* no headers */
        kk_write_uvarint(&raw, (uint32_t)len << 1);
        kk_write_raw(&raw, body, len);
    }
    uint8_t *packed = NULL;
    size_t packed_len = 0;
    kk_error_t err;
    assert_int_equal(kk_compress(KK_CODEC_ZSTD, raw.data, raw.len, &packed, &packed_len, &err), KK_OK);
    size_t start = log->len;
    kk_write_i64(log, base);
    kk_write_i32(log, (int32_t)(49 + packed_len)); /* the length after this field */
    kk_write_i32(log, 0);                         /* partition leader epoch */
    kk_write_i8(log, 2);                          /* magic */
    kk_write_i32(log, 0);                         /* CRC, below */
    kk_write_i16(log, KK_CODEC_ZSTD);             /* attributes */
    kk_write_i32(log, n - 1);                     /* last offset delta */
    kk_write_i64(log, 1700000000000LL);           /* base timestamp */
    kk_write_i64(log, 1700000000000LL);           /* max timestamp */
    kk_write_i64(log, -1);                        /* producer id */
    kk_write_i16(log, -1);                        /* producer epoch */
    kk_write_i32(log, -1);                        /* base sequence */
    kk_write_i32(log, n);                         /* record count */
    kk_write_raw(log, packed, packed_len);
    kk_writer_patch_i32(log, start + 17, (int32_t)kk_crc32c(0, log->data + start + 21, log->len - start - 21));
    print_message("a zstd batch of %d records: %zu bytes that decompress to %zu\n", (int)n,
                  log->len - start, raw.len);
    free(packed);
    kk_writer_free(&raw);
}

/* Several zstd bombs in one Fetch response, each 9 MiB of the smallest records: a consumer
 * with the default options decodes each fetch within max_decompressed_bytes (32 x max_bytes) and
 * max_records (max_bytes / 4), returns a part, and goes on from there with the next fetch until
 * it has returned every record exactly once. */
static void test_fetch_of_zstd_bombs_is_bounded(void **state) {
    (void)state;
    enum { BOMBS = 4, PER_BOMB = 1000000 };
    kk_writer_t log;
    kk_writer_init(&log);
    for (int i = 0; i < BOMBS; i++)
        write_zstd_bomb(&log, (int64_t)i * PER_BOMB, PER_BOMB);
    print_message("the partition's log: %zu bytes, %d records\n", log.len, BOMBS * PER_BOMB);
    fake_broker_t *fb = fake_broker_start();
    fb->fetch_log = &log;
    fake_broker_run(fb);

    char bootstrap[64];
    kk_consumer_config_t cfg;
    kk_consumer_config_init(&cfg);
    client_config(&cfg.client, fb, bootstrap, sizeof(bootstrap));
    cfg.topic = TOPIC;
    cfg.partition = 0;
    cfg.offset = (kk_offset_spec_t){KK_OFFSET_AT, 0};
    cfg.failover_tries = 0;
    kk_error_t err;
    kk_consumer_t *c = kk_consumer_new(&cfg, &err);
    assert_non_null(c);
    const long budget = 32L << 20, max_records = 1048576 / 4;
    int64_t seen = 0;
    long worst = 0;
    int fetches = 0;
    while (seen < (int64_t)BOMBS * PER_BOMB) {
        assert_true(++fetches <= 4 * BOMBS * PER_BOMB / max_records); /* no stall */
        long base = peak_reset();
        kk_fetch_batch_t *batch = NULL;
        if (kk_consumer_fetch(c, NULL, &batch, &err) != KK_OK)
            fail_msg("fetch %d: %s", fetches, err.message);
        long peak = atomic_load(&allocated_peak) - base;
        if (peak > worst)
            worst = peak;
        if (batch->count == 0 || batch->count > (size_t)max_records)
            fail_msg("fetch %d: %zu records (allocated at most %ld bytes at once)", fetches,
                     batch->count, peak);
        for (size_t i = 0; i < batch->count; i++)
            if (batch->messages[i].offset != seen++)
                fail_msg("fetch %d: message %zu has offset %lld, not %lld", fetches, i,
                         (long long)batch->messages[i].offset, (long long)seen - 1);
        assert_true(kk_consumer_next_offset(c) == seen);
        kk_fetch_batch_free(batch);
    }
    print_message("%d records in %d fetches; the most one fetch had allocated at once: %ld bytes%s\n",
                  BOMBS * PER_BOMB, fetches, worst, MEASURED ? "" : " (not measured under ASan)");
    /* The decompressed batches (at most the budget, or the first batch alone), the records'
     * bookkeeping in the decoder and in the batch (144 bytes each), and room for the response,
     * the codec's state and the allocator's rounding. */
    if (MEASURED)
        assert_true(worst <= budget + max_records * 144 + (16L << 20));
    kk_consumer_free(c);
    fake_broker_stop(fb);
    kk_writer_free(&log);
}

/* The producer's engine keeps its encoding scratch from batch to batch, but not one that a
 * record far over batch_size grew: after an 8 MiB lz4 record is delivered, what the process
 * holds is back within 1 MiB of where it was before it. */
static void test_engine_keeps_no_oversized_scratch(void **state) {
    (void)state;
    fake_broker_t *fb = fake_broker_start();
    fake_broker_run(fb);
    char bootstrap[64];
    kk_producer_config_t cfg;
    kk_producer_config_init(&cfg);
    client_config(&cfg.client, fb, bootstrap, sizeof(bootstrap));
    cfg.compression = KK_CODEC_LZ4;
    cfg.linger_ms = 0;
    kk_error_t err;
    kk_producer_t *p = kk_producer_new(&cfg, &err);
    assert_non_null(p);
    enum { BIG = 8 << 20 };
    uint8_t *big = malloc(BIG);
    assert_non_null(big);
    memset(big, 'a', BIG); /* compresses to little: the request stays small */
    kk_delivery_report_t reports[2];
    long before = 0;
    for (int round = 0; round < 2; round++) {
        kk_produce_message_t msg = {.topic = TOPIC, .partition = 0, .value = big,
                                    .value_len = round ? BIG : 1};
        assert_int_equal(kk_producer_produce(p, &msg, &err), KK_OK);
        assert_int_equal(kk_producer_flush(p, 10000, NULL, &err), KK_OK);
        assert_int_equal(kk_producer_poll(p, reports, 2, 0), 1);
        assert_int_equal(reports[0].error, KK_OK);
        (void)kk_producer_poll(p, reports, 2, 0); /* frees what the last poll returned */
        if (round == 0)
            before = atomic_load(&allocated); /* connected, one small batch sent */
    }
    long grown = atomic_load(&allocated) - before;
    print_message("after an 8 MiB record: %ld bytes more in use%s\n", grown,
                  MEASURED ? "" : " (not measured under ASan)");
    if (MEASURED)
        assert_true(grown < 1L << 20);
    free(big);
    kk_producer_free(p);
    fake_broker_stop(fb);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_produce_offsets_in_range),
        cmocka_unit_test(test_produce_base_offset_overflow_is_malformed),
        cmocka_unit_test(test_fetch_up_to_last_offset_below_max),
        cmocka_unit_test(test_fetch_record_at_int64_max_is_malformed),
        cmocka_unit_test(test_fetch_broker_code_in_client_range),
        cmocka_unit_test(test_produce_broker_code_in_client_range),
        cmocka_unit_test(test_api_versions_broker_code_in_client_range),
        cmocka_unit_test(test_unknown_positive_broker_code),
        cmocka_unit_test(test_100mib_prefix_then_nothing),
        cmocka_unit_test(test_slow_drip_times_out),
        cmocka_unit_test(test_wrong_correlation_id),
        cmocka_unit_test(test_fetch_of_zstd_bombs_is_bounded),
        cmocka_unit_test(test_engine_keeps_no_oversized_scratch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
