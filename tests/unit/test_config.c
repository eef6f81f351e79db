/*
 * The option table and kk_config_t: defaults as documented, the same message for a bad value
 * whether it comes through kk_config_set*, kk_config_reject_type or a typed struct handed to
 * kk_*_new, and docs/CONFIGURATION.md generated from the table (this test fails when the file
 * is stale; KAFKETTE_WRITE_DOCS=1 rewrites it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "assignor.h"
#include "config.h"
#include "kafkette.h"

static const kk_config_kind_t kinds[] = {KK_CONFIG_CLIENT, KK_CONFIG_PRODUCER, KK_CONFIG_CONSUMER,
                                         KK_CONFIG_GROUP};

/* Every option's documented default is what a fresh config holds. */
static void test_defaults_match_the_table(void **state) {
    (void)state;
    size_t checked = 0;
    for (size_t k = 0; k < 4; k++) {
        kk_config_t *c = kk_config_new(kinds[k]);
        assert_non_null(c);
        for (size_t i = 0; i < kk_option_count(); i++) {
            const kk_option_info_t *o = kk_option_at(i);
            if (!(o->kinds & kinds[k]) || o->type == KK_OPTION_CALLBACK)
                continue;
            char buf[256];
            assert_true(kk_config_get(c, o->name, buf, sizeof(buf)) >= 0);
            if (strcmp(buf, o->default_value) != 0)
                fail_msg("%s option %s: default is '%s', the table says '%s'",
                         kk_config_kind_name(kinds[k]), o->name, buf, o->default_value);
            assert_false(kk_config_is_set(c, o->name));
            checked++;
        }
        kk_config_free(c);
    }
    assert_true(checked > 40);
}

/* Every entry is documented, typed sensibly, and names its kinds. */
static void test_table_is_complete(void **state) {
    (void)state;
    for (size_t i = 0; i < kk_option_count(); i++) {
        const kk_option_info_t *o = kk_option_at(i);
        assert_non_null(o->name);
        assert_non_null(o->doc);
        assert_true(strlen(o->doc) > 10);
        assert_true(o->kinds != 0);
        if (o->type == KK_OPTION_ENUM)
            assert_non_null(o->names);
        if (o->type == KK_OPTION_INT)
            assert_true(o->min <= o->max);
        if (o->alias_of)
            for (size_t k = 0; k < 4; k++)
                if (o->kinds & kinds[k])
                    assert_non_null(kk_option_find(kinds[k], o->alias_of));
        /* one entry per name and kind */
        for (size_t j = i + 1; j < kk_option_count(); j++) {
            const kk_option_info_t *p = kk_option_at(j);
            if (strcmp(o->name, p->name) == 0)
                assert_int_equal(o->kinds & p->kinds, 0);
        }
    }
    assert_null(kk_option_at(kk_option_count()));
}

static void expect_refused(int rc, const kk_error_t *err, const char *message) {
    assert_int_equal(rc, KK_ERR_INVALID_ARG);
    assert_int_equal(err->code, KK_ERR_INVALID_ARG);
    assert_string_equal(err->message, message);
}

static void test_integers(void **state) {
    (void)state;
    kk_config_t *c = kk_config_new(KK_CONFIG_CONSUMER);
    kk_error_t err;
    assert_int_equal(kk_config_set_int(c, "max_bytes", 5000, &err), KK_OK);
    assert_int_equal(kk_config_consumer(c)->max_bytes, 5000);
    assert_true(kk_config_is_set(c, "max_bytes"));
    assert_int_equal(kk_config_set(c, "max_wait_ms", " 250 ", &err), KK_OK);
    assert_int_equal(kk_config_consumer(c)->max_wait_ms, 250);

    expect_refused(kk_config_set_int(c, "max_bytes", 0, &err), &err,
                   "option 'max_bytes' takes an integer from 1 to 2147483647, not 0");
    expect_refused(kk_config_set_int(c, "max_bytes", INT64_C(1) << 40, &err), &err,
                   "option 'max_bytes' takes an integer from 1 to 2147483647, not 1099511627776");
    expect_refused(kk_config_set(c, "max_bytes", "12kb", &err), &err,
                   "option 'max_bytes' takes an integer from 1 to 2147483647, not '12kb'");
    expect_refused(kk_config_reject_type(c, "max_bytes", "float", &err), &err,
                   "option 'max_bytes' takes an integer from 1 to 2147483647, not a float");
    expect_refused(kk_config_set_bool(c, "max_bytes", true, &err), &err,
                   "option 'max_bytes' takes an integer from 1 to 2147483647, not true");
    /* a refused value leaves the old one */
    assert_int_equal(kk_config_consumer(c)->max_bytes, 5000);
    kk_config_free(c);
}

static void test_named_integers_and_enums(void **state) {
    (void)state;
    kk_config_t *c = kk_config_new(KK_CONFIG_PRODUCER);
    kk_error_t err;
    assert_int_equal(kk_config_set_int(c, "required_acks", 1, &err), KK_OK);
    assert_int_equal(kk_config_producer(c)->required_acks, 1);
    assert_int_equal(kk_config_set(c, "required_acks", "ALL", &err), KK_OK);
    assert_int_equal(kk_config_producer(c)->required_acks, -1);
    expect_refused(kk_config_set_int(c, "required_acks", 2, &err), &err,
                   "option 'required_acks' takes an integer from -1 to 1 or 'all', not 2");

    assert_int_equal(kk_config_set(c, "compression_codec", "LZ4", &err), KK_OK);
    assert_int_equal(kk_config_producer(c)->compression, KK_CODEC_LZ4);
    char buf[32];
    assert_int_equal(kk_config_get(c, "compression_codec", buf, sizeof(buf)), 3);
    assert_string_equal(buf, "lz4");
    expect_refused(kk_config_set(c, "compression_codec", "brotli", &err), &err,
                   "option 'compression_codec' takes one of 'none', 'gzip', 'snappy', 'lz4', "
                   "'zstd', not 'brotli'");
    expect_refused(kk_config_set_int(c, "compression_codec", 3, &err), &err,
                   "option 'compression_codec' takes one of 'none', 'gzip', 'snappy', 'lz4', "
                   "'zstd', not an integer (3)");
    assert_int_equal(kk_config_set_default(c, "compression_codec", &err), KK_OK);
    assert_int_equal(kk_config_producer(c)->compression, KK_CODEC_NONE);

    assert_int_equal(kk_config_set(c, "partitioner", "crc32", &err), KK_OK);
    assert_int_equal(kk_config_producer(c)->partitioner, KK_PARTITIONER_CRC32);

    /* the type is kept for the bindings (their send_messages), which read it back */
    assert_string_equal(kk_config_producer(c)->type, "sync");
    assert_int_equal(kk_config_set(c, "type", "ASYNC", &err), KK_OK);
    assert_string_equal(kk_config_producer(c)->type, "async");
    assert_int_equal(kk_config_get(c, "type", buf, sizeof(buf)), 5);
    assert_string_equal(buf, "async");
    expect_refused(kk_config_set(c, "type", "fast", &err), &err,
                   "option 'type' takes one of 'sync', 'async', not 'fast'");
    assert_string_equal(kk_config_producer(c)->type, "async");
    assert_int_equal(kk_config_set_default(c, "type", &err), KK_OK);
    assert_string_equal(kk_config_producer(c)->type, "sync");
    kk_config_free(c);

    c = kk_config_new(KK_CONFIG_GROUP);
    assert_int_equal(kk_config_set(c, "assignor", "RoundRobin", &err), KK_OK);
    assert_string_equal(kk_config_group(c)->assignor, "roundrobin");
    expect_refused(kk_config_set(c, "offset_reset", "error", &err), &err,
                   "option 'offset_reset' takes one of 'earliest', 'latest', not 'error'");
    /* the table's assignors are the ones the assignor module runs */
    const kk_option_info_t *assignor = kk_option_find(KK_CONFIG_GROUP, "assignor");
    for (size_t i = 0; assignor->names[i]; i++)
        assert_true(kk_assignor_known(assignor->names[i]));
    assert_int_equal(kk_config_set_bool(c, "trail", true, &err), KK_OK);
    assert_int_equal(kk_config_group(c)->start_when_no_commit, KK_RESET_LATEST);
    assert_true(kk_config_is_set(c, "trail"));
    assert_int_equal(kk_config_set(c, "trail", "no", &err), KK_OK);
    assert_int_equal(kk_config_group(c)->start_when_no_commit, KK_RESET_EARLIEST);
    kk_config_free(c);
}

static void test_unknown_options(void **state) {
    (void)state;
    kk_config_t *c = kk_config_new(KK_CONFIG_PRODUCER);
    kk_error_t err;
    expect_refused(kk_config_set(c, "compresion_codec", "gzip", &err), &err,
                   "unknown option 'compresion_codec' for a producer (did you mean "
                   "'compression_codec'?)");
    expect_refused(kk_config_set_int(c, "zzzzzzzzzzzz", 1, &err), &err,
                   "unknown option 'zzzzzzzzzzzz' for a producer");
    /* a consumer's option is not a producer's */
    expect_refused(kk_config_set_int(c, "min_bytes", 1, &err), &err,
                   "unknown option 'min_bytes' for a producer");
    expect_refused(kk_config_reject_type(c, "nope", "Hash", &err), &err,
                   "unknown option 'nope' for a producer (did you mean 'type'?)");
    kk_config_free(c);
    c = kk_config_new(KK_CONFIG_GROUP);
    expect_refused(kk_config_set(c, "on_revoke", "x", &err), &err,
                   "option 'on_revoke' takes a callable, not a value (set callbacks through the "
                   "binding or the typed config)");
    kk_config_free(c);
}

static void test_strings_lists_maps_aliases(void **state) {
    (void)state;
    kk_config_t *c = kk_config_new(KK_CONFIG_PRODUCER);
    kk_error_t err;
    char id[] = "my-producer";
    assert_int_equal(kk_config_set(c, "client_id", id, &err), KK_OK);
    id[0] = 'X'; /* the config keeps its own copy */
    assert_string_equal(kk_config_client(c)->client_id, "my-producer");

    const char *seeds[] = {"127.0.0.1:9092", "[::1]:9093"};
    assert_int_equal(kk_config_set_list(c, "bootstrap_servers", seeds, 2, &err), KK_OK);
    assert_string_equal(kk_config_client(c)->bootstrap_servers, "127.0.0.1:9092,[::1]:9093");
    expect_refused(kk_config_set_list(c, "bootstrap_servers", seeds, 0, &err), &err,
                   "option 'bootstrap_servers' takes a list of strings of 1 to 1024 bytes, not an "
                   "empty list");

    assert_int_equal(kk_config_set(c, "compressed_topics", " a, bb ,,c ", &err), KK_OK);
    const kk_producer_config_t *p = kk_config_producer(c);
    assert_int_equal(p->compressed_topic_count, 3);
    assert_string_equal(p->compressed_topics[0], "a");
    assert_string_equal(p->compressed_topics[1], "bb");
    assert_string_equal(p->compressed_topics[2], "c");
    char buf[64];
    kk_config_get(c, "compressed_topics", buf, sizeof(buf));
    assert_string_equal(buf, "a,bb,c");
    expect_refused(kk_config_set_int(c, "compressed_topics", 7, &err), &err,
                   "option 'compressed_topics' takes a list of strings of 1 to 249 bytes, not an "
                   "integer (7)");

    assert_int_equal(kk_config_set(c, "max_api_versions", "3=1, 0=7", &err), KK_OK);
    assert_int_equal(kk_config_client(c)->max_api_version[KK_API_METADATA], 1);
    assert_int_equal(kk_config_client(c)->max_api_version[KK_API_PRODUCE], 7);
    assert_int_equal(kk_config_client(c)->max_api_version[KK_API_FETCH], -1);
    kk_config_get(c, "max_api_versions", buf, sizeof(buf));
    assert_string_equal(buf, "0=7,3=1");
    int64_t keys[] = {99}, versions[] = {1};
    expect_refused(kk_config_set_map(c, "max_api_versions", keys, versions, 1, &err), &err,
                   "option 'max_api_versions' takes a map of API keys to versions from -1 to "
                   "32767, not API key 99 (known keys: 0 to 68)");

    /* Poseidon's spelling sets the same field, and counts as setting the option */
    assert_int_equal(kk_config_set_int(c, "socket_timeout_ms", 1234, &err), KK_OK);
    assert_int_equal(kk_config_client(c)->request_timeout_ms, 1234);
    assert_true(kk_config_is_set(c, "request_timeout_ms"));
    assert_true(kk_config_is_set(c, "socket_timeout_ms"));
    kk_config_free(c);
}

/* A struct filled by hand is checked against the same entries, with the same message. */
static void test_typed_structs_are_checked_by_the_table(void **state) {
    (void)state;
    kk_error_t err;
    kk_producer_config_t pc;
    kk_producer_config_init(&pc);
    pc.client.bootstrap_servers = "127.0.0.1:1";
    pc.max_request_bytes = 100;
    assert_null(kk_producer_new(&pc, &err));
    assert_int_equal(err.code, KK_ERR_INVALID_ARG);
    assert_string_equal(
        err.message,
        "option 'max_request_bytes' takes an integer from 1024 to 2147483647, not 100");
    kk_config_t *c = kk_config_new(KK_CONFIG_PRODUCER);
    expect_refused(kk_config_set_int(c, "max_request_bytes", 100, &err), &err,
                   "option 'max_request_bytes' takes an integer from 1024 to 2147483647, not 100");
    kk_config_free(c);

    pc.max_request_bytes = 1 << 20;
    pc.compression = (kk_codec_t)9;
    assert_int_equal(kk_config_check(KK_CONFIG_PRODUCER, &pc, &err), KK_ERR_INVALID_ARG);
    assert_string_equal(err.message, "option 'compression_codec' takes one of 'none', 'gzip', "
                                     "'snappy', 'lz4', 'zstd', not 9");

    kk_consumer_config_t cc;
    kk_consumer_config_init(&cc);
    cc.client.bootstrap_servers = "127.0.0.1:1";
    cc.topic = "t";
    cc.offset_reset = (kk_offset_reset_t)7;
    assert_null(kk_consumer_new(&cc, &err));
    assert_string_equal(err.message, "option 'offset_reset' takes one of 'earliest', 'latest', "
                                     "'error', not 7");

    kk_client_config_t cl;
    kk_client_config_init(&cl);
    assert_null(kk_client_new(&cl, &err));
    assert_string_equal(err.message, "option 'bootstrap_servers' takes a list of strings of 1 to "
                                     "1024 bytes, not nothing (it is required)");

    /* and a config built by name makes objects */
    c = kk_config_new(KK_CONFIG_PRODUCER);
    assert_int_equal(kk_config_set(c, "bootstrap_servers", "127.0.0.1:1", &err), KK_OK);
    assert_int_equal(kk_config_set(c, "compression_codec", "zstd", &err), KK_OK);
    kk_producer_t *producer = kk_producer_new(kk_config_producer(c), &err);
    assert_non_null(producer);
    kk_config_free(c); /* the producer copied what it keeps */
    kk_producer_free(producer);
}

static void test_heartbeat_follows_the_session(void **state) {
    (void)state;
    assert_int_equal(kk_config_default_heartbeat_ms(10000), 3000);
    assert_int_equal(kk_config_default_heartbeat_ms(6000), 2000);
    assert_int_equal(kk_config_default_heartbeat_ms(2), 1);
}

/* ---- docs/CONFIGURATION.md ---------------------------------------------------------------- */

static const char *type_name(const kk_option_info_t *o) {
    switch (o->type) {
    case KK_OPTION_INT:
        return "integer";
    case KK_OPTION_BOOL:
        return "boolean";
    case KK_OPTION_STRING:
        return "string";
    case KK_OPTION_ENUM:
        return "choice";
    case KK_OPTION_LIST:
        return "list of strings";
    case KK_OPTION_MAP:
        return "map";
    case KK_OPTION_CALLBACK:
        return "callable";
    }
    return "?";
}

static void render_allowed(const kk_option_info_t *o, FILE *out) {
    switch (o->type) {
    case KK_OPTION_INT:
        if (o->max == INT32_MAX)
            fprintf(out, "%lld or more", (long long)o->min);
        else
            fprintf(out, "%lld to %lld", (long long)o->min, (long long)o->max);
        for (size_t i = 0; o->names && o->names[i]; i++)
            fprintf(out, ", `%s`", o->names[i]);
        break;
    case KK_OPTION_ENUM:
        for (size_t i = 0; o->names[i]; i++)
            fprintf(out, "%s`%s`", i ? ", " : "", o->names[i]);
        break;
    case KK_OPTION_STRING:
    case KK_OPTION_LIST:
        fprintf(out, "%lld to %lld bytes%s", (long long)o->min, (long long)o->max,
                o->type == KK_OPTION_LIST ? " each" : "");
        break;
    case KK_OPTION_MAP:
        fprintf(out, "API key = version (%lld to %lld)", (long long)o->min, (long long)o->max);
        break;
    default:
        break;
    }
}

static char *render_doc(size_t *len) {
    char *text = NULL;
    FILE *out = open_memstream(&text, len);
    fprintf(out,
            "# kafkette options\n\n"
            "Generated from the option table in `core/src/config_table.c`; do not edit by hand "
            "(`KAFKETTE_WRITE_DOCS=1 build/unit_test_config` writes it again, and the unit "
            "test fails while it is stale).\n\n"
            "The same names work in C (`kk_config_set(config, name, value, &err)`), as "
            "Python keyword arguments and as Ruby options (symbols or strings for "
            "choices). An unknown option, a value of the wrong type or one out of range "
            "gives the same message in every language.\n");
    static const char *const titles[] = {"Every object", "Producer", "PartitionConsumer",
                                         "ConsumerGroup"};
    for (size_t k = 0; k < 4; k++) {
        fprintf(out,
                "\n## %s\n\n| option | type | default | allowed | unit | what it does |\n"
                "|---|---|---|---|---|---|\n",
                titles[k]);
        for (size_t i = 0; i < kk_option_count(); i++) {
            const kk_option_info_t *o = kk_option_at(i);
            /* options of every kind go in the first table only */
            bool everywhere = (o->kinds & KK_CONFIG_CLIENT) != 0;
            if (k == 0 ? !everywhere : (everywhere || !(o->kinds & kinds[k])))
                continue;
            fprintf(out, "| `%s` | %s | %s%s%s | ", o->name, type_name(o),
                    o->default_value[0] ? "`" : "", o->default_value,
                    o->default_value[0] ? "`" : "");
            render_allowed(o, out);
            fprintf(out, " | %s | %s", o->unit ? o->unit : "", o->doc);
            if (o->alias_of)
                fprintf(out, " (same as `%s`)", o->alias_of);
            if (o->secret)
                fprintf(out, " (secret: never logged or shown; kk_config_get gives `***`)");
            if (everywhere && o->kinds != (KK_CONFIG_CLIENT | KK_CONFIG_PRODUCER |
                                           KK_CONFIG_CONSUMER | KK_CONFIG_GROUP)) {
                fprintf(out, " (for:");
                for (size_t j = 0; j < 4; j++)
                    if (o->kinds & kinds[j])
                        fprintf(out, " %s", kk_config_kind_name(kinds[j]));
                fprintf(out, ")");
            }
            fprintf(out, " |\n");
        }
    }
    fclose(out);
    return text;
}

static void test_configuration_doc_is_fresh(void **state) {
    (void)state;
    size_t len;
    char *doc = render_doc(&len);
    const char *path = KAFKETTE_SOURCE_DIR "/docs/CONFIGURATION.md";
    if (getenv("KAFKETTE_WRITE_DOCS")) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        assert_int_equal(fwrite(doc, 1, len, f), len);
        fclose(f);
    }
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("%s is missing: run KAFKETTE_WRITE_DOCS=1 build/unit_test_config", path);
    char *have = calloc(1, len + 2);
    size_t got = fread(have, 1, len + 1, f);
    fclose(f);
    if (got != len || memcmp(have, doc, len) != 0)
        fail_msg("%s is stale: run KAFKETTE_WRITE_DOCS=1 build/unit_test_config", path);
    free(have);
    free(doc);
}

/* The security options land in the client part of every kind; secrets never come back out. */
static void test_security_options_and_secrets(void **state) {
    (void)state;
    static const char *const secret = "hunter2-very-secret";
    for (size_t k = 0; k < 4; k++) {
        kk_config_t *c = kk_config_new(kinds[k]);
        kk_error_t err;
        char buf[256];
        assert_int_equal(kk_config_set(c, "security_protocol", "sasl_ssl", &err), KK_OK);
        assert_int_equal(kk_config_set(c, "sasl_mechanism", "scram-sha-512", &err), KK_OK);
        assert_int_equal(kk_config_set(c, "sasl_username", "alice", &err), KK_OK);
        assert_int_equal(kk_config_set(c, "sasl_password", secret, &err), KK_OK);
        assert_int_equal(kk_config_set(c, "sasl_oauth_token", secret, &err), KK_OK);
        assert_int_equal(kk_config_set(c, "ssl_password", secret, &err), KK_OK);
        assert_int_equal(kk_config_set(c, "ssl_cafile", "/tmp/ca.pem", &err), KK_OK);
        assert_int_equal(kk_config_set_bool(c, "ssl_check_hostname", false, &err), KK_OK);
        kk_client_config_t *cc = kk_config_client(c);
        assert_int_equal(cc->security_protocol, KK_SECURITY_SASL_SSL);
        assert_int_equal(cc->sasl_mechanism, KK_SASL_SCRAM_SHA_512);
        assert_string_equal(cc->sasl_password, secret);
        assert_string_equal(cc->ssl_cafile, "/tmp/ca.pem");
        assert_false(cc->ssl_check_hostname);
        kk_config_get(c, "security_protocol", buf, sizeof(buf));
        assert_string_equal(buf, "SASL_SSL");
        kk_config_get(c, "sasl_mechanism", buf, sizeof(buf));
        assert_string_equal(buf, "SCRAM-SHA-512");
        for (size_t i = 0; i < kk_option_count(); i++) {
            const kk_option_info_t *o = kk_option_at(i);
            if (!(o->kinds & kinds[k]) || o->type == KK_OPTION_CALLBACK)
                continue;
            kk_config_get(c, o->name, buf, sizeof(buf));
            assert_null(strstr(buf, secret));
            if (o->secret)
                assert_string_equal(buf, "***");
        }
        /* a wrong type for a secret does not echo the value either */
        assert_int_equal(kk_config_set_int(c, "sasl_password", 123456789, &err),
                         KK_ERR_INVALID_ARG);
        assert_null(strstr(err.message, "123456789"));
        assert_int_equal(kk_config_set(c, "sasl_mechanism", "GSSAPI", &err), KK_ERR_INVALID_ARG);
        assert_string_equal(err.message, "option 'sasl_mechanism' takes one of 'PLAIN', "
                                         "'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER', not "
                                         "'GSSAPI'");
        assert_int_equal(kk_config_set(c, "security_protocol", "TLS", &err), KK_ERR_INVALID_ARG);
        assert_int_equal(kk_config_set_default(c, "sasl_password", &err), KK_OK);
        kk_config_get(c, "sasl_password", buf, sizeof(buf));
        assert_string_equal(buf, "");
        kk_config_free(c);
    }
    size_t secrets = 0;
    for (size_t i = 0; i < kk_option_count(); i++)
        secrets += kk_option_at(i)->secret;
    assert_int_equal(secrets, 3); /* ssl_password, sasl_password, sasl_oauth_token */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_match_the_table),
        cmocka_unit_test(test_table_is_complete),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_named_integers_and_enums),
        cmocka_unit_test(test_unknown_options),
        cmocka_unit_test(test_strings_lists_maps_aliases),
        cmocka_unit_test(test_typed_structs_are_checked_by_the_table),
        cmocka_unit_test(test_heartbeat_follows_the_session),
        cmocka_unit_test(test_security_options_and_secrets),
        cmocka_unit_test(test_configuration_doc_is_fresh),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
