/*
 * The librdkafka peer for the kafkette benchmarks, doing the same work under the same checks
 * and printing the same RESULT line.
 *
 *   rdkafka_bench produce -b BOOTSTRAP -t TOPIC [-n RECORDS] [-s SIZE] [-c CODEC] [-a 1|all]
 *                         [-P PARTITIONS] [-r REPLICATION] [-R]
 *       creates TOPIC (one partition unless -P, replication factor 1 unless -r) and produces with
 *       rd_kafka_produce + rd_kafka_poll, then rd_kafka_flush; every delivery report must succeed
 *       and each partition's acknowledged offsets must be exactly 0..count-1 (on one partition:
 *       0..N-1). Messages have no key: with -R record i names partition i % P (round-robin, as
 *       producer_bench -R), otherwise RD_KAFKA_PARTITION_UA leaves it to librdkafka's default
 *       partitioner (consistent_random: keyless messages go to a random partition, sticky for
 *       sticky.partitioning.linger.ms). acks=all turns idempotence on (kafkette's default there).
 *   rdkafka_bench latency -b BOOTSTRAP -t TOPIC [-n ROUND_TRIPS] [-w WARMUP] [-s SIZE] [-a 1|all]
 *                         [-r REPLICATION]
 *       creates TOPIC (one partition) and, linger.ms=0, produces one message at a time and waits
 *       for its delivery report (rd_kafka_poll) before the next; prints a LATENCY line with the
 *       round trips' percentiles.
 *   rdkafka_bench consume -b BOOTSTRAP -t TOPIC [-n RECORDS] [-s SIZE] [-m FETCH_BYTES] [-c LABEL]
 *                         [-o beginning|OFFSET]
 *       reads partition 0 with the legacy consumer (rd_kafka_consume_start +
 *       rd_kafka_consume_batch), from OFFSET (default 0) or RD_KAFKA_OFFSET_BEGINNING; offsets
 *       must run 0..N-1 with the values the producers wrote.
 *
 * The configuration is librdkafka's "tuned for throughput" set; see bench/README.md.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "bench_common.h"

typedef struct options {
    const char *bootstrap, *topic, *codec;
    unsigned long long records;
    size_t size;
    long fetch_bytes;
    int64_t start; /* RD_KAFKA_OFFSET_BEGINNING or an offset */
    int acks;      /* 1 or -1 (all) */
    int partitions, replication;
    bool round_robin;
    unsigned long long warmup; /* latency: round trips not counted */
} options_t;

static void set(rd_kafka_conf_t *conf, const char *name, const char *value) {
    char errstr[512];
    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
        bench_die("config %s=%s: %s", name, value, errstr);
}

static void quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)rk;
    if (level <= 3) /* errors only: anything worse is caught by the checks anyway */
        fprintf(stderr, "rdkafka %s: %s\n", fac, buf);
}

static void apply_overrides(rd_kafka_conf_t *conf);

static rd_kafka_conf_t *base_conf(const options_t *o) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", o->bootstrap);
    set(conf, "client.id", "rdkafka-bench");
    rd_kafka_conf_set_log_cb(conf, quiet_log);
    apply_overrides(conf); /* also for the admin client (security.protocol for bench/run --tls) */
    return conf;
}

/* RDKAFKA_BENCH_CONF="name=value;name=value" overrides the tuned settings, for experiments. */
static void apply_setting(void *conf, const char *name, const char *value) { set(conf, name, value); }

static void apply_overrides(rd_kafka_conf_t *conf) {
    bench_each_setting("RDKAFKA_BENCH_CONF", apply_setting, conf);
}

/* ---- topic creation through the admin API --------------------------------------------- */
static void create_topic(const options_t *o) {
    char errstr[512];
    rd_kafka_conf_t *conf = base_conf(o);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk)
        bench_die("rd_kafka_new: %s", errstr);
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(o->topic, o->partitions, o->replication, errstr, sizeof(errstr));
    if (!nt)
        bench_die("NewTopic: %s", errstr);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opts, 30000, errstr, sizeof(errstr));
    rd_kafka_CreateTopics(rk, &nt, 1, opts, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 60000);
    if (!ev)
        bench_die("CreateTopics %s: no answer in 60 s", o->topic);
    if (rd_kafka_event_error(ev))
        bench_die("CreateTopics %s: %s", o->topic, rd_kafka_event_error_string(ev));
    const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
    size_t n = 0;
    const rd_kafka_topic_result_t **topics = rd_kafka_CreateTopics_result_topics(res, &n);
    for (size_t i = 0; i < n; i++)
        if (rd_kafka_topic_result_error(topics[i]))
            bench_die("CreateTopics %s: %s", rd_kafka_topic_result_name(topics[i]),
                      rd_kafka_topic_result_error_string(topics[i]));
    rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_destroy(rk);
}

/* ---- produce ------------------------------------------------------------------------------ */
typedef struct delivery {
    bench_parts_t offsets;
    const options_t *o;
    uint64_t failed;
    char first_error[256];
} delivery_t;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    delivery_t *d = opaque;
    if (m->err) {
        if (d->failed++ == 0)
            snprintf(d->first_error, sizeof(d->first_error), "%s", rd_kafka_err2str(m->err));
        return;
    }
    uint64_t index = (uint64_t)(uintptr_t)m->_private - 1; /* the message's opaque */
    if (d->o->round_robin && m->partition != (int32_t)(index % (uint64_t)d->o->partitions))
        bench_die("record %llu delivered to partition %d, not the one it named", (unsigned long long)index,
                  (int)m->partition);
    bench_parts_mark(&d->offsets, m->partition, m->offset);
}

/* BENCH_COUNT_REQUESTS: the statistics' top-level "tx" (requests sent to all brokers) and
 * "tx_bytes", from the last statistics callback (every 100 ms, and so up to 100 ms late). */
static unsigned long long stats_tx, stats_txbytes;
static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque) {
    (void)rk;
    (void)len;
    (void)opaque;
    /* the top-level "tx" comes after every broker's own "tx": take the last one */
    const char *tx = NULL, *txb = strstr(json, "\"tx_bytes\":");
    for (const char *at = strstr(json, "\"tx\":"); at; at = strstr(at + 1, "\"tx\":"))
        tx = at;
    if (tx)
        stats_tx = strtoull(tx + 5, NULL, 10);
    if (txb)
        stats_txbytes = strtoull(txb + 11, NULL, 10);
    if (getenv("BENCH_STATS_DUMP"))
        fprintf(stderr, "%.600s\n", json);
    return 0;
}

/* acks=all comes with idempotence, as kafkette's producer has it by default there. */
static void set_acks(rd_kafka_conf_t *conf, int acks) {
    if (acks == -1) {
        set(conf, "acks", "all");
        set(conf, "enable.idempotence", "true");
    } else {
        set(conf, "acks", "1");
    }
}

static void produce(const options_t *o) {
    create_topic(o);
    bench_payload_t payload;
    bench_payload_init(&payload, o->size);
    delivery_t d = {.failed = 0, .o = o};
    bench_parts_init(&d.offsets, o->partitions, o->records);

    char errstr[512];
    double broker0 = bench_broker_cpu(), cpu0 = bench_cpu(), t0 = bench_now();
    rd_kafka_conf_t *conf = base_conf(o);
    set_acks(conf, o->acks);
    set(conf, "linger.ms", "5");
    set(conf, "batch.num.messages", "10000");
    set(conf, "queue.buffering.max.messages", "1000000");
    set(conf, "queue.buffering.max.kbytes", "1048576");
    set(conf, "compression.type", o->codec);
    apply_overrides(conf);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, &d);
    bool count_requests = getenv("BENCH_COUNT_REQUESTS") != NULL;
    if (count_requests) {
        set(conf, "statistics.interval.ms", "100");
        rd_kafka_conf_set_stats_cb(conf, on_stats);
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk)
        bench_die("rd_kafka_new: %s", errstr);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o->topic, NULL);
    if (!rkt)
        bench_die("rd_kafka_topic_new: %s", rd_kafka_err2str(rd_kafka_last_error()));

    for (uint64_t i = 0; i < o->records;) {
        /* flags 0: no copy, as kafkette reads the caller's memory during send; the pool
         * outlives the producer */
        int32_t partition = o->round_robin ? (int32_t)(i % (uint64_t)o->partitions) : RD_KAFKA_PARTITION_UA;
        if (rd_kafka_produce(rkt, partition, 0, (void *)bench_value(&payload, i), o->size, NULL, 0,
                             (void *)(uintptr_t)(i + 1)) == 0) {
            i++;
            if ((i & 1023) == 0)
                rd_kafka_poll(rk, 0);
            continue;
        }
        rd_kafka_resp_err_t e = rd_kafka_last_error();
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            bench_die("rd_kafka_produce at record %llu: %s", (unsigned long long)i, rd_kafka_err2str(e));
        rd_kafka_poll(rk, 10); /* the queue is full: serve delivery reports */
    }
    rd_kafka_resp_err_t e = rd_kafka_flush(rk, 120000);
    if (e)
        bench_die("rd_kafka_flush: %s (%d messages left)", rd_kafka_err2str(e), rd_kafka_outq_len(rk));
    double wall = bench_now() - t0, cpu = bench_cpu() - cpu0;
    double broker = broker0 >= 0 ? bench_broker_cpu() - broker0 : -1;

    if (d.failed)
        bench_die("%llu of %llu records failed; first: %s", (unsigned long long)d.failed, o->records,
                  d.first_error);
    bench_parts_check(&d.offsets, o->records);
    char setting[160] = "linger.ms=5,batch.num.messages=10000";
    if (o->partitions > 1)
        snprintf(setting + strlen(setting), sizeof(setting) - strlen(setting), ",partitions=%d,rf=%d,%s",
                 o->partitions, o->replication, o->round_robin ? "partition=i%P" : "partition=UA");
    if (o->acks == -1)
        snprintf(setting + strlen(setting), sizeof(setting) - strlen(setting), ",acks=all,idempotence=on");
    bench_report(&(bench_result_t){"librdkafka", "produce", o->codec, setting, o->records, o->size, wall, cpu, 0,
                                   0, broker});
    if (count_requests) {
        rd_kafka_poll(rk, 250); /* one more statistics callback */
        fprintf(stderr, "REQUESTS peer=librdkafka requests=%llu request_bytes=%llu\n", stats_tx, stats_txbytes);
    }
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    bench_parts_free(&d.offsets);
    bench_payload_free(&payload);
}

/* ---- consume ------------------------------------------------------------------------------ */
static void consume(const options_t *o) {
    bench_payload_t payload;
    bench_payload_init(&payload, o->size);
    char errstr[512], fetch_bytes[32];
    snprintf(fetch_bytes, sizeof(fetch_bytes), "%ld", o->fetch_bytes);

    double broker0 = bench_broker_cpu(), cpu0 = bench_cpu(), t0 = bench_now();
    rd_kafka_conf_t *conf = base_conf(o);
    set(conf, "fetch.message.max.bytes", fetch_bytes);
    set(conf, "fetch.max.bytes", "52428800");
    set(conf, "queued.min.messages", "1000000");
    set(conf, "queued.max.messages.kbytes", "262144");
    set(conf, "enable.partition.eof", "false");
    apply_overrides(conf);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (!rk)
        bench_die("rd_kafka_new: %s", errstr);
    rd_kafka_topic_conf_t *tconf = rd_kafka_topic_conf_new();
    /* no group: nothing to commit */
    if (rd_kafka_topic_conf_set(tconf, "auto.commit.enable", "false", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
        bench_die("auto.commit.enable: %s", errstr);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o->topic, tconf);
    if (!rkt)
        bench_die("rd_kafka_topic_new: %s", rd_kafka_err2str(rd_kafka_last_error()));
    if (rd_kafka_consume_start(rkt, 0, o->start) == -1)
        bench_die("rd_kafka_consume_start: %s", rd_kafka_err2str(rd_kafka_last_error()));

    enum { BATCH = 10000 };
    rd_kafka_message_t **msgs = malloc(BATCH * sizeof(*msgs));
    if (!msgs)
        bench_die("out of memory");
    /* records [from, end) must arrive in order; from is 0 unless -o names an offset */
    uint64_t from = o->start >= 0 ? (uint64_t)o->start : 0, end = from + o->records;
    uint64_t expected = from, first_records = 0;
    double first_s = 0;
    int idle = 0;
    while (expected < end) {
        ssize_t n = rd_kafka_consume_batch(rkt, 0, 1000, msgs, BATCH);
        if (n < 0)
            bench_die("rd_kafka_consume_batch: %s", rd_kafka_err2str(rd_kafka_last_error()));
        if (expected == from && n > 0) {
            first_s = bench_now() - t0;
            first_records = (uint64_t)n;
        }
        if (n == 0 && ++idle > 20)
            bench_die("no records after %llu of %llu (does the topic hold that many?)",
                      (unsigned long long)(expected - from),
                      o->records);
        for (ssize_t i = 0; i < n; i++) {
            rd_kafka_message_t *m = msgs[i];
            if (m->err)
                bench_die("consume at offset %llu: %s", (unsigned long long)expected, rd_kafka_message_errstr(m));
            if (expected < end) {
                if (m->offset != (int64_t)expected)
                    bench_die("offset %lld where %llu was expected: records lost or repeated", (long long)m->offset,
                              (unsigned long long)expected);
                if (m->len != o->size || memcmp(m->payload, bench_value(&payload, expected), o->size) != 0)
                    bench_die("offset %llu: the value is not what the producer wrote",
                              (unsigned long long)expected);
                expected++;
            }
            rd_kafka_message_destroy(m);
        }
    }
    rd_kafka_consume_stop(rkt, 0);
    double wall = bench_now() - t0, cpu = bench_cpu() - cpu0;
    double broker = broker0 >= 0 ? bench_broker_cpu() - broker0 : -1;

    char setting[96];
    if (o->start == RD_KAFKA_OFFSET_BEGINNING)
        snprintf(setting, sizeof(setting), "fetch.message.max.bytes=%ld,from=beginning", o->fetch_bytes);
    else
        snprintf(setting, sizeof(setting), "fetch.message.max.bytes=%ld,from=%lld", o->fetch_bytes,
                 (long long)o->start);
    bench_report(&(bench_result_t){"librdkafka", "consume", o->codec, setting, expected - from, o->size, wall, cpu,
                                   first_s, first_records, broker});
    free(msgs);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    bench_payload_free(&payload);
}

/* ---- latency: one message at a time ----------------------------------------------------- */
typedef struct one_report {
    bool done;
    rd_kafka_resp_err_t err;
    int32_t partition;
    int64_t offset;
} one_report_t;

static void on_one_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    one_report_t *r = opaque;
    r->done = true;
    r->err = m->err;
    r->partition = m->partition;
    r->offset = m->offset;
}

static void latency(const options_t *o) {
    options_t one = *o;
    one.partitions = 1;
    create_topic(&one);
    bench_payload_t payload;
    bench_payload_init(&payload, o->size);
    uint64_t total = o->warmup + o->records;
    double *lat = malloc((size_t)o->records * sizeof(*lat));
    if (!lat)
        bench_die("out of memory");

    char errstr[512];
    one_report_t r;
    rd_kafka_conf_t *conf = base_conf(o);
    set_acks(conf, o->acks);
    set(conf, "linger.ms", "0");
    /* kafkette sets TCP_NODELAY on every connection; librdkafka does not by default */
    set(conf, "socket.nagle.disable", "true");
    apply_overrides(conf);
    rd_kafka_conf_set_dr_msg_cb(conf, on_one_delivery);
    rd_kafka_conf_set_opaque(conf, &r);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk)
        bench_die("rd_kafka_new: %s", errstr);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o->topic, NULL);
    if (!rkt)
        bench_die("rd_kafka_topic_new: %s", rd_kafka_err2str(rd_kafka_last_error()));

    double cpu0 = 0, t0 = 0;
    for (uint64_t i = 0; i < total; i++) {
        if (i == o->warmup) {
            cpu0 = bench_cpu();
            t0 = bench_now();
        }
        r.done = false;
        double start = bench_now();
        if (rd_kafka_produce(rkt, 0, 0, (void *)bench_value(&payload, i), o->size, NULL, 0, NULL) != 0)
            bench_die("rd_kafka_produce at round trip %llu: %s", (unsigned long long)i,
                      rd_kafka_err2str(rd_kafka_last_error()));
        while (!r.done)
            rd_kafka_poll(rk, 1000);
        double took = bench_now() - start;
        if (r.err || r.partition != 0 || r.offset != (int64_t)i)
            bench_die("round trip %llu: %s, partition %d, offset %lld", (unsigned long long)i, rd_kafka_err2str(r.err),
                      (int)r.partition, (long long)r.offset);
        if (i >= o->warmup)
            lat[i - o->warmup] = took;
    }
    double wall = bench_now() - t0, cpu = bench_cpu() - cpu0;
    char setting[96];
    snprintf(setting, sizeof(setting), "produce+poll,linger.ms=0,socket.nagle.disable=true,rf=%d%s", o->replication,
             o->acks == -1 ? ",idempotence=on" : "");
    bench_latency_report("librdkafka", o->acks == -1 ? "all" : "1", setting, lat, (size_t)o->records, wall, cpu);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    free(lat);
    bench_payload_free(&payload);
}

static void usage(void) {
    fprintf(stderr, "usage: rdkafka_bench produce|consume|latency -b BOOTSTRAP -t TOPIC [-n RECORDS] [-s SIZE] "
                    "[-c CODEC] [-a 1|all] [-m FETCH_BYTES] [-o beginning|OFFSET] [-P PARTITIONS] "
                    "[-r REPLICATION] [-R] [-w WARMUP]\n");
    exit(2);
}

int main(int argc, char **argv) {
    if (argc < 2)
        usage();
    const char *mode = argv[1];
    options_t o = {.codec = "none", .records = 1000000, .size = 100, .fetch_bytes = 4 * 1024 * 1024, .start = 0,
                   .acks = 1, .partitions = 1, .replication = 1, .warmup = 200};
    bool records_given = false;
    int opt;
    optind = 2;
    while ((opt = getopt(argc, argv, "b:t:n:s:c:a:m:o:P:r:Rw:")) != -1) {
        switch (opt) {
        case 'b': o.bootstrap = optarg; break;
        case 't': o.topic = optarg; break;
        case 'n': o.records = strtoull(optarg, NULL, 10); records_given = true; break;
        case 's': o.size = strtoul(optarg, NULL, 10); break;
        case 'c': o.codec = optarg; break;
        case 'a': o.acks = bench_acks(optarg); break;
        case 'P': o.partitions = atoi(optarg); break;
        case 'r': o.replication = atoi(optarg); break;
        case 'R': o.round_robin = true; break;
        case 'w': o.warmup = strtoull(optarg, NULL, 10); break;
        case 'm': o.fetch_bytes = strtol(optarg, NULL, 10); break;
        case 'o':
            o.start = strcmp(optarg, "beginning") == 0 ? RD_KAFKA_OFFSET_BEGINNING : strtoll(optarg, NULL, 10);
            break;
        default: usage();
        }
    }
    if (!o.bootstrap || !o.topic || o.records == 0 || o.fetch_bytes <= 0 || o.partitions < 1 || o.replication < 1 ||
        (o.start < 0 && o.start != RD_KAFKA_OFFSET_BEGINNING))
        usage();
    if (strcmp(mode, "produce") == 0 || strcmp(mode, "latency") == 0) {
        if (o.acks != 1 && o.acks != -1)
            usage(); /* acks 0 reports no offsets to verify */
        if (mode[0] == 'p') {
            produce(&o);
        } else {
            if (!records_given)
                o.records = 2000;
            latency(&o);
        }
    } else if (strcmp(mode, "consume") == 0) {
        consume(&o);
    } else {
        usage();
    }
    return 0;
}
