/*
 * The client against a misbehaving fake broker on loopback: it answers ApiVersions
 * properly, then breaks the Metadata request in one chosen way. Every case must end in its
 * own clear error, quickly, with no crash and no endless wait.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buffer.h"
#include "fake_wire.h"
#include "connection.h"
#include "kafkette.h"

typedef enum scenario {
    ANSWER_PROPERLY,   /* a valid Metadata v12 response with one broker */
    NEVER_ANSWER,      /* read the request, stay silent */
    CLOSE_MID_RESPONSE,/* announce 100 bytes, send 10, close */
    HUGE_LENGTH,       /* a 2 GiB length prefix */
    WRONG_CORRELATION, /* a well-formed response with the wrong correlation id */
    SHORT_BODY,        /* a response that ends in the middle of its fields */
    CLOSE_ON_REQUEST,  /* close the socket as soon as the request arrives */
} scenario_t;

typedef struct fake_broker {
    int listen_fd;
    int port;
    scenario_t scenario;
    atomic_bool stop;
    atomic_int metadata_requests;
    pthread_t thread;
} fake_broker_t;

static void answer_api_versions(int fd, int16_t version, int32_t correlation_id) {
    kk_writer_t body;
    kk_writer_init(&body);
    kk_write_i16(&body, 0);
    kk_write_array_len_v(&body, 2, version >= 3);
    const int16_t ranges[2][3] = {{KK_API_METADATA, 0, 12}, {KK_API_API_VERSIONS, 0, 3}};
    for (int i = 0; i < 2; i++) {
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

static void answer_metadata(fake_broker_t *fb, int fd, int32_t correlation_id) {
    kk_writer_t body;
    kk_writer_init(&body);
    kk_write_empty_tags(&body); /* response header v1 tags: part of the frame after the id */
    kk_write_i32(&body, 0);     /* throttle */
    kk_write_compact_array_len(&body, 1);
    kk_write_i32(&body, 1);
    kk_write_compact_string(&body, "127.0.0.1");
    kk_write_i32(&body, fb->port);
    kk_write_compact_string(&body, NULL);
    kk_write_empty_tags(&body);
    kk_write_compact_string(&body, "fake-cluster");
    kk_write_i32(&body, 1);
    kk_write_compact_array_len(&body, 0);
    kk_write_empty_tags(&body);
    switch (fb->scenario) {
    case WRONG_CORRELATION:
        fake_send_frame(fd, &body, correlation_id + 1);
        break;
    case SHORT_BODY:
        body.len -= 6; /* cut inside the cluster id */
        fake_send_frame(fd, &body, correlation_id);
        break;
    default:
        fake_send_frame(fd, &body, correlation_id);
    }
    kk_writer_free(&body);
}

static void serve_connection(fake_broker_t *fb, int fd) {
    for (;;) {
        uint8_t size_bytes[4];
        if (!fake_read_exact(&fb->stop, fd, size_bytes, 4))
            return;
        uint32_t size = (uint32_t)size_bytes[0] << 24 | (uint32_t)size_bytes[1] << 16 |
                        (uint32_t)size_bytes[2] << 8 | size_bytes[3];
        uint8_t *request = malloc(size);
        if (!fake_read_exact(&fb->stop, fd, request, size)) {
            free(request);
            return;
        }
        kk_reader_t r;
        kk_reader_init(&r, request, size);
        int16_t api_key = kk_read_i16(&r);
        int16_t version = kk_read_i16(&r);
        int32_t correlation_id = kk_read_i32(&r);
        free(request);
        if (api_key == KK_API_API_VERSIONS) {
            answer_api_versions(fd, version, correlation_id);
            continue;
        }
        atomic_fetch_add(&fb->metadata_requests, 1);
        switch (fb->scenario) {
        case NEVER_ANSWER:
            while (!atomic_load(&fb->stop)) {
                uint8_t sink[64];
                struct pollfd p = {.fd = fd, .events = POLLIN};
                if (poll(&p, 1, 50) > 0 && recv(fd, sink, sizeof(sink), 0) <= 0)
                    return;
            }
            return;
        case CLOSE_MID_RESPONSE: {
            const uint8_t partial[14] = {0, 0, 0, 100, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6};
            ssize_t ignored = send(fd, partial, sizeof(partial), MSG_NOSIGNAL);
            (void)ignored;
            return;
        }
        case HUGE_LENGTH: {
            const uint8_t huge[8] = {0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0};
            ssize_t ignored = send(fd, huge, sizeof(huge), MSG_NOSIGNAL);
            (void)ignored;
            return;
        }
        case CLOSE_ON_REQUEST:
            return;
        default:
            answer_metadata(fb, fd, correlation_id);
        }
    }
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
        serve_connection(fb, fd);
        close(fd);
    }
    return NULL;
}

static fake_broker_t *fake_broker_start(scenario_t scenario) {
    fake_broker_t *fb = calloc(1, sizeof(*fb));
    fb->scenario = scenario;
    fb->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fb->listen_fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    assert_int_equal(listen(fb->listen_fd, 8), 0);
    socklen_t len = sizeof(addr);
    getsockname(fb->listen_fd, (struct sockaddr *)&addr, &len);
    fb->port = ntohs(addr.sin_port);
    pthread_create(&fb->thread, NULL, fake_broker_main, fb);
    return fb;
}

static void fake_broker_stop(fake_broker_t *fb) {
    atomic_store(&fb->stop, true);
    pthread_join(fb->thread, NULL);
    close(fb->listen_fd);
    free(fb);
}

static double seconds_since(const struct timespec *start) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* Runs one metadata request against a fake broker and returns the error code. */
static int metadata_against(fake_broker_t *fb, int request_timeout_ms, kk_error_t *err,
                            double *elapsed) {
    char bootstrap[64];
    snprintf(bootstrap, sizeof(bootstrap), "127.0.0.1:%d", fb->port);
    kk_client_config_t cfg;
    kk_client_config_init(&cfg);
    cfg.bootstrap_servers = bootstrap;
    cfg.request_timeout_ms = request_timeout_ms;
    cfg.max_response_bytes = 1 << 20;
    kk_client_t *client = kk_client_new(&cfg, err);
    assert_non_null(client);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    kk_metadata_t *md = NULL;
    int rc = kk_client_metadata(client, NULL, 0, &md, err);
    if (elapsed)
        *elapsed = seconds_since(&start);
    if (rc == KK_OK) {
        assert_non_null(md);
        assert_string_equal(md->cluster_id, "fake-cluster");
        assert_int_equal(kk_client_api_version(client, KK_API_METADATA), 12);
    } else {
        assert_null(md);
    }
    kk_metadata_free(md);
    kk_client_free(client);
    return rc;
}

static void test_fake_broker_answers_properly(void **state) {
    (void)state;
    fake_broker_t *fb = fake_broker_start(ANSWER_PROPERLY);
    kk_error_t err;
    assert_int_equal(metadata_against(fb, 2000, &err, NULL), KK_OK);
    fake_broker_stop(fb);
}

static void test_silent_broker_times_out(void **state) {
    (void)state;
    fake_broker_t *fb = fake_broker_start(NEVER_ANSWER);
    kk_error_t err;
    double elapsed;
    assert_int_equal(metadata_against(fb, 300, &err, &elapsed), KK_ERR_TIMED_OUT);
    assert_non_null(strstr(err.message, "timed out"));
    assert_true(elapsed >= 0.25 && elapsed < 3.0);
    fake_broker_stop(fb);
}

static void test_close_mid_response(void **state) {
    (void)state;
    fake_broker_t *fb = fake_broker_start(CLOSE_MID_RESPONSE);
    kk_error_t err;
    /* the client retries once on a fresh connection, which fails the same way */
    assert_int_equal(metadata_against(fb, 2000, &err, NULL), KK_ERR_CONNECTION_CLOSED);
    assert_non_null(strstr(err.message, "middle of a response"));
    assert_int_equal(atomic_load(&fb->metadata_requests), 2);
    fake_broker_stop(fb);
}

static void test_close_on_request(void **state) {
    (void)state;
    fake_broker_t *fb = fake_broker_start(CLOSE_ON_REQUEST);
    kk_error_t err;
    assert_int_equal(metadata_against(fb, 2000, &err, NULL), KK_ERR_CONNECTION_CLOSED);
    assert_non_null(strstr(err.message, "closed the connection"));
    fake_broker_stop(fb);
}

static void test_huge_length_prefix(void **state) {
    (void)state;
    fake_broker_t *fb = fake_broker_start(HUGE_LENGTH);
    kk_error_t err;
    assert_int_equal(metadata_against(fb, 2000, &err, NULL), KK_ERR_RESPONSE_TOO_LARGE);
    assert_non_null(strstr(err.message, "over the limit"));
    fake_broker_stop(fb);
}

static void test_wrong_correlation_id(void **state) {
    (void)state;
    fake_broker_t *fb = fake_broker_start(WRONG_CORRELATION);
    kk_error_t err;
    assert_int_equal(metadata_against(fb, 2000, &err, NULL), KK_ERR_CORRELATION);
    assert_non_null(strstr(err.message, "correlation id"));
    fake_broker_stop(fb);
}

static void test_short_body_is_malformed(void **state) {
    (void)state;
    fake_broker_t *fb = fake_broker_start(SHORT_BODY);
    kk_error_t err;
    assert_int_equal(metadata_against(fb, 2000, &err, NULL), KK_ERR_MALFORMED);
    assert_non_null(strstr(err.message, "malformed"));
    fake_broker_stop(fb);
}

static void test_refused_port_fails_fast(void **state) {
    (void)state;
    /* bind and close to get a port nobody listens on */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&addr, sizeof(addr));
    socklen_t len = sizeof(addr);
    getsockname(fd, (struct sockaddr *)&addr, &len);
    close(fd);
    char bootstrap[64];
    snprintf(bootstrap, sizeof(bootstrap), "127.0.0.1:%d", ntohs(addr.sin_port));
    kk_client_config_t cfg;
    kk_client_config_init(&cfg);
    cfg.bootstrap_servers = bootstrap;
    kk_error_t err;
    kk_client_t *client = kk_client_new(&cfg, &err);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_int_equal(kk_client_connect(client, &err), KK_ERR_CONNECTION_REFUSED);
    assert_true(seconds_since(&start) < 1.0);
    assert_non_null(strstr(err.message, "connection refused"));
    assert_non_null(strstr(err.message, bootstrap));
    kk_client_free(client);
}

static void test_unresolvable_host(void **state) {
    (void)state;
    kk_client_config_t cfg;
    kk_client_config_init(&cfg);
    cfg.bootstrap_servers = "no-such-host.invalid:9092";
    kk_error_t err;
    kk_client_t *client = kk_client_new(&cfg, &err);
    assert_int_equal(kk_client_connect(client, &err), KK_ERR_RESOLVE);
    assert_non_null(strstr(err.message, "no-such-host.invalid"));
    kk_client_free(client);
}

typedef struct interrupt_job {
    kk_client_t *client;
    int delay_ms;
} interrupt_job_t;

static void *interrupt_later(void *arg) {
    interrupt_job_t *job = arg;
    usleep((useconds_t)job->delay_ms * 1000);
    kk_client_interrupt(job->client);
    return NULL;
}

static void test_interrupt_from_another_thread(void **state) {
    (void)state;
    fake_broker_t *fb = fake_broker_start(NEVER_ANSWER);
    char bootstrap[64];
    snprintf(bootstrap, sizeof(bootstrap), "127.0.0.1:%d", fb->port);
    kk_client_config_t cfg;
    kk_client_config_init(&cfg);
    cfg.bootstrap_servers = bootstrap;
    cfg.request_timeout_ms = 20000;
    kk_error_t err;
    kk_client_t *client = kk_client_new(&cfg, &err);
    interrupt_job_t job = {client, 200};
    pthread_t thread;
    pthread_create(&thread, NULL, interrupt_later, &job);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    kk_metadata_t *md = NULL;
    assert_int_equal(kk_client_metadata(client, NULL, 0, &md, &err), KK_ERR_INTERRUPTED);
    double elapsed = seconds_since(&start);
    assert_true(elapsed >= 0.15 && elapsed < 1.0);
    pthread_join(thread, NULL);
    /* sticky until cleared */
    assert_int_equal(kk_client_metadata(client, NULL, 0, &md, &err), KK_ERR_INTERRUPTED);
    kk_client_clear_interrupt(client);
    fake_broker_stop(fb);
    kk_client_free(client);
}

static bool abort_after_three_checks(void *opaque) {
    int *calls = opaque;
    return ++*calls > 3;
}

/* Bindings poll for Ctrl-C through interrupt_check: it must be called in slices while a
 * request waits, and its "abort" must end the wait. */
static void test_interrupt_check_polled_while_waiting(void **state) {
    (void)state;
    fake_broker_t *fb = fake_broker_start(NEVER_ANSWER);
    char bootstrap[64];
    snprintf(bootstrap, sizeof(bootstrap), "127.0.0.1:%d", fb->port);
    int calls = 0;
    kk_client_config_t cfg;
    kk_client_config_init(&cfg);
    cfg.bootstrap_servers = bootstrap;
    cfg.request_timeout_ms = 20000;
    cfg.interrupt_check = abort_after_three_checks;
    cfg.interrupt_opaque = &calls;
    kk_error_t err;
    kk_client_t *client = kk_client_new(&cfg, &err);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    kk_metadata_t *md = NULL;
    assert_int_equal(kk_client_metadata(client, NULL, 0, &md, &err), KK_ERR_INTERRUPTED);
    assert_true(seconds_since(&start) < 2.0);
    assert_int_equal(calls, 4);
    kk_client_free(client);
    fake_broker_stop(fb);
}

static void test_host_port_parsing(void **state) {
    (void)state;
    char host[256];
    int port;
    kk_error_t err;
    const char *ok = " broker-1.example:9092 ";
    assert_int_equal(kk_parse_host_port(ok, strlen(ok), host, sizeof(host), &port, &err), KK_OK);
    assert_string_equal(host, "broker-1.example");
    assert_int_equal(port, 9092);
    const char *v6 = "[::1]:19092";
    assert_int_equal(kk_parse_host_port(v6, strlen(v6), host, sizeof(host), &port, &err), KK_OK);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 19092);
    const char *bad[] = {"nohost", ":9092", "h:", "h:0", "h:65536", "h:12x", "[::1]9092"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(kk_parse_host_port(bad[i], strlen(bad[i]), host, sizeof(host), &port, &err),
                         KK_ERR_INVALID_ARG);
}

static void test_bad_client_config(void **state) {
    (void)state;
    kk_client_config_t cfg;
    kk_client_config_init(&cfg);
    kk_error_t err;
    assert_null(kk_client_new(&cfg, &err));
    assert_int_equal(err.code, KK_ERR_INVALID_ARG);
    cfg.bootstrap_servers = " , ";
    assert_null(kk_client_new(&cfg, &err));
    assert_non_null(strstr(err.message, "empty"));
    assert_null(kk_client_new(NULL, &err));
    kk_metadata_t *md;
    assert_int_equal(kk_client_metadata(NULL, NULL, 0, &md, &err), KK_ERR_INVALID_ARG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fake_broker_answers_properly),
        cmocka_unit_test(test_silent_broker_times_out),
        cmocka_unit_test(test_close_mid_response),
        cmocka_unit_test(test_close_on_request),
        cmocka_unit_test(test_huge_length_prefix),
        cmocka_unit_test(test_wrong_correlation_id),
        cmocka_unit_test(test_short_body_is_malformed),
        cmocka_unit_test(test_refused_port_fails_fast),
        cmocka_unit_test(test_unresolvable_host),
        cmocka_unit_test(test_interrupt_from_another_thread),
        cmocka_unit_test(test_interrupt_check_polled_while_waiting),
        cmocka_unit_test(test_host_port_parsing),
        cmocka_unit_test(test_bad_client_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
