/*
 * kafkette's acknowledgement latency with linger_ms 0: one message at a time, each waited for
 * before the next, on a fresh one-partition topic. After W warm-up round trips (not counted), N
 * round trips are timed from just before the message is handed over to the moment its delivery
 * report (or kk_producer_send's result) is in the caller's hands. Every message must come back
 * delivered at offset = its position. Prints one LATENCY line (see bench_common.h).
 *
 *   latency_bench -b BOOTSTRAP -t TOPIC [-m produce|send] [-n ROUND_TRIPS] [-w WARMUP] [-s SIZE]
 *                 [-a 1|all] [-r REPLICATION]
 *
 * produce: kk_producer_produce, then kk_producer_poll with no time limit until its report
 *          (peer "kk-produce"); send: kk_producer_send of one message (peer "kk-send").
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kafkette.h" /* before bench_common.h, for bench_security() */

#include "bench_common.h"

static void usage(void) {
    fprintf(stderr, "usage: latency_bench -b BOOTSTRAP -t TOPIC [-m produce|send] [-n ROUND_TRIPS] "
                    "[-w WARMUP] [-s SIZE] [-a 1|all] [-r REPLICATION]\n");
    exit(2);
}

static void release_nothing(void *opaque, void *key, void *value) {
    (void)opaque;
    (void)key;
    (void)value;
}

/* One message produced and its report awaited; returns once the report is in hand. */
static void round_trip_produce(kk_producer_t *p, const char *topic, const uint8_t *value,
                               size_t size, uint64_t i) {
    kk_error_t err;
    kk_produce_message_t msg = {.topic = topic,
                                .partition = 0,
                                .value = value,
                                .value_len = size,
                                .opaque = (void *)(uintptr_t)(i + 1),
                                .release = release_nothing};
    if (kk_producer_produce(p, &msg, &err) != KK_OK)
        bench_die("kk_producer_produce at round trip %llu: %s", (unsigned long long)i, err.message);
    kk_delivery_report_t r;
    size_t n;
    while ((n = kk_producer_poll(p, &r, 1, -1)) == 0) {
    }
    if (r.opaque != msg.opaque || r.error != KK_OK || r.partition != 0 || r.offset != (int64_t)i)
        bench_die("round trip %llu: error %d (%s), partition %d, offset %lld",
                  (unsigned long long)i, r.error, kk_err_name(r.error), (int)r.partition,
                  (long long)r.offset);
}

static void round_trip_send(kk_producer_t *p, const char *topic, const uint8_t *value, size_t size,
                            uint64_t i) {
    kk_error_t err;
    kk_message_t msg = {.topic = topic, .value = value, .value_len = size, .partition = 0};
    if (kk_producer_send(p, &msg, 1, &err) != KK_OK)
        bench_die("kk_producer_send at round trip %llu: %s", (unsigned long long)i, err.message);
    if (msg.error != KK_OK || msg.result_partition != 0 || msg.offset != (int64_t)i)
        bench_die("round trip %llu: error %d, partition %d, offset %lld", (unsigned long long)i,
                  msg.error, (int)msg.result_partition, (long long)msg.offset);
}

int main(int argc, char **argv) {
    const char *bootstrap = NULL, *topic = NULL, *mode = "produce";
    unsigned long long rounds = 2000, warmup = 200;
    size_t size = 100;
    int acks = 1, replication = 1, opt;
    while ((opt = getopt(argc, argv, "b:t:m:n:w:s:a:r:")) != -1) {
        switch (opt) {
        case 'b':
            bootstrap = optarg;
            break;
        case 't':
            topic = optarg;
            break;
        case 'm':
            mode = optarg;
            break;
        case 'n':
            rounds = strtoull(optarg, NULL, 10);
            break;
        case 'w':
            warmup = strtoull(optarg, NULL, 10);
            break;
        case 's':
            size = strtoul(optarg, NULL, 10);
            break;
        case 'a':
            acks = bench_acks(optarg);
            break;
        case 'r':
            replication = atoi(optarg);
            break;
        default:
            usage();
        }
    }
    bool send = strcmp(mode, "send") == 0;
    if (!bootstrap || !topic || rounds == 0 || (acks != 1 && acks != -1) || replication < 1 ||
        (!send && strcmp(mode, "produce") != 0))
        usage();

    kk_error_t err;
    bench_create_topic(bootstrap, topic, 1, replication);

    bench_payload_t payload;
    bench_payload_init(&payload, size);
    double *lat = malloc((size_t)rounds * sizeof(*lat));
    if (!lat)
        bench_die("out of memory");

    kk_producer_config_t cfg;
    kk_producer_config_init(&cfg);
    cfg.client.bootstrap_servers = bootstrap;
    cfg.client.client_id = "kafkette-bench";
    bench_security(&cfg.client);
    cfg.required_acks = (int16_t)acks;
    cfg.linger_ms = 0;
    bench_producer_overrides(&cfg);
    kk_producer_t *p = kk_producer_new(&cfg, &err);
    if (!p)
        bench_die("kk_producer_new: %s", err.message);

    double cpu0 = 0, t0 = 0;
    for (uint64_t i = 0; i < warmup + rounds; i++) {
        if (i == warmup) {
            cpu0 = bench_cpu();
            t0 = bench_now();
        }
        double start = bench_now();
        if (send)
            round_trip_send(p, topic, bench_value(&payload, i), size, i);
        else
            round_trip_produce(p, topic, bench_value(&payload, i), size, i);
        if (i >= warmup)
            lat[i - warmup] = bench_now() - start;
    }
    double wall = bench_now() - t0, cpu = bench_cpu() - cpu0;

    char setting[96];
    snprintf(setting, sizeof(setting), "%s,linger_ms=0,rf=%d%s",
             send ? "send(1)" : "produce+poll(-1)", replication,
             acks == -1 ? (cfg.enable_idempotence ? ",idempotence=on" : ",idempotence=off") : "");
    bench_latency_report(send ? "kk-send" : "kk-produce", acks == -1 ? "all" : "1", setting, lat,
                         (size_t)rounds, wall, cpu);
    kk_producer_free(p);
    free(lat);
    bench_payload_free(&payload);
    return 0;
}
