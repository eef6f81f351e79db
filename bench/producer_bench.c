/*
 * kafkette producer throughput: N records of S bytes to a fresh one-partition topic, sent with
 * kk_producer_send in calls of B messages. Every message must come back delivered, at the next
 * offset; anything else fails the run. Prints one RESULT line (see bench_common.h).
 *
 *   producer_bench -b BOOTSTRAP -t TOPIC [-n RECORDS] [-s SIZE] [-B BATCH] [-c CODEC] [-a ACKS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kafkette.h" /* before bench_common.h, for bench_security() */
#include "bench_common.h"

static void usage(void) {
    fprintf(stderr, "usage: producer_bench -b BOOTSTRAP -t TOPIC [-n RECORDS] [-s SIZE] [-B BATCH] "
                    "[-c none|gzip|snappy|lz4|zstd] [-a ACKS]\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *bootstrap = NULL, *topic = NULL, *codec_name = "none";
    unsigned long long records = 1000000;
    size_t size = 100, batch = 10000;
    int acks = 1;
    int opt;
    while ((opt = getopt(argc, argv, "b:t:n:s:B:c:a:")) != -1) {
        switch (opt) {
        case 'b': bootstrap = optarg; break;
        case 't': topic = optarg; break;
        case 'n': records = strtoull(optarg, NULL, 10); break;
        case 's': size = strtoul(optarg, NULL, 10); break;
        case 'B': batch = strtoul(optarg, NULL, 10); break;
        case 'c': codec_name = optarg; break;
        case 'a': acks = atoi(optarg); break;
        default: usage();
        }
    }
    if (!bootstrap || !topic || records == 0 || batch == 0 || acks == 0)
        usage(); /* acks 0 returns no offsets, so nothing could be verified */
    kk_codec_t codec;
    if (kk_codec_from_name(codec_name, &codec) != KK_OK)
        bench_die("unknown codec %s", codec_name);

    kk_error_t err;
    kk_client_config_t ccfg;
    kk_client_config_init(&ccfg);
    ccfg.bootstrap_servers = bootstrap;
    ccfg.client_id = "kafkette-bench-admin";
    bench_security(&ccfg);
    kk_client_t *admin = kk_client_new(&ccfg, &err);
    if (!admin)
        bench_die("kk_client_new: %s", err.message);
    if (kk_client_create_topic(admin, topic, 1, 1, NULL, 0, 30000, &err) != KK_OK)
        bench_die("create topic %s: %s", topic, err.message);
    kk_client_free(admin);

    bench_payload_t payload;
    bench_payload_init(&payload, size);
    kk_message_t *msgs = calloc(batch, sizeof(*msgs));
    if (!msgs)
        bench_die("out of memory for %zu messages", batch);

    double broker0 = bench_broker_cpu(), cpu0 = bench_cpu(), t0 = bench_now();
    kk_producer_config_t cfg;
    kk_producer_config_init(&cfg);
    cfg.client.bootstrap_servers = bootstrap;
    cfg.client.client_id = "kafkette-bench";
    bench_security(&cfg.client);
    cfg.required_acks = (int16_t)acks;
    cfg.compression = codec;
    kk_producer_t *p = kk_producer_new(&cfg, &err);
    if (!p)
        bench_die("kk_producer_new: %s", err.message);

    uint64_t sent = 0;
    while (sent < records) {
        size_t n = records - sent < batch ? (size_t)(records - sent) : batch;
        for (size_t i = 0; i < n; i++)
            msgs[i] = (kk_message_t){.topic = topic, .value = bench_value(&payload, sent + i),
                                     .value_len = size, .partition = -1};
        if (kk_producer_send(p, msgs, n, &err) != KK_OK)
            bench_die("kk_producer_send after %llu records: %s", (unsigned long long)sent, err.message);
        /* A fresh partition: the record sent k-th must sit at offset k, exactly once. */
        for (size_t i = 0; i < n; i++)
            if (msgs[i].error != KK_OK || msgs[i].result_partition != 0 ||
                msgs[i].offset != (int64_t)(sent + i))
                bench_die("record %llu: error %d, partition %d, offset %lld (expected offset %llu)",
                          (unsigned long long)(sent + i), msgs[i].error, (int)msgs[i].result_partition,
                          (long long)msgs[i].offset, (unsigned long long)(sent + i));
        sent += n;
    }
    double wall = bench_now() - t0, cpu = bench_cpu() - cpu0;
    double broker = broker0 >= 0 ? bench_broker_cpu() - broker0 : -1;

    char setting[64];
    snprintf(setting, sizeof(setting), "send_batch=%zu", batch);
    bench_report(&(bench_result_t){"kafkette", "produce", codec_name, setting, sent, size, wall, cpu, 0, 0,
                                   broker});
    kk_producer_free(p);
    free(msgs);
    bench_payload_free(&payload);
    return 0;
}
