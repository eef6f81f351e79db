/*
 * kafkette producer throughput: N records of S bytes to a fresh topic (one partition unless -P,
 * replication factor 1 unless -r), sent with kk_producer_send in calls of B messages, or (-A) one
 * kk_producer_produce per record with kk_producer_poll every 1,024 records and a final
 * kk_producer_flush (peer "kafkette-produce"). Messages have no key: with -R record i names
 * partition i % P itself (round-robin, the same placement rdkafka_bench -R asks for), otherwise
 * partition -1 leaves it to kafkette's keyless placement (per message: sticky until the
 * partition's batch goes out; kk_producer_send: round-robin).
 * Every message must come back delivered: on one partition at offset = its position; on several
 * (in the partition -R named), each partition's offsets 0..count-1 exactly once. Anything else
 * fails the run. Prints one RESULT line (see bench_common.h).
 *
 *   producer_bench -b BOOTSTRAP -t TOPIC [-n RECORDS] [-s SIZE] [-B BATCH] [-c CODEC] [-a 1|all]
 *                  [-A] [-P PARTITIONS] [-r REPLICATION] [-R]
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
    fprintf(stderr, "usage: producer_bench -b BOOTSTRAP -t TOPIC [-n RECORDS] [-s SIZE] [-B BATCH] "
                    "[-c none|gzip|snappy|lz4|zstd] [-a 1|all] [-A] [-P PARTITIONS] [-r REPLICATION] "
                    "[-R]\n");
    exit(2);
}

/* The values live in the payload for the whole run: the producer borrows them (release is a
 * no-op) instead of copying, as librdkafka's benchmark passes its values without copying. */
static void release_nothing(void *opaque, void *key, void *value) {
    (void)opaque;
    (void)key;
    (void)value;
}

/* How records are placed and checked. */
static int32_t partitions = 1;
static bool round_robin = false;
static bench_parts_t acked; /* with several partitions */

/* The partition record `index` asks for: its own with -R, else -1 (the producer chooses). */
static int32_t partition_of(uint64_t index) {
    return round_robin ? (int32_t)(index % (uint64_t)partitions) : -1;
}

/* One record's fate: delivered, on one partition at offset = its position; on several, in the
 * partition it named (-R) at an offset not seen before (bench_parts_check does the rest). */
static void check_one(uint64_t index, int error, int32_t partition, int64_t offset) {
    bool ok = error == KK_OK;
    if (ok && partitions == 1)
        ok = partition == 0 && offset == (int64_t)index;
    else if (ok && round_robin)
        ok = partition == partition_of(index);
    if (!ok)
        bench_die("record %llu: error %d (%s), partition %d, offset %lld", (unsigned long long)index, error,
                  kk_err_name(error), (int)partition, (long long)offset);
    if (partitions > 1)
        bench_parts_mark(&acked, partition, offset);
}

static uint64_t check_reports(const kk_delivery_report_t *r, size_t n) {
    for (size_t i = 0; i < n; i++)
        check_one((uint64_t)(uintptr_t)r[i].opaque - 1, r[i].error, r[i].partition, r[i].offset);
    return n;
}

static uint64_t produce_each(kk_producer_t *p, const char *topic, bench_payload_t *payload,
                             unsigned long long records, size_t size) {
    static kk_delivery_report_t reports[4096];
    kk_error_t err;
    uint64_t reported = 0;
    for (uint64_t i = 0; i < records; i++) {
        kk_produce_message_t msg = {.topic = topic, .partition = partition_of(i), .value = bench_value(payload, i),
                                    .value_len = size, .opaque = (void *)(uintptr_t)(i + 1),
                                    .release = release_nothing};
        if (kk_producer_produce(p, &msg, &err) != KK_OK)
            bench_die("kk_producer_produce after %llu records: %s", (unsigned long long)i, err.message);
        if ((i & 1023) == 1023)
            reported += check_reports(reports, kk_producer_poll(p, reports, 4096, 0));
    }
    if (kk_producer_flush(p, 120000, NULL, &err) != KK_OK)
        bench_die("kk_producer_flush: %s", err.message);
    size_t n;
    while ((n = kk_producer_poll(p, reports, 4096, 0)) > 0)
        reported += check_reports(reports, n);
    if (reported != records)
        bench_die("%llu reports for %llu records", (unsigned long long)reported, records);
    return reported;
}

int main(int argc, char **argv) {
    const char *bootstrap = NULL, *topic = NULL, *codec_name = "none";
    unsigned long long records = 1000000;
    size_t size = 100, batch = 10000;
    int acks = 1, replication = 1;
    bool per_message = false;
    int opt;
    while ((opt = getopt(argc, argv, "b:t:n:s:B:c:a:AP:r:R")) != -1) {
        switch (opt) {
        case 'b': bootstrap = optarg; break;
        case 't': topic = optarg; break;
        case 'n': records = strtoull(optarg, NULL, 10); break;
        case 's': size = strtoul(optarg, NULL, 10); break;
        case 'B': batch = strtoul(optarg, NULL, 10); break;
        case 'c': codec_name = optarg; break;
        case 'a': acks = bench_acks(optarg); break;
        case 'A': per_message = true; break;
        case 'P': partitions = (int32_t)atoi(optarg); break;
        case 'r': replication = atoi(optarg); break;
        case 'R': round_robin = true; break;
        default: usage();
        }
    }
    if (!bootstrap || !topic || records == 0 || batch == 0 || (acks != 1 && acks != -1) || partitions < 1 ||
        replication < 1)
        usage(); /* acks 0 returns no offsets, so nothing could be verified */
    kk_codec_t codec;
    if (kk_codec_from_name(codec_name, &codec) != KK_OK)
        bench_die("unknown codec %s", codec_name);

    kk_error_t err;
    bench_create_topic(bootstrap, topic, partitions, replication);

    bench_payload_t payload;
    bench_payload_init(&payload, size);
    kk_message_t *msgs = calloc(batch, sizeof(*msgs));
    if (!msgs)
        bench_die("out of memory for %zu messages", batch);
    if (partitions > 1)
        bench_parts_init(&acked, partitions, records);

    double broker0 = bench_broker_cpu(), cpu0 = bench_cpu(), t0 = bench_now();
    kk_producer_config_t cfg;
    kk_producer_config_init(&cfg);
    cfg.client.bootstrap_servers = bootstrap;
    cfg.client.client_id = "kafkette-bench";
    bench_security(&cfg.client);
    cfg.required_acks = (int16_t)acks;
    cfg.compression = codec;
    bench_producer_overrides(&cfg);
    kk_producer_t *p = kk_producer_new(&cfg, &err);
    if (!p)
        bench_die("kk_producer_new: %s", err.message);

    uint64_t sent = 0;
    if (per_message) {
        sent = produce_each(p, topic, &payload, records, size);
        records = 0; /* skip the batch loop below */
    }
    while (sent < records) {
        size_t n = records - sent < batch ? (size_t)(records - sent) : batch;
        for (size_t i = 0; i < n; i++)
            msgs[i] = (kk_message_t){.topic = topic, .value = bench_value(&payload, sent + i),
                                     .value_len = size, .partition = partition_of(sent + i)};
        if (kk_producer_send(p, msgs, n, &err) != KK_OK)
            bench_die("kk_producer_send after %llu records: %s", (unsigned long long)sent, err.message);
        /* A fresh partition: the record sent k-th must sit at offset k, exactly once. */
        for (size_t i = 0; i < n; i++)
            check_one(sent + i, msgs[i].error, msgs[i].result_partition, msgs[i].offset);
        sent += n;
    }
    double wall = bench_now() - t0, cpu = bench_cpu() - cpu0;
    double broker = broker0 >= 0 ? bench_broker_cpu() - broker0 : -1;
    if (partitions > 1) {
        bench_parts_check(&acked, sent);
        bench_parts_free(&acked);
    }

    char setting[160], placement[64] = "";
    if (partitions > 1)
        snprintf(placement, sizeof(placement), ",partitions=%d,rf=%d,%s", (int)partitions, replication,
                 round_robin ? "partition=i%P" : "partition=-1");
    if (acks == -1)
        snprintf(placement + strlen(placement), sizeof(placement) - strlen(placement), ",acks=all,idempotence=%s",
                 cfg.enable_idempotence ? "on" : "off");
    if (per_message)
        snprintf(setting, sizeof(setting), "produce+poll/1024,linger_ms=%d,batch_size=%d,in_flight=%d%s",
                 cfg.linger_ms, (int)cfg.batch_size, cfg.max_in_flight, placement);
    else
        snprintf(setting, sizeof(setting), "send_batch=%zu%s", batch, placement);
    bench_report(&(bench_result_t){per_message ? "kafkette-produce" : "kafkette", "produce", codec_name, setting, sent, size, wall, cpu, 0, 0,
                                   broker});
    if (getenv("BENCH_COUNT_REQUESTS")) { /* requests of every API to every broker, for experiments */
        kk_stats_t st;
        kk_producer_stats(p, &st);
        fprintf(stderr, "REQUESTS peer=%s requests=%llu request_bytes=%llu\n",
                per_message ? "kafkette-produce" : "kafkette", (unsigned long long)st.requests,
                (unsigned long long)st.request_bytes);
    }
    kk_producer_free(p);
    free(msgs);
    bench_payload_free(&payload);
    return 0;
}
