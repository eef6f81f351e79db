/*
 * kafkette consumer throughput: read N records from the earliest offset of partition 0 with
 * kk_consumer_fetch. Every record must arrive, at consecutive offsets from 0, with the value
 * the benchmark producers wrote; anything else fails the run. Prints one RESULT line.
 *
 *   consumer_bench -b BOOTSTRAP -t TOPIC [-n RECORDS] [-s SIZE] [-m MAX_BYTES] [-c CODEC-LABEL]
 *                  [-o earliest|OFFSET]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kafkette.h" /* before bench_common.h, for bench_security() */
#include "bench_common.h"

static void usage(void) {
    fprintf(stderr, "usage: consumer_bench -b BOOTSTRAP -t TOPIC [-n RECORDS] [-s SIZE] [-m MAX_BYTES] "
                    "[-c CODEC-LABEL] [-o earliest|OFFSET]\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *bootstrap = NULL, *topic = NULL, *codec_label = "none";
    unsigned long long records = 1000000;
    size_t size = 100;
    long max_bytes = 4 * 1024 * 1024;
    kk_offset_spec_t start = {KK_OFFSET_EARLIEST, 0};
    int opt;
    while ((opt = getopt(argc, argv, "b:t:n:s:m:c:o:")) != -1) {
        switch (opt) {
        case 'b': bootstrap = optarg; break;
        case 't': topic = optarg; break;
        case 'n': records = strtoull(optarg, NULL, 10); break;
        case 's': size = strtoul(optarg, NULL, 10); break;
        case 'm': max_bytes = strtol(optarg, NULL, 10); break;
        case 'c': codec_label = optarg; break;
        case 'o':
            if (strcmp(optarg, "earliest") != 0)
                start = (kk_offset_spec_t){KK_OFFSET_AT, strtoll(optarg, NULL, 10)};
            break;
        default: usage();
        }
    }
    if (!bootstrap || !topic || records == 0 || max_bytes <= 0 || max_bytes > INT32_MAX || start.value < 0)
        usage();

    bench_payload_t payload;
    bench_payload_init(&payload, size);

    double broker0 = bench_broker_cpu(), cpu0 = bench_cpu(), t0 = bench_now();
    kk_consumer_config_t cfg;
    kk_consumer_config_init(&cfg);
    cfg.client.bootstrap_servers = bootstrap;
    cfg.client.client_id = "kafkette-bench";
    bench_security(&cfg.client);
    cfg.topic = topic;
    cfg.partition = 0;
    cfg.offset = start;
    cfg.max_bytes = (int32_t)max_bytes;
    cfg.max_wait_ms = 500; /* as librdkafka's fetch.wait.max.ms; only matters at the end of the log */
    kk_error_t err;
    kk_consumer_t *c = kk_consumer_new(&cfg, &err);
    if (!c)
        bench_die("kk_consumer_new: %s", err.message);

    /* records [from, end) must arrive in order; from is 0 unless -o names an offset */
    uint64_t from = start.kind == KK_OFFSET_AT ? (uint64_t)start.value : 0, end = from + records;
    uint64_t expected = from, fetches = 0, empty = 0, first_records = 0;
    double first_s = 0;
    while (expected < end) {
        kk_fetch_batch_t *batch = NULL;
        if (kk_consumer_fetch(c, NULL, &batch, &err) != KK_OK)
            bench_die("kk_consumer_fetch at offset %llu: %s", (unsigned long long)expected, err.message);
        fetches++;
        if (expected == from && batch->count > 0) {
            first_s = bench_now() - t0;
            first_records = batch->count;
        }
        if (batch->count == 0 && ++empty > 20)
            bench_die("no records after %llu of %llu (does the topic hold that many?)",
                      (unsigned long long)(expected - from), records);
        for (size_t i = 0; i < batch->count && expected < end; i++) {
            const kk_fetched_message_t *m = &batch->messages[i];
            if (m->offset != (int64_t)expected)
                bench_die("offset %lld where %llu was expected: records lost or repeated", (long long)m->offset,
                          (unsigned long long)expected);
            if (m->value_len != size || memcmp(m->value, bench_value(&payload, expected), size) != 0)
                bench_die("offset %llu: the value is not what the producer wrote", (unsigned long long)expected);
            expected++;
        }
        kk_fetch_batch_free(batch);
    }
    double wall = bench_now() - t0, cpu = bench_cpu() - cpu0;
    double broker = broker0 >= 0 ? bench_broker_cpu() - broker0 : -1;

    char setting[128];
    if (start.kind == KK_OFFSET_EARLIEST)
        snprintf(setting, sizeof(setting), "max_bytes=%ld,from=earliest,fetches=%llu", max_bytes,
                 (unsigned long long)fetches);
    else
        snprintf(setting, sizeof(setting), "max_bytes=%ld,from=%llu,fetches=%llu", max_bytes,
                 (unsigned long long)from, (unsigned long long)fetches);
    bench_report(&(bench_result_t){"kafkette", "consume", codec_label, setting, expected - from, size, wall, cpu, first_s,
                                   first_records, broker});
    kk_consumer_free(c);
    bench_payload_free(&payload);
    return 0;
}
