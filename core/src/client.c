#include "client.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "error.h"
#include "protocol.h"

void kk_log(const kk_client_t *client, kk_log_level_t level, const char *fmt, ...) {
    if (!client || !client->log_cb)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    client->log_cb(client->log_opaque, level, line);
}

void kk_client_config_init(kk_client_config_t *cfg) {
    kk_config_defaults(KK_CONFIG_CLIENT, cfg);
}

static char *dup_string(const char *s) {
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    if (copy)
        memcpy(copy, s, n);
    return copy;
}

static int parse_seeds(kk_client_t *client, kk_error_t *err) {
    const char *list = client->bootstrap_servers;
    size_t count = 1;
    for (const char *p = list; *p; p++)
        count += *p == ',';
    client->seeds = calloc(count, sizeof(*client->seeds));
    if (!client->seeds)
        return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
    const char *start = list;
    for (;;) {
        const char *end = strchr(start, ',');
        size_t len = end ? (size_t)(end - start) : strlen(start);
        bool blank = true;
        for (size_t i = 0; i < len; i++)
            blank = blank && (start[i] == ' ' || start[i] == '\t');
        if (!blank) {
            kk_seed_t *seed = &client->seeds[client->seed_count];
            int rc = kk_parse_host_port(start, len, seed->host, sizeof(seed->host), &seed->port, err);
            if (rc != KK_OK)
                return rc;
            client->seed_count++;
        }
        if (!end)
            break;
        start = end + 1;
    }
    if (client->seed_count == 0)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "the bootstrap server list is empty");
    return KK_OK;
}

static bool use_sasl(kk_security_protocol_t protocol) {
    return protocol == KK_SECURITY_SASL_PLAINTEXT || protocol == KK_SECURITY_SASL_SSL;
}

/* The TLS context and SASL credentials the security protocol needs; files are loaded now, so
 * a missing CA file or a wrong key password fails here rather than at the first connect. */
static int security_init(kk_client_t *client, const kk_client_config_t *cfg, kk_error_t *err) {
    client->security_protocol = cfg->security_protocol;
    if (cfg->security_protocol == KK_SECURITY_SSL || cfg->security_protocol == KK_SECURITY_SASL_SSL) {
        int rc = kk_tls_ctx_new(cfg, &client->tls, err);
        if (rc != KK_OK)
            return rc;
    }
    if (use_sasl(cfg->security_protocol))
        return kk_sasl_config_init(&client->sasl, cfg, err);
    return KK_OK;
}

kk_client_t *kk_client_new(const kk_client_config_t *cfg, kk_error_t *err) {
    kk_error_clear(err);
    if (kk_config_check(KK_CONFIG_CLIENT, cfg, err) != KK_OK)
        return NULL;
    kk_client_t *client = calloc(1, sizeof(*client));
    if (!client) {
        kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
        return NULL;
    }
    client->waker.read_fd = client->waker.write_fd = -1;
    client->bootstrap.fd = -1;
    client->pid = getpid();
    client->bootstrap_servers = dup_string(cfg->bootstrap_servers);
    client->client_id = dup_string(cfg->client_id ? cfg->client_id : "kafkette");
    if (!client->bootstrap_servers || !client->client_id) {
        kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
        kk_client_free(client);
        return NULL;
    }
    if (parse_seeds(client, err) != KK_OK || kk_waker_init(&client->waker, err) != KK_OK) {
        kk_client_free(client);
        return NULL;
    }
    if (security_init(client, cfg, err) != KK_OK) {
        kk_client_free(client);
        return NULL;
    }
    if (!(client->metrics = kk_metrics_new())) {
        kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
        kk_client_free(client);
        return NULL;
    }
    memcpy(client->version_caps, cfg->max_api_version, sizeof(client->version_caps));
    client->allow_auto_topic_creation = cfg->allow_auto_topic_creation;
    client->log_cb = cfg->log_cb;
    client->log_opaque = cfg->log_opaque;
    client->conn_opts = (kk_conn_options_t){
        .client_id = client->client_id,
        .connect_timeout_ms = cfg->connect_timeout_ms,
        .request_timeout_ms = cfg->request_timeout_ms,
        .max_response_bytes = cfg->max_response_bytes,
        .version_caps = client->version_caps,
        .waker = &client->waker,
        .interrupt_check = cfg->interrupt_check,
        .interrupt_opaque = cfg->interrupt_opaque,
        .tls = client->tls,
        .sasl = use_sasl(client->security_protocol) ? &client->sasl : NULL,
        .authenticate = kk_sasl_authenticate,
        .metrics = client->metrics,
    };
    kk_conn_init(&client->bootstrap, client->seeds[0].host, client->seeds[0].port,
                 &client->conn_opts);
    return client;
}

void kk_client_free(kk_client_t *client) {
    if (!client)
        return;
    kk_conn_destroy(&client->bootstrap);
    for (size_t i = 0; i < client->broker_count; i++) {
        kk_conn_destroy(&client->brokers[i]->conn);
        free(client->brokers[i]);
    }
    free(client->brokers);
    kk_metrics_unref(client->metrics); /* after the connections, which count into it */
    kk_waker_destroy(&client->waker);
    kk_tls_ctx_free(client->tls);
    kk_sasl_config_destroy(&client->sasl);
    free(client->seeds);
    free(client->bootstrap_servers);
    free(client->client_id);
    free(client);
}

bool kk_client_forked(kk_client_t *client) {
    pid_t now = getpid();
    if (client->pid == now)
        return false;
    client->pid = now;
    kk_conn_close(&client->bootstrap);
    for (size_t i = 0; i < client->broker_count; i++)
        kk_conn_close(&client->brokers[i]->conn);
    kk_waker_destroy(&client->waker);
    kk_error_t ignored;
    /* without a pipe an interrupt only sets the flag, which the 100 ms checks still see */
    if (kk_waker_init(&client->waker, &ignored) != KK_OK)
        kk_log(client, KK_LOG_WARNING, "after fork: %s", ignored.message);
    kk_log(client, KK_LOG_INFO,
           "process %ld: closed the connections inherited from process %ld; reconnecting",
           (long)now, (long)getppid());
    return true;
}

int kk_client_connect(kk_client_t *client, kk_error_t *err) {
    if (!client)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "client is NULL");
    kk_client_forked(client);
    if (kk_conn_is_open(&client->bootstrap))
        return KK_OK;
    char failures[KK_ERROR_MESSAGE_SIZE] = "";
    size_t used = 0;
    int last_code = KK_ERR_NO_BROKERS;
    for (size_t i = 0; i < client->seed_count; i++) {
        kk_conn_destroy(&client->bootstrap);
        kk_conn_init(&client->bootstrap, client->seeds[i].host, client->seeds[i].port,
                     &client->conn_opts);
        kk_error_t attempt;
        kk_error_clear(&attempt);
        int rc = kk_conn_open(&client->bootstrap, &attempt);
        if (rc == KK_OK) {
            kk_log(client, KK_LOG_DEBUG, "connected to seed %s%s", client->bootstrap.label,
                   client->bootstrap.legacy_broker ? " (a broker without ApiVersions)" : "");
            return KK_OK;
        }
        if (rc == KK_ERR_INTERRUPTED) {
            if (err)
                *err = attempt;
            return rc;
        }
        kk_log(client, KK_LOG_WARNING, "seed unusable: %s", attempt.message);
        last_code = rc;
        if (used < sizeof(failures)) {
            int n = snprintf(failures + used, sizeof(failures) - used, "%s%s", used ? "; " : "",
                             attempt.message);
            used += n > 0 ? (size_t)n : 0;
        }
    }
    if (client->seed_count == 1)
        return kk_error_set(err, last_code, "%s", failures);
    return kk_error_set(err, KK_ERR_NO_BROKERS, "no seed broker could be reached: %s", failures);
}

int kk_client_metadata(kk_client_t *client, const char *const *topics, size_t topic_count,
                       kk_metadata_t **out, kk_error_t *err) {
    if (!client || !out || (topic_count && !topics))
        return kk_error_set(err, KK_ERR_INVALID_ARG, "kk_client_metadata: NULL argument");
    *out = NULL;
    for (size_t i = 0; i < topic_count; i++)
        if (!topics[i] || !topics[i][0] || strlen(topics[i]) > 249)
            return kk_error_set(err, KK_ERR_INVALID_ARG,
                                "topic names must be 1 to 249 characters long");
    /* One retry through a fresh seed connection if the current one has gone away. */
    for (int attempt = 0;; attempt++) {
        int rc = kk_client_connect(client, err);
        if (rc != KK_OK)
            return rc;
        kk_conn_t *c = &client->bootstrap;
        int16_t version = kk_conn_version(c, KK_API_METADATA);
        if (version < 0)
            return kk_error_set(err, KK_ERR_UNSUPPORTED_VERSION,
                                "%s: the broker supports no Metadata version we speak", c->label);
        kk_writer_t *w = kk_conn_begin(c, KK_API_METADATA, version);
        kk_encode_metadata_request(w, version, topics, topic_count,
                                   client->allow_auto_topic_creation);
        kk_reader_t r;
        rc = kk_conn_roundtrip(c, &r, err);
        if (rc == KK_OK) {
            rc = kk_decode_metadata_response(&r, version, out, err);
            if (rc != KK_OK) {
                kk_conn_close(c);
                kk_error_prefix(err, "%s: ", c->label);
        return rc;
            }
            return KK_OK;
        }
        if (attempt > 0 || !kk_err_is_retriable(rc) || rc == KK_ERR_TIMED_OUT)
            return rc;
        kk_log(client, KK_LOG_INFO, "metadata request failed, reconnecting: %s",
               err ? err->message : "");
    }
}

int kk_client_api_version(const kk_client_t *client, int api_key) {
    if (!client || !kk_conn_is_open(&client->bootstrap))
        return -1;
    return kk_conn_version(&client->bootstrap, api_key);
}

const char *kk_client_bootstrap_broker(const kk_client_t *client) {
    if (!client || !kk_conn_is_open(&client->bootstrap))
        return NULL;
    return client->bootstrap.label;
}

void kk_client_interrupt(kk_client_t *client) {
    if (client)
        kk_waker_wake(&client->waker);
}

void kk_client_clear_interrupt(kk_client_t *client) {
    if (client)
        kk_waker_clear(&client->waker);
}

void kk_client_use_metrics(kk_client_t *client, kk_metrics_t *m) {
    if (!client || !m || client->metrics == m)
        return;
    kk_metrics_ref(m);
    kk_metrics_unref(client->metrics);
    client->metrics = m;
    client->conn_opts.metrics = m;
    client->bootstrap.opts.metrics = m;
    for (size_t i = 0; i < client->broker_count; i++)
        client->brokers[i]->conn.opts.metrics = m;
}

int kk_client_broker_conn(kk_client_t *client, const kk_metadata_t *md, int32_t node_id,
                          kk_conn_t **out, kk_error_t *err) {
    kk_client_forked(client);
    const kk_broker_info_t *info = kk_metadata_broker(md, node_id);
    if (!info)
        return kk_error_set(err, KK_ERR_UNKNOWN_BROKER, "broker %d is not in the cluster metadata",
                            (int)node_id);
    kk_broker_conn_t *slot = NULL;
    for (size_t i = 0; i < client->broker_count; i++)
        if (client->brokers[i]->node_id == node_id)
            slot = client->brokers[i];
    if (!slot) {
        kk_broker_conn_t **grown =
            realloc(client->brokers, (client->broker_count + 1) * sizeof(*grown));
        if (!grown)
            return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
        client->brokers = grown;
        slot = calloc(1, sizeof(*slot));
        if (!slot)
            return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
        client->brokers[client->broker_count++] = slot;
        slot->node_id = node_id;
        kk_conn_init(&slot->conn, info->host, info->port, &client->conn_opts);
    } else if (strcmp(slot->conn.host, info->host) != 0 || slot->conn.port != info->port) {
        /* The broker moved: forget the old address. */
        kk_conn_destroy(&slot->conn);
        kk_conn_init(&slot->conn, info->host, info->port, &client->conn_opts);
    }
    if (!kk_conn_is_open(&slot->conn)) {
        int rc = kk_conn_open(&slot->conn, err);
        if (rc != KK_OK)
            return rc;
    }
    *out = &slot->conn;
    return KK_OK;
}
