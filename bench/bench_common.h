/*
 * Helpers shared by the C benchmarks: clocks, resource usage, the payload every peer sends,
 * and the one-line result format that bench/run parses.
 */
#ifndef KAFKETTE_BENCH_COMMON_H
#define KAFKETTE_BENCH_COMMON_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* Values are windows into one pool, so 1,000,000 records need no per-record memory and every
 * peer sends (and every consumer checks) exactly the same bytes. The pool is text over a
 * 16-letter alphabet: compressible, but not trivially. */
#define BENCH_POOL_SIZE 65536u

typedef struct bench_payload {
    uint8_t *pool;
    size_t value_size;
} bench_payload_t;

static inline void bench_die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "BENCH FAILED: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static inline void bench_payload_init(bench_payload_t *p, size_t value_size) {
    p->value_size = value_size;
    p->pool = malloc(BENCH_POOL_SIZE + value_size);
    if (!p->pool)
        bench_die("out of memory for the payload pool");
    uint32_t x = 0x9e3779b9u;
    for (size_t i = 0; i < BENCH_POOL_SIZE + value_size; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p->pool[i] = (uint8_t)('a' + (x & 15));
    }
}

static inline void bench_payload_free(bench_payload_t *p) { free(p->pool); }

/* The value of the record written n-th (which lands at offset n on a fresh partition). */
static inline const uint8_t *bench_value(const bench_payload_t *p, uint64_t n) {
    return p->pool + (n * 97u) % BENCH_POOL_SIZE;
}

static inline double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* User + system CPU seconds of the whole process, every thread included. */
static inline double bench_cpu(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* CPU seconds one process has used so far, from /proc/PID/stat; -1 if unreadable. */
static inline double bench_process_cpu(unsigned long pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%lu/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* fields after the parenthesised command name: state is field 3, utime 14, stime 15 */
    const char *p = strrchr(buf, ')');
    unsigned long long utime = 0, stime = 0;
    if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* CPU seconds the broker processes have used so far, when bench/run says which processes those
 * are (KAFKETTE_BENCH_BROKER_PID: one pid, or several separated by spaces or commas for a
 * cluster; their sum); -1 otherwise. Read from /proc, so Linux only. */
static inline double bench_broker_cpu(void) {
    const char *pids = getenv("KAFKETTE_BENCH_BROKER_PID");
    if (!pids || !pids[0])
        return -1;
    double total = 0;
    int found = 0;
    for (const char *s = pids; *s;) {
        char *end;
        unsigned long pid = strtoul(s, &end, 10);
        if (end == s) {
            s++;
            continue;
        }
        double cpu = bench_process_cpu(pid);
        if (cpu < 0)
            return -1;
        total += cpu;
        found++;
        s = end;
    }
    return found ? total : -1;
}

/* Peak resident set size of the process so far, KiB. */
static inline long bench_maxrss_kb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* What one run measured. first_s / first_records: when the first records arrived and how many
 * (consumers only; they separate start-up from steady-state throughput). */
typedef struct bench_result {
    const char *peer, *op, *codec;
    const char *setting; /* how the peer was driven: batch size, fetch size, ... */
    uint64_t records;
    size_t value_size;
    double wall_s, cpu_s;
    double first_s;
    uint64_t first_records;
    double broker_cpu_s; /* the broker's CPU in the same window; -1 when unknown */
} bench_result_t;

/* One parseable line on stdout. */
static inline void bench_report(const bench_result_t *r) {
    printf("RESULT peer=%s op=%s codec=%s setting=%s records=%llu value_bytes=%zu wall_s=%.6f cpu_s=%.6f "
           "maxrss_kb=%ld first_s=%.6f first_records=%llu broker_cpu_s=%.2f\n",
           r->peer, r->op, r->codec, r->setting, (unsigned long long)r->records, r->value_size, r->wall_s,
           r->cpu_s, bench_maxrss_kb(), r->first_s, (unsigned long long)r->first_records, r->broker_cpu_s);
    fflush(stdout);
}

/* Calls apply(ctx, name, value) for each item of the environment variable var, written
 * "name=value;name=value" (KAFKETTE_BENCH_CONF, RDKAFKA_BENCH_CONF): experiment overrides. */
static inline void bench_each_setting(const char *var, void (*apply)(void *ctx, const char *name, const char *value),
                                      void *ctx) {
    const char *env = getenv(var);
    if (!env || !env[0])
        return;
    char *copy = strdup(env), *save = NULL;
    if (!copy)
        bench_die("out of memory");
    for (char *item = strtok_r(copy, ";", &save); item; item = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(item, '=');
        if (!eq)
            bench_die("%s: '%s' is not name=value", var, item);
        *eq = '\0';
        apply(ctx, item, eq + 1);
    }
    free(copy);
}

#ifdef KAFKETTE_H
/* bench/run --tls: with KAFKETTE_BENCH_SSL_CAFILE set, kafkette talks TLS to the broker and
 * verifies it against that CA (librdkafka gets the same through RDKAFKA_BENCH_CONF). */
static inline void bench_security(kk_client_config_t *c) {
    const char *ca = getenv("KAFKETTE_BENCH_SSL_CAFILE");
    if (ca && ca[0]) {
        c->security_protocol = KK_SECURITY_SSL;
        c->ssl_cafile = ca;
    }
}

/* KAFKETTE_BENCH_CONF="name=value;name=value" overrides some of the producer's engine options,
 * for experiments (as RDKAFKA_BENCH_CONF does for librdkafka): linger_ms, batch_size,
 * max_in_flight_requests_per_connection, buffer_memory, enable_idempotence. */
static inline void bench_apply_producer_setting(void *ctx, const char *name, const char *value) {
    kk_producer_config_t *cfg = ctx;
    long v = strtol(value, NULL, 10);
    if (strcmp(name, "linger_ms") == 0)
        cfg->linger_ms = (int)v;
    else if (strcmp(name, "batch_size") == 0)
        cfg->batch_size = (int32_t)v;
    else if (strcmp(name, "max_in_flight_requests_per_connection") == 0 || strcmp(name, "max_in_flight") == 0)
        cfg->max_in_flight = (int)v;
    else if (strcmp(name, "buffer_memory") == 0)
        cfg->buffer_memory = (int32_t)v;
    else if (strcmp(name, "enable_idempotence") == 0)
        cfg->enable_idempotence = strcmp(value, "true") == 0 || v != 0;
    else
        bench_die("KAFKETTE_BENCH_CONF: %s is not one of the options it takes", name);
}

static inline void bench_producer_overrides(kk_producer_config_t *cfg) {
    bench_each_setting("KAFKETTE_BENCH_CONF", bench_apply_producer_setting, cfg);
}

/* Creates topic (partitions, replication) through an admin client of its own. */
static inline void bench_create_topic(const char *bootstrap, const char *topic, int32_t partitions,
                                      int replication) {
    kk_error_t err;
    kk_client_config_t ccfg;
    kk_client_config_init(&ccfg);
    ccfg.bootstrap_servers = bootstrap;
    ccfg.client_id = "kafkette-bench-admin";
    bench_security(&ccfg);
    kk_client_t *admin = kk_client_new(&ccfg, &err);
    if (!admin)
        bench_die("kk_client_new: %s", err.message);
    if (kk_client_create_topic(admin, topic, partitions, (int16_t)replication, NULL, 0, 30000, &err) != KK_OK)
        bench_die("create topic %s: %s", topic, err.message);
    kk_client_free(admin);
}
#endif

/* Tracks which offsets [0, n) were acknowledged, to catch losses and duplicates. */
typedef struct bench_offsets {
    uint8_t *bits;
    uint64_t n;
    uint64_t seen;
} bench_offsets_t;

static inline void bench_offsets_init(bench_offsets_t *o, uint64_t n) {
    o->bits = calloc((size_t)(n / 8 + 1), 1);
    if (!o->bits)
        bench_die("out of memory for the offset bitmap");
    o->n = n;
    o->seen = 0;
}

static inline void bench_offsets_mark(bench_offsets_t *o, int64_t offset) {
    if (offset < 0 || (uint64_t)offset >= o->n)
        bench_die("acknowledged offset %lld is outside [0, %llu): the topic was not fresh, or records were "
                  "duplicated", (long long)offset, (unsigned long long)o->n);
    uint8_t bit = (uint8_t)(1u << (offset & 7));
    if (o->bits[offset >> 3] & bit)
        bench_die("offset %lld acknowledged twice", (long long)offset);
    o->bits[offset >> 3] |= bit;
    o->seen++;
}

static inline void bench_offsets_free(bench_offsets_t *o) { free(o->bits); }

/* The same for a topic of several partitions: every acknowledged (partition, offset) once, and
 * at the end each partition's offsets 0..count-1 with no gap, the counts adding up to the records
 * sent (a fresh topic). */
typedef struct bench_parts {
    bench_offsets_t *parts;
    int32_t count;
} bench_parts_t;

static inline void bench_parts_init(bench_parts_t *p, int32_t partitions, uint64_t records) {
    p->count = partitions;
    p->parts = calloc((size_t)partitions, sizeof(*p->parts));
    if (!p->parts)
        bench_die("out of memory for %d partitions", (int)partitions);
    for (int32_t i = 0; i < partitions; i++)
        bench_offsets_init(&p->parts[i], records);
}

static inline void bench_parts_mark(bench_parts_t *p, int32_t partition, int64_t offset) {
    if (partition < 0 || partition >= p->count)
        bench_die("delivered to partition %d of a %d-partition topic", (int)partition, (int)p->count);
    bench_offsets_mark(&p->parts[partition], offset);
}

/* Dies unless every partition's acknowledged offsets run 0..seen-1 and they add up to records. */
static inline void bench_parts_check(const bench_parts_t *p, uint64_t records) {
    uint64_t total = 0;
    for (int32_t i = 0; i < p->count; i++) {
        const bench_offsets_t *o = &p->parts[i];
        for (uint64_t k = 0; k < o->seen; k++)
            if (!(o->bits[k >> 3] & (1u << (k & 7))))
                bench_die("partition %d: offset %llu missing below %llu acknowledged offsets", (int)i,
                          (unsigned long long)k, (unsigned long long)o->seen);
        total += o->seen;
    }
    if (total != records)
        bench_die("%llu of %llu records acknowledged", (unsigned long long)total, (unsigned long long)records);
}

static inline void bench_parts_free(bench_parts_t *p) {
    for (int32_t i = 0; i < p->count; i++)
        bench_offsets_free(&p->parts[i]);
    free(p->parts);
}

/* "1", "all" or "-1" -> the acks number (-1 = all). */
static inline int bench_acks(const char *s) { return strcmp(s, "all") == 0 ? -1 : atoi(s); }

/* Latencies: sorts lat[0..n) (seconds) and prints one LATENCY line (microseconds) that bench/run
 * parses. pNN is the nearest-rank percentile: the smallest value with at least NN% of the round
 * trips at or below it. */
static inline int bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static inline double bench_percentile(const double *sorted, size_t n, double pct) {
    size_t rank = (size_t)((pct / 100.0) * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return sorted[rank - 1];
}

static inline void bench_latency_report(const char *peer, const char *acks, const char *setting, double *lat,
                                        size_t n, double wall_s, double cpu_s) {
    qsort(lat, n, sizeof(*lat), bench_cmp_double);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += lat[i];
    printf("LATENCY peer=%s acks=%s setting=%s n=%zu p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f mean_us=%.1f "
           "min_us=%.1f wall_s=%.6f cpu_us_per_msg=%.1f\n",
           peer, acks, setting, n, bench_percentile(lat, n, 50) * 1e6, bench_percentile(lat, n, 90) * 1e6,
           bench_percentile(lat, n, 99) * 1e6, lat[n - 1] * 1e6, sum / (double)n * 1e6, lat[0] * 1e6, wall_s,
           cpu_s / (double)n * 1e6);
    fflush(stdout);
}

#endif
