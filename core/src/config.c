/*
 * The option table: every option of every object, with its type, range, default and a line of
 * documentation, and the kk_config_t that fills the typed config structs from names and values.
 * Bindings pass their keyword options through here and check nothing themselves, so the
 * messages for a bad option are the same in every language; kk_*_new() check a struct filled
 * by hand against the same entries (kk_config_check).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Where and how an option's value is kept in the typed struct. */
typedef enum storage {
    STORE_INT,         /* int */
    STORE_I16,         /* int16_t */
    STORE_I32,         /* int32_t */
    STORE_BOOL,        /* bool */
    STORE_ENUM,        /* an int-sized enum: the value of the chosen name */
    STORE_ENUM_NAME,   /* const char *: the chosen name (a static string) */
    STORE_STRING,      /* const char *, owned by the kk_config_t */
    STORE_JOINED,      /* a list kept as one comma-separated const char * (bootstrap servers) */
    STORE_STRING_LIST, /* const char *const * plus a size_t count at count_offset */
    STORE_API_CAPS,    /* kk_client_config_t.max_api_version */
    STORE_TRAIL,       /* a bool that picks KK_RESET_LATEST or KK_RESET_EARLIEST */
    STORE_CHECK_ONLY,  /* nothing to keep; the value is only checked (the producer's type) */
    STORE_CALLBACK,    /* a function pointer, set through a binding or the struct */
} storage_t;

typedef struct option {
    kk_option_info_t info;
    storage_t storage;
    size_t offset;       /* in the kind's struct; client options in kk_client_config_t */
    size_t count_offset; /* STORE_STRING_LIST */
    const int64_t *values; /* the value of each of info.names (ENUM, and INT names) */
} option_t;

/* Every typed struct starts with its client part, so a client option's offset is the same in
 * all of them. */
_Static_assert(offsetof(kk_producer_config_t, client) == 0, "client part first");
_Static_assert(offsetof(kk_consumer_config_t, client) == 0, "client part first");
_Static_assert(offsetof(kk_group_config_t, client) == 0, "client part first");
_Static_assert(sizeof(kk_codec_t) == sizeof(int) && sizeof(kk_partitioner_kind_t) == sizeof(int) &&
                   sizeof(kk_offset_reset_t) == sizeof(int),
               "enum options are stored as int");

#define ALL_KINDS (KK_CONFIG_CLIENT | KK_CONFIG_PRODUCER | KK_CONFIG_CONSUMER | KK_CONFIG_GROUP)
#define MS "ms"
#define BYTES "bytes"
#define I32_MAX INT32_MAX

static const char *const acks_names[] = {"all", NULL};
static const int64_t acks_values[] = {-1};
static const char *const codec_names[] = {"none", "gzip", "snappy", "lz4", "zstd", NULL};
static const int64_t codec_values[] = {KK_CODEC_NONE, KK_CODEC_GZIP, KK_CODEC_SNAPPY, KK_CODEC_LZ4,
                                       KK_CODEC_ZSTD};
static const char *const partitioner_names[] = {"murmur2", "crc32", NULL};
static const int64_t partitioner_values[] = {KK_PARTITIONER_MURMUR2, KK_PARTITIONER_CRC32};
static const char *const reset_names[] = {"earliest", "latest", "error", NULL};
static const char *const group_reset_names[] = {"earliest", "latest", NULL};
static const int64_t reset_values[] = {KK_RESET_EARLIEST, KK_RESET_LATEST, KK_RESET_ERROR};
static const char *const assignor_names[] = {"range", "roundrobin", NULL};
static const char *const producer_type_names[] = {"sync", "async", NULL};
static const int64_t producer_type_values[] = {0, 1};

#define CLIENT_FIELD(f) offsetof(kk_client_config_t, f)
#define PRODUCER_FIELD(f) offsetof(kk_producer_config_t, f)
#define CONSUMER_FIELD(f) offsetof(kk_consumer_config_t, f)
#define GROUP_FIELD(f) offsetof(kk_group_config_t, f)

/* An entry: name, alias_of, type, kinds, min, max, names, default (text), unit, doc, then where
 * it is kept. Aliases repeat their option's storage. */
#define OPT(name, alias, type, kinds, min, max, names, dflt, unit, doc, storage, offset, count, values) \
    {{name, alias, KK_OPTION_##type, kinds, min, max, names, dflt, unit, doc},                         \
     STORE_##storage, offset, count, values}

static const option_t options[] = {
    /* every kind */
    OPT("bootstrap_servers", NULL, LIST, ALL_KINDS, 1, 1024, NULL, "", NULL,
        "the seed brokers, \"host:port\" each; any one that answers is enough", JOINED,
        CLIENT_FIELD(bootstrap_servers), 0, NULL),
    OPT("client_id", NULL, STRING, ALL_KINDS, 0, INT16_MAX, NULL, "kafkette", NULL,
        "the name brokers log and apply quotas to", STRING, CLIENT_FIELD(client_id), 0, NULL),
    OPT("connect_timeout_ms", NULL, INT, ALL_KINDS, 1, I32_MAX, NULL, "10000", MS,
        "how long a TCP connect may take", INT, CLIENT_FIELD(connect_timeout_ms), 0, NULL),
    OPT("request_timeout_ms", NULL, INT, ALL_KINDS, 1, I32_MAX, NULL, "30000", MS,
        "how long one request may wait for its response", INT, CLIENT_FIELD(request_timeout_ms),
        0, NULL),
    OPT("socket_timeout_ms", "request_timeout_ms", INT, ALL_KINDS, 1, I32_MAX, NULL, "30000", MS,
        "Poseidon's name for request_timeout_ms", INT, CLIENT_FIELD(request_timeout_ms), 0, NULL),
    OPT("max_response_bytes", NULL, INT, ALL_KINDS, 1, I32_MAX, NULL, "104857600", BYTES,
        "a response whose length prefix is larger is refused as malformed", I32,
        CLIENT_FIELD(max_response_bytes), 0, NULL),
    OPT("allow_auto_topic_creation", NULL, BOOL, KK_CONFIG_CLIENT | KK_CONFIG_PRODUCER, 0, 1, NULL,
        "true", NULL, "let a metadata request create a missing topic (the broker must allow it too)",
        BOOL, CLIENT_FIELD(allow_auto_topic_creation), 0, NULL),
    OPT("allow_auto_topic_creation", NULL, BOOL, KK_CONFIG_CONSUMER | KK_CONFIG_GROUP, 0, 1, NULL,
        "false", NULL, "let a metadata request create a missing topic (reading never needs it)",
        BOOL, CLIENT_FIELD(allow_auto_topic_creation), 0, NULL),
    OPT("max_api_versions", NULL, MAP, ALL_KINDS, -1, INT16_MAX, NULL, "", NULL,
        "caps on the version used per API key (key=version); for testing old brokers' paths",
        API_CAPS, CLIENT_FIELD(max_api_version), 0, NULL),

    /* producer */
    OPT("type", NULL, ENUM, KK_CONFIG_PRODUCER, 0, 0, producer_type_names, "sync", NULL,
        "Poseidon's producer type; only sync is available", CHECK_ONLY, 0, 0,
        producer_type_values),
    OPT("required_acks", NULL, INT, KK_CONFIG_PRODUCER, -1, 1, acks_names, "all", NULL,
        "replicas that must have a write before it is acknowledged: 0 (no response), 1 (the "
        "leader) or all (-1)",
        I16, PRODUCER_FIELD(required_acks), 0, acks_values),
    OPT("ack_timeout_ms", NULL, INT, KK_CONFIG_PRODUCER, 0, I32_MAX, NULL, "1500", MS,
        "how long the broker may wait for replicas before answering", I32,
        PRODUCER_FIELD(ack_timeout_ms), 0, NULL),
    OPT("max_send_retries", NULL, INT, KK_CONFIG_PRODUCER, 0, I32_MAX, NULL, "3", NULL,
        "retries of a retriable failure after the first try", INT,
        PRODUCER_FIELD(max_send_retries), 0, NULL),
    OPT("retry_backoff_ms", NULL, INT, KK_CONFIG_PRODUCER, 0, I32_MAX, NULL, "100", MS,
        "pause before each retry", INT, PRODUCER_FIELD(retry_backoff_ms), 0, NULL),
    OPT("metadata_refresh_interval_ms", NULL, INT, KK_CONFIG_PRODUCER, 0, I32_MAX, NULL, "600000",
        MS, "metadata older than this is fetched again before a send", INT,
        PRODUCER_FIELD(metadata_refresh_interval_ms), 0, NULL),
    OPT("compression_codec", NULL, ENUM, KK_CONFIG_PRODUCER, 0, 0, codec_names, "none", NULL,
        "how batches are compressed", ENUM, PRODUCER_FIELD(compression), 0, codec_values),
    OPT("compressed_topics", NULL, LIST, KK_CONFIG_PRODUCER, 1, 249, NULL, "", NULL,
        "compress only these topics (empty: every topic, when a codec is set)", STRING_LIST,
        PRODUCER_FIELD(compressed_topics), PRODUCER_FIELD(compressed_topic_count), NULL),
    OPT("partitioner", NULL, ENUM, KK_CONFIG_PRODUCER, 0, 0, partitioner_names, "murmur2", NULL,
        "where keyed messages go: murmur2 (the Java client's rule), crc32 (Poseidon's), or a "
        "callable (key, partition_count) -> partition",
        ENUM, PRODUCER_FIELD(partitioner), 0, partitioner_values),
    OPT("max_request_bytes", NULL, INT, KK_CONFIG_PRODUCER, 1024, I32_MAX, NULL, "1048576", BYTES,
        "a larger send is split into several requests", I32, PRODUCER_FIELD(max_request_bytes), 0,
        NULL),
    OPT("topic_wait_ms", NULL, INT, KK_CONFIG_PRODUCER, 0, I32_MAX, NULL, "10000", MS,
        "how long to wait for an auto-created topic's leader before failing its messages", INT,
        PRODUCER_FIELD(topic_wait_ms), 0, NULL),

    /* partition consumer */
    OPT("max_bytes", NULL, INT, KK_CONFIG_CONSUMER, 1, I32_MAX, NULL, "1048576", BYTES,
        "the most one fetch returns (a larger record is still fetched whole)", I32,
        CONSUMER_FIELD(max_bytes), 0, NULL),
    OPT("min_bytes", NULL, INT, KK_CONFIG_CONSUMER, 0, I32_MAX, NULL, "1", BYTES,
        "the broker waits (up to max_wait_ms) until it has this much", I32,
        CONSUMER_FIELD(min_bytes), 0, NULL),
    OPT("max_wait_ms", NULL, INT, KK_CONFIG_CONSUMER, 0, I32_MAX, NULL, "100", MS,
        "how long the broker may wait for min_bytes", I32, CONSUMER_FIELD(max_wait_ms), 0, NULL),
    OPT("read_committed", NULL, BOOL, KK_CONFIG_CONSUMER, 0, 1, NULL, "false", NULL,
        "skip records of aborted and open transactions", BOOL, CONSUMER_FIELD(read_committed), 0,
        NULL),
    OPT("offset_reset", NULL, ENUM, KK_CONFIG_CONSUMER, 0, 0, reset_names, "earliest", NULL,
        "where to go when the next offset is out of range: earliest, latest, or error", ENUM,
        CONSUMER_FIELD(offset_reset), 0, reset_values),
    OPT("failover_tries", NULL, INT, KK_CONFIG_CONSUMER, 0, I32_MAX, NULL, "5", NULL,
        "leader lookups after a failure before a fetch gives up", INT,
        CONSUMER_FIELD(failover_tries), 0, NULL),
    OPT("retry_backoff_ms", NULL, INT, KK_CONFIG_CONSUMER, 0, I32_MAX, NULL, "200", MS,
        "pause between leader lookups", INT, CONSUMER_FIELD(retry_backoff_ms), 0, NULL),

    /* consumer group member */
    OPT("assignor", NULL, ENUM, KK_CONFIG_GROUP, 0, 0, assignor_names, "range", NULL,
        "how the group leader shares partitions out: range or roundrobin", ENUM_NAME,
        GROUP_FIELD(assignor), 0, NULL),
    OPT("session_timeout_ms", NULL, INT, KK_CONFIG_GROUP, 1, I32_MAX, NULL, "10000", MS,
        "a member silent for this long is dropped from the group", INT,
        GROUP_FIELD(session_timeout_ms), 0, NULL),
    OPT("rebalance_timeout_ms", NULL, INT, KK_CONFIG_GROUP, 1, I32_MAX, NULL, "30000", MS,
        "how long a rebalance waits for every member to rejoin", INT,
        GROUP_FIELD(rebalance_timeout_ms), 0, NULL),
    OPT("heartbeat_interval_ms", NULL, INT, KK_CONFIG_GROUP, 0, I32_MAX, NULL, "0", MS,
        "between heartbeats; 0: a third of session_timeout_ms, at most 3000", INT,
        GROUP_FIELD(heartbeat_interval_ms), 0, NULL),
    OPT("auto_commit_interval_ms", NULL, INT, KK_CONFIG_GROUP, 0, I32_MAX, NULL, "5000", MS,
        "commit what was consumed this often and before giving partitions up; 0: never "
        "automatically",
        INT, GROUP_FIELD(auto_commit_interval_ms), 0, NULL),
    OPT("offset_reset", NULL, ENUM, KK_CONFIG_GROUP, 0, 0, group_reset_names, "earliest", NULL,
        "where a partition without a committed offset starts: earliest or latest", ENUM,
        GROUP_FIELD(start_when_no_commit), 0, reset_values),
    OPT("trail", NULL, BOOL, KK_CONFIG_GROUP, 0, 1, NULL, "false", NULL,
        "Poseidon's way to say offset_reset latest (true) or earliest (false)", TRAIL,
        GROUP_FIELD(start_when_no_commit), 0, NULL),
    OPT("max_bytes", NULL, INT, KK_CONFIG_GROUP, 1, I32_MAX, NULL, "1048576", BYTES,
        "the most one fetch returns", I32, GROUP_FIELD(max_bytes), 0, NULL),
    OPT("max_wait_ms", NULL, INT, KK_CONFIG_GROUP, 0, I32_MAX, NULL, "100", MS,
        "how long the broker may wait for data in one fetch", I32, GROUP_FIELD(max_wait_ms), 0,
        NULL),
    OPT("metadata_refresh_interval_ms", NULL, INT, KK_CONFIG_GROUP, 1, I32_MAX, NULL, "10000", MS,
        "how often partition counts are checked (a change rebalances the group)", INT,
        GROUP_FIELD(metadata_refresh_interval_ms), 0, NULL),
    OPT("retry_backoff_ms", NULL, INT, KK_CONFIG_GROUP, 0, I32_MAX, NULL, "200", MS,
        "pause between retries of coordinator errors", INT, GROUP_FIELD(retry_backoff_ms), 0,
        NULL),
    OPT("on_assign", NULL, CALLBACK, KK_CONFIG_GROUP, 0, 0, NULL, "", NULL,
        "called with the partitions this member just claimed", CALLBACK, GROUP_FIELD(on_assign),
        0, NULL),
    OPT("on_revoke", NULL, CALLBACK, KK_CONFIG_GROUP, 0, 0, NULL, "", NULL,
        "called with partitions about to be given up, while they are still owned (commit here)",
        CALLBACK, GROUP_FIELD(on_revoke), 0, NULL),
};

#define OPTION_COUNT COUNT(options)

/* One bit per table entry for kk_config_is_set. */
#define SET_WORDS ((OPTION_COUNT + 63) / 64)

/* A string the config owns. */
typedef struct owned {
    struct owned *next;
    char text[];
} owned_t;

struct kk_config {
    kk_config_kind_t kind;
    union {
        kk_client_config_t client;
        kk_producer_config_t producer;
        kk_consumer_config_t consumer;
        kk_group_config_t group;
    } typed, defaults;
    owned_t *strings;         /* every string and list the typed struct points to */
    uint64_t set[SET_WORDS];  /* entries set since kk_config_new */
};

/* ---- the table -------------------------------------------------------------------------- */

size_t kk_option_count(void) {
    return OPTION_COUNT;
}

const kk_option_info_t *kk_option_at(size_t index) {
    return index < OPTION_COUNT ? &options[index].info : NULL;
}

static const option_t *find(kk_config_kind_t kind, const char *name) {
    if (!name)
        return NULL;
    for (size_t i = 0; i < OPTION_COUNT; i++)
        if ((options[i].info.kinds & kind) && strcmp(options[i].info.name, name) == 0)
            return &options[i];
    return NULL;
}

const kk_option_info_t *kk_option_find(kk_config_kind_t kind, const char *name) {
    const option_t *o = find(kind, name);
    return o ? &o->info : NULL;
}

const char *kk_config_kind_name(kk_config_kind_t kind) {
    switch (kind) {
    case KK_CONFIG_CLIENT:
        return "client";
    case KK_CONFIG_PRODUCER:
        return "producer";
    case KK_CONFIG_CONSUMER:
        return "consumer";
    case KK_CONFIG_GROUP:
        return "group";
    }
    return "unknown";
}

int kk_config_default_heartbeat_ms(int session_timeout_ms) {
    int third = session_timeout_ms / 3;
    if (third > 3000)
        return 3000;
    return third > 0 ? third : 1;
}

/* ---- messages --------------------------------------------------------------------------- */

/* Levenshtein distance, capped: enough to suggest a near spelling. */
static size_t edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 64;
    size_t row[64];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t above = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = diagonal + cost;
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diagonal = above;
        }
    }
    return row[lb];
}

static int unknown_option(kk_config_kind_t kind, const char *name, kk_error_t *err) {
    const char *closest = NULL;
    size_t best = 3; /* suggest only spellings within two edits */
    for (size_t i = 0; name && i < OPTION_COUNT; i++) {
        if (!(options[i].info.kinds & kind))
            continue;
        size_t d = edit_distance(name, options[i].info.name);
        if (d < best) {
            best = d;
            closest = options[i].info.name;
        }
    }
    if (closest)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "unknown option '%s' for a %s (did you mean '%s'?)",
                            name ? name : "", kk_config_kind_name(kind), closest);
    return kk_error_set(err, KK_ERR_INVALID_ARG, "unknown option '%s' for a %s", name ? name : "",
                        kk_config_kind_name(kind));
}

/* "an integer from 0 to 2147483647", "one of 'none', 'gzip', ...": what the option takes. */
static void describe_allowed(const option_t *o, char *buf, size_t size) {
    const kk_option_info_t *in = &o->info;
    size_t n = 0;
#define APPEND(...)                                                                      \
    do {                                                                                 \
        int w = snprintf(buf + n, n < size ? size - n : 0, __VA_ARGS__);                 \
        if (w > 0)                                                                       \
            n += (size_t)w;                                                              \
        if (n >= size)                                                                   \
            n = size - 1;                                                                \
    } while (0)
    switch (in->type) {
    case KK_OPTION_INT:
        APPEND("an integer from %" PRId64 " to %" PRId64, in->min, in->max);
        for (size_t i = 0; in->names && in->names[i]; i++)
            APPEND(" or '%s'", in->names[i]);
        break;
    case KK_OPTION_BOOL:
        APPEND("true or false");
        break;
    case KK_OPTION_STRING:
        APPEND("a string of %" PRId64 " to %" PRId64 " bytes", in->min, in->max);
        break;
    case KK_OPTION_ENUM:
        APPEND("one of");
        for (size_t i = 0; in->names[i]; i++)
            APPEND("%s '%s'", i ? "," : "", in->names[i]);
        break;
    case KK_OPTION_LIST:
        APPEND("a list of strings of %" PRId64 " to %" PRId64 " bytes", in->min, in->max);
        break;
    case KK_OPTION_MAP:
        APPEND("a map of API keys to versions from %" PRId64 " to %" PRId64, in->min, in->max);
        break;
    case KK_OPTION_CALLBACK:
        APPEND("a callable");
        break;
    }
#undef APPEND
}

/* "option 'max_bytes' takes an integer from 1 to 2147483647, not 0" */
static int refuse(const option_t *o, kk_error_t *err, const char *fmt, ...) KK_PRINTF(3, 4);
static int refuse(const option_t *o, kk_error_t *err, const char *fmt, ...) {
    char allowed[256], got[192];
    describe_allowed(o, allowed, sizeof(allowed));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(got, sizeof(got), fmt, ap);
    va_end(ap);
    return kk_error_set(err, KK_ERR_INVALID_ARG, "option '%s' takes %s, not %s", o->info.name,
                        allowed, got);
}

/* ---- the config object ------------------------------------------------------------------ */

static void typed_init(kk_config_kind_t kind, void *typed) {
    switch (kind) {
    case KK_CONFIG_CLIENT:
        kk_client_config_init(typed);
        break;
    case KK_CONFIG_PRODUCER:
        kk_producer_config_init(typed);
        break;
    case KK_CONFIG_CONSUMER:
        kk_consumer_config_init(typed);
        break;
    case KK_CONFIG_GROUP:
        kk_group_config_init(typed);
        break;
    }
}

kk_config_t *kk_config_new(kk_config_kind_t kind) {
    if (kind != KK_CONFIG_CLIENT && kind != KK_CONFIG_PRODUCER && kind != KK_CONFIG_CONSUMER &&
        kind != KK_CONFIG_GROUP)
        return NULL;
    kk_config_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->kind = kind;
    typed_init(kind, &c->typed);
    typed_init(kind, &c->defaults);
    return c;
}

void kk_config_free(kk_config_t *config) {
    if (!config)
        return;
    owned_t *s = config->strings;
    while (s) {
        owned_t *next = s->next;
        free(s);
        s = next;
    }
    free(config);
}

kk_config_kind_t kk_config_kind(const kk_config_t *config) {
    return config->kind;
}

kk_client_config_t *kk_config_client(kk_config_t *config) {
    return config ? &config->typed.client : NULL;
}

kk_producer_config_t *kk_config_producer(kk_config_t *config) {
    return config && config->kind == KK_CONFIG_PRODUCER ? &config->typed.producer : NULL;
}

kk_consumer_config_t *kk_config_consumer(kk_config_t *config) {
    return config && config->kind == KK_CONFIG_CONSUMER ? &config->typed.consumer : NULL;
}

kk_group_config_t *kk_config_group(kk_config_t *config) {
    return config && config->kind == KK_CONFIG_GROUP ? &config->typed.group : NULL;
}

/* A block of `size` bytes owned by the config until it is freed. */
static void *own(kk_config_t *c, size_t size) {
    owned_t *s = malloc(sizeof(*s) + size);
    if (!s)
        return NULL;
    s->next = c->strings;
    c->strings = s;
    return s->text;
}

static char *field(kk_config_t *c, const option_t *o) {
    return (char *)&c->typed + o->offset;
}

static void mark_set(kk_config_t *c, const option_t *o) {
    const option_t *canonical = o->info.alias_of ? find(c->kind, o->info.alias_of) : o;
    size_t index = (size_t)(canonical - options);
    c->set[index / 64] |= UINT64_C(1) << (index % 64);
}

bool kk_config_is_set(const kk_config_t *config, const char *name) {
    const option_t *o = config ? find(config->kind, name) : NULL;
    if (!o)
        return false;
    if (o->info.alias_of)
        o = find(config->kind, o->info.alias_of);
    size_t index = (size_t)(o - options);
    return (config->set[index / 64] >> (index % 64)) & 1;
}

static void store_int(kk_config_t *c, const option_t *o, int64_t v) {
    char *at = field(c, o);
    switch (o->storage) {
    case STORE_INT:
    case STORE_ENUM: {
        int x = (int)v;
        memcpy(at, &x, sizeof(x));
        break;
    }
    case STORE_I16: {
        int16_t x = (int16_t)v;
        memcpy(at, &x, sizeof(x));
        break;
    }
    case STORE_I32: {
        int32_t x = (int32_t)v;
        memcpy(at, &x, sizeof(x));
        break;
    }
    default:
        break;
    }
}

static int64_t load_int(const char *at, storage_t storage) {
    switch (storage) {
    case STORE_I16: {
        int16_t x;
        memcpy(&x, at, sizeof(x));
        return x;
    }
    case STORE_I32: {
        int32_t x;
        memcpy(&x, at, sizeof(x));
        return x;
    }
    default: {
        int x;
        memcpy(&x, at, sizeof(x));
        return x;
    }
    }
}

/* The index of name among names (any case), or -1. */
static int name_index(const char *const *names, const char *name) {
    for (int i = 0; names && names[i]; i++)
        if (strcasecmp(names[i], name) == 0)
            return i;
    return -1;
}

static int set_int_checked(kk_config_t *c, const option_t *o, int64_t v, kk_error_t *err) {
    if (v < o->info.min || v > o->info.max)
        return refuse(o, err, "%" PRId64, v);
    store_int(c, o, v);
    mark_set(c, o);
    return KK_OK;
}

static int set_choice(kk_config_t *c, const option_t *o, const char *name, kk_error_t *err) {
    int i = name_index(o->info.names, name);
    if (i < 0)
        return refuse(o, err, "'%s'", name);
    if (o->storage == STORE_CHECK_ONLY) {
        if (o->values[i] != 0)
            return kk_error_set(err, KK_ERR_INVALID_ARG,
                                "option '%s': '%s' is not available yet (kafkette has only the "
                                "synchronous producer); use '%s'",
                                o->info.name, o->info.names[i], o->info.names[0]);
    } else if (o->storage == STORE_ENUM_NAME) {
        memcpy(field(c, o), &o->info.names[i], sizeof(const char *));
    } else {
        store_int(c, o, o->values[i]);
    }
    mark_set(c, o);
    return KK_OK;
}

static int set_string(kk_config_t *c, const option_t *o, const char *value, kk_error_t *err) {
    size_t n = strlen(value);
    if ((int64_t)n < o->info.min || (int64_t)n > o->info.max)
        return refuse(o, err, "a string of %zu bytes", n);
    char *copy = own(c, n + 1);
    if (!copy)
        return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
    memcpy(copy, value, n + 1);
    memcpy(field(c, o), &copy, sizeof(copy));
    mark_set(c, o);
    return KK_OK;
}

static int set_bool(kk_config_t *c, const option_t *o, bool v) {
    if (o->storage == STORE_TRAIL) {
        kk_offset_reset_t reset = v ? KK_RESET_LATEST : KK_RESET_EARLIEST;
        memcpy(field(c, o), &reset, sizeof(reset));
    } else {
        memcpy(field(c, o), &v, sizeof(v));
    }
    mark_set(c, o);
    return KK_OK;
}

static int set_list(kk_config_t *c, const option_t *o, const char *const *items, size_t count,
                    kk_error_t *err) {
    size_t bytes = 0;
    for (size_t i = 0; i < count; i++) {
        if (!items[i])
            return refuse(o, err, "a list holding a null at %zu", i);
        size_t n = strlen(items[i]);
        if ((int64_t)n < o->info.min || (int64_t)n > o->info.max)
            return refuse(o, err, "a list holding '%.64s' (%zu bytes)", items[i], n);
        bytes += n + 1;
    }
    if (o->storage == STORE_JOINED) {
        if (count == 0)
            return refuse(o, err, "an empty list");
        char *joined = own(c, bytes);
        if (!joined)
            return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
        size_t at = 0;
        for (size_t i = 0; i < count; i++) {
            size_t n = strlen(items[i]);
            memcpy(joined + at, items[i], n);
            at += n;
            joined[at++] = i + 1 < count ? ',' : '\0';
        }
        memcpy(field(c, o), &joined, sizeof(joined));
    } else {
        /* the array of pointers, then the strings, in one owned block */
        char *block = own(c, (count + 1) * sizeof(char *) + bytes);
        if (!block)
            return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
        const char **array = (const char **)(void *)block;
        char *text = block + (count + 1) * sizeof(char *);
        for (size_t i = 0; i < count; i++) {
            size_t n = strlen(items[i]) + 1;
            memcpy(text, items[i], n);
            array[i] = text;
            text += n;
        }
        array[count] = NULL;
        const char *const *list = count ? array : NULL;
        memcpy(field(c, o), &list, sizeof(list));
        memcpy((char *)&c->typed + o->count_offset, &count, sizeof(count));
    }
    mark_set(c, o);
    return KK_OK;
}

static int set_map(kk_config_t *c, const option_t *o, const int64_t *keys, const int64_t *values,
                   size_t count, kk_error_t *err) {
    int16_t caps[KK_API__COUNT];
    for (int i = 0; i < KK_API__COUNT; i++)
        caps[i] = -1;
    for (size_t i = 0; i < count; i++) {
        if (keys[i] < 0 || keys[i] >= KK_API__COUNT)
            return refuse(o, err, "API key %" PRId64 " (known keys: 0 to %d)", keys[i],
                          KK_API__COUNT - 1);
        if (values[i] < o->info.min || values[i] > o->info.max)
            return refuse(o, err, "version %" PRId64 " for API key %" PRId64, values[i], keys[i]);
        caps[keys[i]] = (int16_t)values[i];
    }
    memcpy(field(c, o), caps, sizeof(caps));
    mark_set(c, o);
    return KK_OK;
}

/* Parses a whole decimal integer (surrounding blanks allowed). */
static bool parse_int(const char *text, int64_t *out) {
    while (isspace((unsigned char)*text))
        text++;
    if (!*text)
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text)
        return false;
    while (isspace((unsigned char)*end))
        end++;
    if (*end)
        return false;
    *out = v;
    return true;
}

static bool parse_bool(const char *text, bool *out) {
    static const char *const yes[] = {"true", "1", "yes", "on", NULL};
    static const char *const no[] = {"false", "0", "no", "off", NULL};
    if (name_index(yes, text) >= 0)
        *out = true;
    else if (name_index(no, text) >= 0)
        *out = false;
    else
        return false;
    return true;
}

/* Splits "a,b , c" on commas into trimmed items, calls set_list. */
static int set_list_text(kk_config_t *c, const option_t *o, const char *text, kk_error_t *err) {
    size_t n = strlen(text);
    char *copy = malloc(n + 1);
    const char **items = calloc(n / 2 + 2, sizeof(*items));
    if (!copy || !items) {
        free(copy);
        free(items);
        return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
    }
    memcpy(copy, text, n + 1);
    size_t count = 0;
    char *p = copy;
    while (*p) {
        char *comma = strchr(p, ',');
        char *end = comma ? comma : p + strlen(p);
        char *start = p;
        while (start < end && isspace((unsigned char)*start))
            start++;
        char *stop = end;
        while (stop > start && isspace((unsigned char)stop[-1]))
            stop--;
        bool last = !comma;
        *stop = '\0';
        if (start < stop)
            items[count++] = start;
        if (last)
            break;
        p = comma + 1;
    }
    int rc = set_list(c, o, items, count, err);
    free(items);
    free(copy);
    return rc;
}

/* "3=1, 1=4" */
static int set_map_text(kk_config_t *c, const option_t *o, const char *text, kk_error_t *err) {
    int64_t keys[KK_API__COUNT * 2], values[KK_API__COUNT * 2];
    size_t count = 0;
    const char *p = text;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char entry[64];
        if (len >= sizeof(entry) || count == COUNT(keys))
            return refuse(o, err, "'%s'", text);
        memcpy(entry, p, len);
        entry[len] = '\0';
        char *eq = strchr(entry, '=');
        bool blank = strspn(entry, " \t") == len;
        if (!blank) {
            if (!eq)
                return refuse(o, err, "'%s'", text);
            *eq = '\0';
            if (!parse_int(entry, &keys[count]) || !parse_int(eq + 1, &values[count]))
                return refuse(o, err, "'%s'", text);
            count++;
        }
        if (!end)
            break;
        p = end + 1;
    }
    return set_map(c, o, keys, values, count, err);
}

static int config_find(const kk_config_t *config, const char *name, const option_t **out,
                       kk_error_t *err) {
    if (!config)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "the config is NULL");
    *out = find(config->kind, name);
    if (!*out)
        return unknown_option(config->kind, name, err);
    if ((*out)->info.type == KK_OPTION_CALLBACK)
        return refuse(*out, err, "a value (set callbacks through the binding or the typed config)");
    return KK_OK;
}

int kk_config_set(kk_config_t *config, const char *name, const char *value, kk_error_t *err) {
    const option_t *o;
    int rc = config_find(config, name, &o, err);
    if (rc != KK_OK)
        return rc;
    if (!value)
        return kk_config_set_default(config, name, err);
    switch (o->info.type) {
    case KK_OPTION_INT: {
        int64_t v;
        int named = name_index(o->info.names, value);
        if (named >= 0)
            return set_int_checked(config, o, o->values[named], err);
        if (!parse_int(value, &v))
            return refuse(o, err, "'%.64s'", value);
        return set_int_checked(config, o, v, err);
    }
    case KK_OPTION_BOOL: {
        bool b;
        if (!parse_bool(value, &b))
            return refuse(o, err, "'%.64s'", value);
        return set_bool(config, o, b);
    }
    case KK_OPTION_ENUM:
        return set_choice(config, o, value, err);
    case KK_OPTION_STRING:
        return set_string(config, o, value, err);
    case KK_OPTION_LIST:
        return set_list_text(config, o, value, err);
    case KK_OPTION_MAP:
        return set_map_text(config, o, value, err);
    case KK_OPTION_CALLBACK:
        break;
    }
    return refuse(o, err, "'%.64s'", value);
}

/* A typed setter given a value of another type: "..., not an integer (5)". */
static int wrong_type(const option_t *o, const char *what, kk_error_t *err) {
    return refuse(o, err, "%s", what);
}

int kk_config_set_int(kk_config_t *config, const char *name, int64_t value, kk_error_t *err) {
    const option_t *o;
    int rc = config_find(config, name, &o, err);
    if (rc != KK_OK)
        return rc;
    if (o->info.type != KK_OPTION_INT) {
        char what[48];
        snprintf(what, sizeof(what), "an integer (%" PRId64 ")", value);
        return wrong_type(o, what, err);
    }
    return set_int_checked(config, o, value, err);
}

int kk_config_set_bool(kk_config_t *config, const char *name, bool value, kk_error_t *err) {
    const option_t *o;
    int rc = config_find(config, name, &o, err);
    if (rc != KK_OK)
        return rc;
    if (o->info.type != KK_OPTION_BOOL)
        return wrong_type(o, value ? "true" : "false", err);
    return set_bool(config, o, value);
}

int kk_config_set_list(kk_config_t *config, const char *name, const char *const *items,
                       size_t count, kk_error_t *err) {
    const option_t *o;
    int rc = config_find(config, name, &o, err);
    if (rc != KK_OK)
        return rc;
    if (o->info.type != KK_OPTION_LIST)
        return wrong_type(o, "a list", err);
    return set_list(config, o, items, count, err);
}

int kk_config_set_map(kk_config_t *config, const char *name, const int64_t *keys,
                      const int64_t *values, size_t count, kk_error_t *err) {
    const option_t *o;
    int rc = config_find(config, name, &o, err);
    if (rc != KK_OK)
        return rc;
    if (o->info.type != KK_OPTION_MAP)
        return wrong_type(o, "a map", err);
    return set_map(config, o, keys, values, count, err);
}

static size_t storage_size(const option_t *o) {
    switch (o->storage) {
    case STORE_I16:
        return sizeof(int16_t);
    case STORE_I32:
        return sizeof(int32_t);
    case STORE_INT:
    case STORE_ENUM:
    case STORE_TRAIL:
        return sizeof(int);
    case STORE_BOOL:
        return sizeof(bool);
    case STORE_ENUM_NAME:
    case STORE_STRING:
    case STORE_JOINED:
    case STORE_STRING_LIST:
        return sizeof(const char *);
    case STORE_API_CAPS:
        return sizeof(((kk_client_config_t *)0)->max_api_version);
    case STORE_CHECK_ONLY:
    case STORE_CALLBACK:
        break;
    }
    return 0;
}

int kk_config_set_default(kk_config_t *config, const char *name, kk_error_t *err) {
    const option_t *o;
    int rc = config_find(config, name, &o, err);
    if (rc != KK_OK)
        return rc;
    size_t n = storage_size(o);
    memcpy(field(config, o), (const char *)&config->defaults + o->offset, n);
    if (o->storage == STORE_STRING_LIST)
        memcpy((char *)&config->typed + o->count_offset,
               (const char *)&config->defaults + o->count_offset, sizeof(size_t));
    return KK_OK;
}

int kk_config_reject_type(const kk_config_t *config, const char *name, const char *type_name,
                          kk_error_t *err) {
    if (!config)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "the config is NULL");
    const option_t *o = find(config->kind, name);
    if (!o)
        return unknown_option(config->kind, name, err);
    char what[96];
    const char *t = type_name ? type_name : "value";
    bool vowel = strchr("aeiouAEIOU", t[0]) != NULL;
    snprintf(what, sizeof(what), "%s %s", vowel ? "an" : "a", t);
    return wrong_type(o, what, err);
}

/* Writes the value of o held at `at` (a typed struct's bytes) as text. */
static int format_value(const option_t *o, const char *base, char *buf, size_t size) {
    const char *at = base + o->offset;
    switch (o->storage) {
    case STORE_INT:
    case STORE_I16:
    case STORE_I32: {
        int64_t v = load_int(at, o->storage);
        for (size_t i = 0; o->info.names && o->info.names[i]; i++)
            if (o->values[i] == v)
                return snprintf(buf, size, "%s", o->info.names[i]);
        return snprintf(buf, size, "%" PRId64, v);
    }
    case STORE_ENUM:
    case STORE_TRAIL: {
        int64_t v = load_int(at, STORE_INT);
        if (o->storage == STORE_TRAIL)
            return snprintf(buf, size, "%s", v == KK_RESET_LATEST ? "true" : "false");
        for (size_t i = 0; o->info.names[i]; i++)
            if (o->values[i] == v)
                return snprintf(buf, size, "%s", o->info.names[i]);
        return snprintf(buf, size, "%" PRId64, v);
    }
    case STORE_BOOL: {
        bool b;
        memcpy(&b, at, sizeof(b));
        return snprintf(buf, size, "%s", b ? "true" : "false");
    }
    case STORE_ENUM_NAME:
    case STORE_STRING:
    case STORE_JOINED: {
        const char *s;
        memcpy(&s, at, sizeof(s));
        return snprintf(buf, size, "%s", s ? s : o->info.default_value);
    }
    case STORE_STRING_LIST: {
        const char *const *list;
        size_t count;
        memcpy(&list, at, sizeof(list));
        memcpy(&count, base + o->count_offset, sizeof(count));
        int n = 0;
        if (size > 0)
            buf[0] = '\0';
        for (size_t i = 0; list && i < count; i++) {
            int w = snprintf(buf + (size_t)n, (size_t)n < size ? size - (size_t)n : 0, "%s%s",
                             i ? "," : "", list[i]);
            n += w > 0 ? w : 0;
        }
        return n;
    }
    case STORE_API_CAPS: {
        int16_t caps[KK_API__COUNT];
        memcpy(caps, at, sizeof(caps));
        int n = 0;
        if (size > 0)
            buf[0] = '\0';
        for (int k = 0; k < KK_API__COUNT; k++) {
            if (caps[k] < 0)
                continue;
            int w = snprintf(buf + (size_t)n, (size_t)n < size ? size - (size_t)n : 0, "%s%d=%d",
                             n ? "," : "", k, caps[k]);
            n += w > 0 ? w : 0;
        }
        return n;
    }
    case STORE_CHECK_ONLY:
        return snprintf(buf, size, "%s", o->info.names[0]);
    case STORE_CALLBACK:
        break;
    }
    return -1;
}

int kk_config_get(const kk_config_t *config, const char *name, char *buf, size_t size) {
    const option_t *o = config ? find(config->kind, name) : NULL;
    if (!o || o->info.type == KK_OPTION_CALLBACK)
        return -1;
    return format_value(o, (const char *)&config->typed, buf, size);
}

/* ---- checking a typed struct --------------------------------------------------------------- */

static int check_one(const option_t *o, const char *base, kk_error_t *err) {
    const char *at = base + o->offset;
    switch (o->storage) {
    case STORE_INT:
    case STORE_I16:
    case STORE_I32: {
        int64_t v = load_int(at, o->storage);
        if (v < o->info.min || v > o->info.max)
            return refuse(o, err, "%" PRId64, v);
        return KK_OK;
    }
    case STORE_ENUM: {
        int64_t v = load_int(at, STORE_INT);
        for (size_t i = 0; o->info.names[i]; i++)
            if (o->values[i] == v)
                return KK_OK;
        /* a callback partitioner is chosen on the struct, with its function */
        if (o->offset == PRODUCER_FIELD(partitioner) && v == KK_PARTITIONER_CALLBACK)
            return KK_OK;
        return refuse(o, err, "%" PRId64, v);
    }
    case STORE_ENUM_NAME: {
        const char *s;
        memcpy(&s, at, sizeof(s));
        if (s && name_index(o->info.names, s) < 0)
            return refuse(o, err, "'%.64s'", s);
        return KK_OK;
    }
    case STORE_STRING:
    case STORE_JOINED: {
        const char *s;
        memcpy(&s, at, sizeof(s));
        if (!s) {
            if (o->info.min > 0)
                return refuse(o, err, "nothing (it is required)");
            return KK_OK;
        }
        size_t n = strlen(s);
        if ((int64_t)n < (o->storage == STORE_JOINED ? 1 : o->info.min) ||
            (int64_t)n > (o->storage == STORE_JOINED ? INT16_MAX : o->info.max))
            return refuse(o, err, "a string of %zu bytes", n);
        return KK_OK;
    }
    case STORE_STRING_LIST: {
        const char *const *list;
        size_t count;
        memcpy(&list, at, sizeof(list));
        memcpy(&count, base + o->count_offset, sizeof(count));
        for (size_t i = 0; i < count; i++) {
            if (!list || !list[i])
                return refuse(o, err, "a list holding a null at %zu", i);
            size_t n = strlen(list[i]);
            if ((int64_t)n < o->info.min || (int64_t)n > o->info.max)
                return refuse(o, err, "a list holding '%.64s' (%zu bytes)", list[i], n);
        }
        return KK_OK;
    }
    case STORE_API_CAPS: {
        int16_t caps[KK_API__COUNT];
        memcpy(caps, at, sizeof(caps));
        for (int k = 0; k < KK_API__COUNT; k++)
            if (caps[k] < o->info.min)
                return refuse(o, err, "version %d for API key %d", caps[k], k);
        return KK_OK;
    }
    case STORE_BOOL:
    case STORE_TRAIL:
    case STORE_CHECK_ONLY:
    case STORE_CALLBACK:
        break;
    }
    return KK_OK;
}

int kk_config_check(kk_config_kind_t kind, const void *typed, kk_error_t *err) {
    if (!typed)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "the %s config is NULL",
                            kk_config_kind_name(kind));
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        const option_t *o = &options[i];
        if (!(o->info.kinds & kind) || o->info.alias_of)
            continue;
        int rc = check_one(o, typed, err);
        if (rc != KK_OK)
            return rc;
    }
    return KK_OK;
}
