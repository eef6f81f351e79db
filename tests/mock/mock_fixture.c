#include "mock_fixture.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "255.255.255.255:65535" plus NUL, with room to spare. */
#define KK_MOCK_ADDR_SIZE 32

struct kk_mock {
    rd_kafka_t *rk; /* only hosts the mock cluster; never connects anywhere */
    rd_kafka_mock_cluster_t *cluster;
    int broker_count;
    char *bootstrap;                      /* copy of the mock's list */
    char (*addresses)[KK_MOCK_ADDR_SIZE]; /* [i] is broker i + 1 */
};

/* librdkafka would otherwise log to stderr from its own threads. */
static void discard_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)rk;
    (void)level;
    (void)fac;
    (void)buf;
}

static void set_error(char *errbuf, size_t errlen, const char *msg, const char *detail) {
    if (errbuf && errlen > 0)
        snprintf(errbuf, errlen, "%s%s%s", msg, detail ? ": " : "", detail ? detail : "");
}

/* The mock builds its list from brokers 1..N in order; keep each entry for lookups. */
static int split_bootstrap(kk_mock_t *m) {
    const char *p = m->bootstrap;
    for (int i = 0; i < m->broker_count; i++) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0 || len >= KK_MOCK_ADDR_SIZE || (i + 1 < m->broker_count) != (end != NULL))
            return -1;
        memcpy(m->addresses[i], p, len);
        m->addresses[i][len] = '\0';
        p = end ? end + 1 : p + len;
    }
    return 0;
}

kk_mock_t *kk_mock_start(int broker_count, char *errbuf, size_t errlen) {
    char errstr[512];

    if (broker_count < 1 || broker_count > KK_MOCK_MAX_BROKERS) {
        if (errbuf && errlen > 0)
            snprintf(errbuf, errlen, "broker_count must be between 1 and %d, not %d",
                     KK_MOCK_MAX_BROKERS, broker_count);
        return NULL;
    }

    kk_mock_t *m = calloc(1, sizeof(*m));
    if (!m) {
        set_error(errbuf, errlen, "out of memory", NULL);
        return NULL;
    }
    m->broker_count = broker_count;

    /* No bootstrap.servers: the host handle has no broker to talk to, it only owns the
     * mock's thread and sockets. */
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, discard_log);
    if (rd_kafka_conf_set(conf, "client.id", "kafkette-mock-host", errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        set_error(errbuf, errlen, "cannot configure the mock host handle", errstr);
        free(m);
        return NULL;
    }
    m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!m->rk) {
        rd_kafka_conf_destroy(conf); /* rd_kafka_new only takes it on success */
        set_error(errbuf, errlen, "cannot create the mock host handle", errstr);
        free(m);
        return NULL;
    }

    m->cluster = rd_kafka_mock_cluster_new(m->rk, broker_count);
    if (!m->cluster) {
        set_error(errbuf, errlen, "rd_kafka_mock_cluster_new failed (out of sockets?)", NULL);
        kk_mock_stop(m);
        return NULL;
    }

    m->bootstrap = strdup(rd_kafka_mock_cluster_bootstraps(m->cluster));
    m->addresses = calloc((size_t)broker_count, sizeof(*m->addresses));
    if (!m->bootstrap || !m->addresses) {
        set_error(errbuf, errlen, "out of memory", NULL);
        kk_mock_stop(m);
        return NULL;
    }
    if (split_bootstrap(m) != 0) {
        set_error(errbuf, errlen, "unexpected mock bootstrap list", m->bootstrap);
        kk_mock_stop(m);
        return NULL;
    }
    return m;
}

void kk_mock_stop(kk_mock_t *m) {
    if (!m)
        return;
    /* The cluster borrows rk (its queues and logging), so it must go first. */
    if (m->cluster)
        rd_kafka_mock_cluster_destroy(m->cluster);
    if (m->rk)
        rd_kafka_destroy(m->rk);
    free(m->addresses);
    free(m->bootstrap);
    free(m);
}

const char *kk_mock_bootstrap(const kk_mock_t *m) { return m->bootstrap; }

int kk_mock_broker_count(const kk_mock_t *m) { return m->broker_count; }

static bool known_broker(const kk_mock_t *m, int32_t broker_id) {
    return broker_id >= 1 && broker_id <= m->broker_count;
}

/* Wrappers taking -1 for "every broker" accept it too. */
static bool known_broker_or_all(const kk_mock_t *m, int32_t broker_id) {
    return broker_id == -1 || known_broker(m, broker_id);
}

const char *kk_mock_broker_address(const kk_mock_t *m, int32_t broker_id) {
    return known_broker(m, broker_id) ? m->addresses[broker_id - 1] : NULL;
}

int kk_mock_broker_port(const kk_mock_t *m, int32_t broker_id) {
    const char *addr = kk_mock_broker_address(m, broker_id);
    const char *colon = addr ? strrchr(addr, ':') : NULL;
    return colon ? atoi(colon + 1) : -1;
}

int kk_mock_create_topic(kk_mock_t *m, const char *topic, int partitions, int replication) {
    if (!topic || !*topic || partitions < 1)
        return RD_KAFKA_RESP_ERR__INVALID_ARG;
    if (replication < 1 || replication > m->broker_count)
        return RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR;
    return rd_kafka_mock_topic_create(m->cluster, topic, partitions, replication);
}

int kk_mock_push_errors(kk_mock_t *m, int16_t api_key, size_t count, const int16_t *codes) {
    if (count == 0)
        return 0;
    if (!codes || api_key < 0)
        return RD_KAFKA_RESP_ERR__INVALID_ARG;
    rd_kafka_resp_err_t *errs = malloc(count * sizeof(*errs));
    if (!errs)
        return RD_KAFKA_RESP_ERR__FAIL; /* out of memory */
    for (size_t i = 0; i < count; i++)
        errs[i] = (rd_kafka_resp_err_t)codes[i];
    rd_kafka_mock_push_request_errors_array(m->cluster, api_key, count, errs);
    free(errs);
    return 0;
}

int kk_mock_broker_push_errors(kk_mock_t *m, int32_t broker_id, int16_t api_key, size_t count,
                               const int16_t *codes, const int *rtt_ms) {
    if ((count > 0 && !codes) || api_key < 0 || !known_broker(m, broker_id))
        return RD_KAFKA_RESP_ERR__INVALID_ARG;
    /* The library only has a varargs form; pushing one tuple at a time appends in order. */
    for (size_t i = 0; i < count; i++) {
        rd_kafka_resp_err_t err = rd_kafka_mock_broker_push_request_error_rtts(
            m->cluster, broker_id, api_key, 1, (rd_kafka_resp_err_t)codes[i],
            rtt_ms ? rtt_ms[i] : 0);
        if (err)
            return err;
    }
    return 0;
}

void kk_mock_clear_errors(kk_mock_t *m, int16_t api_key) {
    rd_kafka_mock_clear_request_errors(m->cluster, api_key);
}

int kk_mock_topic_set_error(kk_mock_t *m, const char *topic, int16_t code) {
    if (!topic || !*topic)
        return RD_KAFKA_RESP_ERR__INVALID_ARG;
    rd_kafka_mock_topic_set_error(m->cluster, topic, (rd_kafka_resp_err_t)code);
    return 0;
}

int kk_mock_partition_set_leader(kk_mock_t *m, const char *topic, int32_t partition,
                                 int32_t broker_id) {
    if (!topic || !*topic || partition < 0 || !known_broker_or_all(m, broker_id))
        return RD_KAFKA_RESP_ERR__INVALID_ARG;
    return rd_kafka_mock_partition_set_leader(m->cluster, topic, partition, broker_id);
}

int kk_mock_broker_set_down(kk_mock_t *m, int32_t broker_id) {
    if (!known_broker_or_all(m, broker_id))
        return RD_KAFKA_RESP_ERR__INVALID_ARG;
    return rd_kafka_mock_broker_set_down(m->cluster, broker_id);
}

int kk_mock_broker_set_up(kk_mock_t *m, int32_t broker_id) {
    if (!known_broker_or_all(m, broker_id))
        return RD_KAFKA_RESP_ERR__INVALID_ARG;
    return rd_kafka_mock_broker_set_up(m->cluster, broker_id);
}

int kk_mock_broker_set_rtt(kk_mock_t *m, int32_t broker_id, int rtt_ms) {
    if (!known_broker_or_all(m, broker_id) || rtt_ms < 0)
        return RD_KAFKA_RESP_ERR__INVALID_ARG;
    return rd_kafka_mock_broker_set_rtt(m->cluster, broker_id, rtt_ms);
}

int kk_mock_coordinator_set(kk_mock_t *m, const char *key_type, const char *key,
                            int32_t broker_id) {
    if (!key_type || !key || !known_broker(m, broker_id) ||
        (strcmp(key_type, "group") != 0 && strcmp(key_type, "transaction") != 0))
        return RD_KAFKA_RESP_ERR__INVALID_ARG;
    return rd_kafka_mock_coordinator_set(m->cluster, key_type, key, broker_id);
}

int kk_mock_set_apiversion(kk_mock_t *m, int16_t api_key, int16_t min_version,
                           int16_t max_version) {
    if (api_key < 0)
        return RD_KAFKA_RESP_ERR__INVALID_ARG;
    return rd_kafka_mock_set_apiversion(m->cluster, api_key, min_version, max_version);
}

rd_kafka_mock_cluster_t *kk_mock_handle(kk_mock_t *m) { return m->cluster; }
