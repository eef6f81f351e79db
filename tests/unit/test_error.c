/*
 * Error module tests: names and retriable flags against the protocol guide's table (the
 * expected values below were taken from Kafka 4.4's generated error table), the shape of
 * the public code list, client-side and unknown codes, and formatting of kk_error_t
 * messages, including cutting over-long ones without overflowing or splitting a UTF-8
 * character.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_LEN (KK_ERROR_MESSAGE_SIZE - 1)

/* An error struct with bytes after it that must survive every write. */
typedef struct guarded_error {
    kk_error_t err;
    unsigned char canary[64];
} guarded_error_t;

static void guard_init(guarded_error_t *g)
{
    kk_error_clear(&g->err);
    memset(g->canary, 0xA5, sizeof(g->canary));
}

static void guard_check(const guarded_error_t *g)
{
    for (size_t i = 0; i < sizeof(g->canary); i++)
        assert_int_equal(g->canary[i], 0xA5);
    assert_non_null(memchr(g->err.message, '\0', sizeof(g->err.message)));
}

static bool valid_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int extra = *p < 0x80 ? 0 : (*p & 0xE0) == 0xC0 ? 1 : (*p & 0xF0) == 0xE0 ? 2
                  : (*p & 0xF8) == 0xF0 ? 3 : -1;
        if (extra < 0)
            return false;
        p++;
        for (int i = 0; i < extra; i++, p++)
            if ((*p & 0xC0) != 0x80)
                return false;
    }
    return true;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void test_well_known_broker_codes(void **state)
{
    (void)state;
    static const struct {
        int code;
        const char *name;
        bool retriable;
    } cases[] = {
        {-1, "UNKNOWN_SERVER_ERROR", false},
        {0, "NONE", false},
        {1, "OFFSET_OUT_OF_RANGE", false},
        {2, "CORRUPT_MESSAGE", true},
        {3, "UNKNOWN_TOPIC_OR_PARTITION", true},
        {5, "LEADER_NOT_AVAILABLE", true},
        {6, "NOT_LEADER_OR_FOLLOWER", true},
        {7, "REQUEST_TIMED_OUT", true},
        {10, "MESSAGE_TOO_LARGE", false},
        {13, "NETWORK_EXCEPTION", true},
        {16, "NOT_COORDINATOR", true},
        {17, "INVALID_TOPIC_EXCEPTION", false},
        {19, "NOT_ENOUGH_REPLICAS", true},
        {25, "UNKNOWN_MEMBER_ID", false},
        {27, "REBALANCE_IN_PROGRESS", false},
        {29, "TOPIC_AUTHORIZATION_FAILED", false},
        {35, "UNSUPPORTED_VERSION", false},
        {36, "TOPIC_ALREADY_EXISTS", false},
        {41, "NOT_CONTROLLER", true},
        {47, "INVALID_PRODUCER_EPOCH", false},
        {51, "CONCURRENT_TRANSACTIONS", true},
        {56, "KAFKA_STORAGE_ERROR", true},
        {74, "FENCED_LEADER_EPOCH", true},
        {75, "UNKNOWN_LEADER_EPOCH", true},
        {78, "OFFSET_NOT_AVAILABLE", true},
        {89, "THROTTLING_QUOTA_EXCEEDED", true},
        {90, "PRODUCER_FENCED", false},
        {100, "UNKNOWN_TOPIC_ID", true},
        {129, "REBOOTSTRAP_REQUIRED", false},
        {133, "SHARE_SESSION_LIMIT_REACHED", true},
        {136, "CONTROLLER_ID_NOT_REGISTERED", false},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        print_message("code %d\n", cases[i].code);
        assert_string_equal(kk_err_name(cases[i].code), cases[i].name);
        assert_int_equal(kk_err_is_retriable(cases[i].code), cases[i].retriable);
    }
    assert_string_equal(kk_err_name(KK_OK), "NONE");
    assert_string_equal(kk_err_name(KK_ERR_UNKNOWN_SERVER_ERROR), "UNKNOWN_SERVER_ERROR");
}

/* Exactly these broker codes are retriable; every other listed code is not. */
static void test_retriable_set_is_exact(void **state)
{
    (void)state;
    static const int retriable[] = {2,  3,  5,  6,  7,  9,  13, 14,  15,  16,  19,
                                    20, 41, 51, 56, 70, 71, 72, 74,  75,  78,  80,
                                    83, 84, 88, 89, 100, 103, 106, 122, 123, 133};
    const int16_t *codes;
    size_t n = kk_err_broker_code_list(&codes);
    size_t found = 0;
    for (size_t i = 0; i < n; i++) {
        bool expected = false;
        for (size_t j = 0; j < COUNT(retriable); j++)
            expected = expected || retriable[j] == codes[i];
        print_message("code %d\n", codes[i]);
        assert_int_equal(kk_err_is_retriable(codes[i]), expected);
        found += expected;
    }
    assert_int_equal(found, COUNT(retriable));
}

static void test_broker_code_list(void **state)
{
    (void)state;
    const int16_t *codes = NULL;
    size_t n = kk_err_broker_code_list(&codes);
    assert_non_null(codes);
    assert_int_equal(n, kk_err_broker_code_list(NULL));
    /* -1, then 1..136 with no gap: 0 (NONE) is not an error. */
    assert_int_equal(n, 137);
    assert_int_equal(codes[0], -1);
    for (size_t i = 1; i < n; i++)
        assert_int_equal(codes[i], (int)i);

    for (size_t i = 0; i < n; i++) {
        const char *name = kk_err_name(codes[i]);
        const char *desc = kk_err_description(codes[i]);
        print_message("code %d %s\n", codes[i], name);
        assert_true(name[0] != '\0' && name[0] != '_');
        assert_string_not_equal(name, "UNKNOWN_CODE");
        assert_string_not_equal(name, "NONE");
        for (const char *p = name; *p; p++)
            assert_true((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_');
        assert_true(desc[0] != '\0');
        assert_string_not_equal(desc, "unknown error code");
        assert_null(strchr(desc, '\n'));
        for (size_t j = 0; j < i; j++) {
            assert_string_not_equal(name, kk_err_name(codes[j]));
            assert_string_not_equal(desc, kk_err_description(codes[j]));
        }
    }
}

static const struct {
    int code;
    const char *name;
    bool retriable;
} client_cases[] = {
    {KK_ERR_TIMED_OUT, "_TIMED_OUT", true},
    {KK_ERR_CONNECTION_REFUSED, "_CONNECTION_REFUSED", true},
    {KK_ERR_RESOLVE, "_RESOLVE", false},
    {KK_ERR_CONNECTION_CLOSED, "_CONNECTION_CLOSED", true},
    {KK_ERR_IO, "_IO", true},
    {KK_ERR_MALFORMED, "_MALFORMED", false},
    {KK_ERR_CORRELATION, "_CORRELATION", false},
    {KK_ERR_RESPONSE_TOO_LARGE, "_RESPONSE_TOO_LARGE", false},
    {KK_ERR_INTERRUPTED, "_INTERRUPTED", false},
    {KK_ERR_NO_MEMORY, "_NO_MEMORY", false},
    {KK_ERR_INVALID_ARG, "_INVALID_ARG", false},
    {KK_ERR_UNSUPPORTED_VERSION, "_UNSUPPORTED_VERSION", false},
    {KK_ERR_NO_BROKERS, "_NO_BROKERS", true},
    {KK_ERR_NOT_CONNECTED, "_NOT_CONNECTED", true},
    {KK_ERR_CRC, "_CRC", false},
    {KK_ERR_COMPRESSION, "_COMPRESSION", false},
    {KK_ERR_UNKNOWN_BROKER, "_UNKNOWN_BROKER", true},
    {KK_ERR_STATE, "_STATE", false},
    {KK_ERR_INVALID_PARTITION, "_INVALID_PARTITION", false},
    {KK_ERR_PARTIAL_FAILURE, "_PARTIAL_FAILURE", false},
    {KK_ERR_NOT_ASSIGNED, "_NOT_ASSIGNED", false},
    {KK_ERR_AUTHENTICATION, "_AUTHENTICATION", false},
    {KK_ERR_SSL, "_SSL", false},
    {KK_ERR_CERTIFICATE, "_CERTIFICATE", false},
    {KK_ERR_QUEUE_FULL, "_QUEUE_FULL", true},
    {KK_ERR_PURGED, "_PURGED", false},
};

static void test_client_codes(void **state)
{
    (void)state;
    /* The header numbers client codes -100 down to -125 with no gap. */
    assert_int_equal(COUNT(client_cases), 26);
    for (size_t i = 0; i < COUNT(client_cases); i++) {
        int code = client_cases[i].code;
        print_message("code %d\n", code);
        assert_int_equal(code, -100 - (int)i);
        assert_string_equal(kk_err_name(code), client_cases[i].name);
        assert_int_equal(kk_err_is_retriable(code), client_cases[i].retriable);
        const char *desc = kk_err_description(code);
        assert_true(desc[0] != '\0');
        assert_string_not_equal(desc, "unknown error code");
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(desc, kk_err_description(client_cases[j].code));
    }
    /* No client name is also a broker name (the broker list has UNSUPPORTED_VERSION). */
    const int16_t *codes;
    size_t n = kk_err_broker_code_list(&codes);
    for (size_t i = 0; i < COUNT(client_cases); i++)
        for (size_t j = 0; j < n; j++)
            assert_string_not_equal(client_cases[i].name, kk_err_name(codes[j]));
}

static void test_unknown_codes(void **state)
{
    (void)state;
    static const int unknown[] = {137, 200, 1000, INT16_MAX, INT16_MIN, -2, -50, -99,
                                  -126, -200, INT_MAX, INT_MIN};
    for (size_t i = 0; i < COUNT(unknown); i++) {
        print_message("code %d\n", unknown[i]);
        assert_string_equal(kk_err_name(unknown[i]), "UNKNOWN_CODE");
        assert_string_equal(kk_err_description(unknown[i]), "unknown error code");
        assert_false(kk_err_is_retriable(unknown[i]));
    }
    assert_false(kk_err_is_retriable(KK_OK));
    assert_string_not_equal(kk_err_description(KK_OK), "unknown error code");
}

static void test_error_clear(void **state)
{
    (void)state;
    kk_error_t e;
    memset(&e, 'x', sizeof(e));
    kk_error_clear(&e);
    assert_int_equal(e.code, KK_OK);
    assert_string_equal(e.message, "");
    kk_error_clear(NULL);
}

static void test_error_set_formats(void **state)
{
    (void)state;
    guarded_error_t g;
    guard_init(&g);
    int rc = kk_error_set(&g.err, KK_ERR_IO, "send to %s:%d failed: %s", "broker-1", 9092,
                          "broken pipe");
    assert_int_equal(rc, KK_ERR_IO);
    assert_int_equal(g.err.code, KK_ERR_IO);
    assert_string_equal(g.err.message, "send to broker-1:9092 failed: broken pipe");

    /* A second call replaces, not appends. */
    rc = kk_error_set(&g.err, 6, "short");
    assert_int_equal(rc, 6);
    assert_int_equal(g.err.code, 6);
    assert_string_equal(g.err.message, "short");

    /* A NULL format falls back to the description. */
    assert_int_equal(kk_error_set(&g.err, KK_ERR_CRC, NULL), KK_ERR_CRC);
    assert_string_equal(g.err.message, kk_err_description(KK_ERR_CRC));
    guard_check(&g);

    /* The arguments may point into the message being replaced. */
    kk_error_set(&g.err, KK_ERR_MALFORMED, "inner %d", 42);
    kk_error_set(&g.err, KK_ERR_MALFORMED, "outer: %s", g.err.message);
    assert_string_equal(g.err.message, "outer: inner 42");
    guard_check(&g);
}

static void test_error_set_null_err(void **state)
{
    (void)state;
    assert_int_equal(kk_error_set(NULL, KK_ERR_TIMED_OUT, "x %d", 1), KK_ERR_TIMED_OUT);
    assert_int_equal(kk_error_set(NULL, 3, "y"), 3);
    assert_int_equal(kk_error_set_broker(NULL, 6, "ctx"), 6);
    assert_int_equal(kk_error_prefix(NULL, "ctx: "), KK_ERR_INVALID_ARG);
}

static void test_error_set_truncates(void **state)
{
    (void)state;
    char big[2000];
    for (size_t i = 0; i < sizeof(big) - 1; i++)
        big[i] = (char)('a' + i % 26);
    big[sizeof(big) - 1] = '\0';

    guarded_error_t g;
    guard_init(&g);
    assert_int_equal(kk_error_set(&g.err, KK_ERR_MALFORMED, "%s", big), KK_ERR_MALFORMED);
    guard_check(&g);
    assert_int_equal(strlen(g.err.message), MAX_LEN);
    assert_true(ends_with(g.err.message, "..."));
    assert_memory_equal(g.err.message, big, MAX_LEN - 3);

    /* A message that exactly fits is kept whole; one byte more is cut. */
    char fit[KK_ERROR_MESSAGE_SIZE];
    memcpy(fit, big, MAX_LEN);
    fit[MAX_LEN] = '\0';
    kk_error_set(&g.err, KK_ERR_MALFORMED, "%s", fit);
    assert_string_equal(g.err.message, fit);
    kk_error_set(&g.err, KK_ERR_MALFORMED, "%s!", fit);
    assert_int_equal(strlen(g.err.message), MAX_LEN);
    assert_true(ends_with(g.err.message, "..."));
    assert_memory_equal(g.err.message, fit, MAX_LEN - 3);
    guard_check(&g);
}

/* Fills buf with n 'a's followed by s and more 'b's, enough to force a cut. */
static void with_char_at(char *buf, size_t size, size_t n, const char *s)
{
    memset(buf, 'a', n);
    size_t m = strlen(s);
    memcpy(buf + n, s, m);
    memset(buf + n + m, 'b', size - 1 - n - m);
    buf[size - 1] = '\0';
}

static void test_truncation_keeps_utf8_whole(void **state)
{
    (void)state;
    /* The "..." goes at byte MAX_LEN - 3; put multi-byte characters across that spot. */
    static const char *chars[] = {"\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80"};
    guarded_error_t g;
    for (size_t c = 0; c < COUNT(chars); c++) {
        size_t len = strlen(chars[c]);
        for (size_t back = 0; back < len + 2; back++) {
            char buf[KK_ERROR_MESSAGE_SIZE + 100];
            size_t start = MAX_LEN - 3 - back;
            with_char_at(buf, sizeof(buf), start, chars[c]);
            guard_init(&g);
            kk_error_set(&g.err, KK_ERR_MALFORMED, "%s", buf);
            guard_check(&g);
            print_message("char %zu starting %zu bytes before the cut: %zu bytes kept\n", c,
                          back, strlen(g.err.message));
            assert_true(valid_utf8(g.err.message));
            assert_true(ends_with(g.err.message, "..."));
            size_t kept = strlen(g.err.message) - 3;
            assert_memory_equal(g.err.message, buf, kept);
            /* A character reaching the cut is dropped from its first byte; one that ends
             * before the cut is kept whole. */
            assert_int_equal(kept, back < len ? start : MAX_LEN - 3);
        }
    }
}

static void test_set_broker(void **state)
{
    (void)state;
    guarded_error_t g;
    guard_init(&g);
    char expected[KK_ERROR_MESSAGE_SIZE];

    int rc = kk_error_set_broker(&g.err, 6, "produce to orders-3");
    assert_int_equal(rc, 6);
    assert_int_equal(g.err.code, 6);
    snprintf(expected, sizeof(expected), "produce to orders-3: NOT_LEADER_OR_FOLLOWER (6): %s",
             kk_err_description(6));
    assert_string_equal(g.err.message, expected);

    rc = kk_error_set_broker(&g.err, -1, NULL);
    assert_int_equal(rc, -1);
    snprintf(expected, sizeof(expected), "UNKNOWN_SERVER_ERROR (-1): %s",
             kk_err_description(-1));
    assert_string_equal(g.err.message, expected);

    kk_error_set_broker(&g.err, 29, "");
    snprintf(expected, sizeof(expected), "TOPIC_AUTHORIZATION_FAILED (29): %s",
             kk_err_description(29));
    assert_string_equal(g.err.message, expected);

    /* A code from a newer broker still gives a readable message. */
    rc = kk_error_set_broker(&g.err, 999, "fetch");
    assert_int_equal(rc, 999);
    assert_int_equal(g.err.code, 999);
    assert_string_equal(g.err.message, "fetch: UNKNOWN_CODE (999): unknown error code");
    guard_check(&g);
}

static void test_prefix(void **state)
{
    (void)state;
    guarded_error_t g;
    guard_init(&g);
    kk_error_set(&g.err, KK_ERR_CONNECTION_REFUSED, "connection refused");
    int rc = kk_error_prefix(&g.err, "connecting to %s:%d: ", "127.0.0.1", 9092);
    assert_int_equal(rc, KK_ERR_CONNECTION_REFUSED);
    assert_int_equal(g.err.code, KK_ERR_CONNECTION_REFUSED);
    assert_string_equal(g.err.message, "connecting to 127.0.0.1:9092: connection refused");

    /* Prefixes stack, and the arguments may point into the message. */
    kk_error_prefix(&g.err, "[%.4s] ", g.err.message);
    assert_string_equal(g.err.message, "[conn] connecting to 127.0.0.1:9092: connection refused");

    /* Broker codes are kept too. */
    kk_error_set_broker(&g.err, 3, "metadata");
    assert_int_equal(kk_error_prefix(&g.err, "b1: "), 3);
    assert_true(strncmp(g.err.message, "b1: metadata: UNKNOWN_TOPIC_OR_PARTITION (3): ", 46)
                == 0);
    guard_check(&g);
}

static void test_prefix_truncates(void **state)
{
    (void)state;
    guarded_error_t g;
    guard_init(&g);
    char old[KK_ERROR_MESSAGE_SIZE];
    memset(old, 'o', MAX_LEN - 10);
    old[MAX_LEN - 10] = '\0';
    kk_error_set(&g.err, KK_ERR_IO, "%s", old);

    kk_error_prefix(&g.err, "%s", "0123456789ABCDEFGHIJ");
    guard_check(&g);
    assert_int_equal(g.err.code, KK_ERR_IO);
    assert_int_equal(strlen(g.err.message), MAX_LEN);
    assert_true(strncmp(g.err.message, "0123456789ABCDEFGHIJooo", 23) == 0);
    assert_true(ends_with(g.err.message, "o..."));

    /* Prefix and message that together fill the buffer exactly are kept whole. */
    kk_error_set(&g.err, KK_ERR_IO, "%s", old);
    kk_error_prefix(&g.err, "%s", "0123456789");
    guard_check(&g);
    assert_int_equal(strlen(g.err.message), MAX_LEN);
    assert_true(strncmp(g.err.message, "0123456789ooo", 13) == 0);
    assert_true(ends_with(g.err.message, "ooo"));

    /* A full message and a one-byte prefix: exactly one byte too many. */
    memset(old, 'o', MAX_LEN);
    old[MAX_LEN] = '\0';
    kk_error_set(&g.err, KK_ERR_IO, "%s", old);
    assert_string_equal(g.err.message, old);
    kk_error_prefix(&g.err, "!");
    guard_check(&g);
    assert_int_equal(strlen(g.err.message), MAX_LEN);
    assert_true(strncmp(g.err.message, "!ooo", 4) == 0);
    assert_true(ends_with(g.err.message, "o..."));

    /* A prefix that alone is too long: cut, the old text gone, the code kept. */
    char big[KK_ERROR_MESSAGE_SIZE * 2];
    memset(big, 'p', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(kk_error_prefix(&g.err, "%s", big), KK_ERR_IO);
    guard_check(&g);
    assert_int_equal(strlen(g.err.message), MAX_LEN);
    assert_true(ends_with(g.err.message, "p..."));
    assert_null(strchr(g.err.message, 'o'));

    /* A prefix that fits exactly leaves no room: the old text is replaced by the marker. */
    kk_error_set(&g.err, KK_ERR_IO, "old");
    big[MAX_LEN] = '\0';
    kk_error_prefix(&g.err, "%s", big);
    guard_check(&g);
    assert_int_equal(strlen(g.err.message), MAX_LEN);
    assert_true(ends_with(g.err.message, "p..."));
}

/* ---- the taxonomy bindings build their classes from ---------------------------------------- */

static const kk_error_class_t *find_class(const char *name)
{
    const kk_error_class_t *classes;
    size_t n = kk_error_class_list(&classes);
    for (size_t i = 0; name && i < n; i++)
        if (strcmp(classes[i].name, name) == 0)
            return &classes[i];
    return NULL;
}

static void test_class_list_is_a_tree(void **state)
{
    (void)state;
    const kk_error_class_t *classes;
    size_t n = kk_error_class_list(&classes);
    assert_true(n > 10);
    assert_string_equal(classes[0].name, "Error");
    assert_null(classes[0].parent);
    int seen[KK_CAT__COUNT] = {0};
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            /* the parent comes earlier */
            bool parent_before = false;
            for (size_t j = 0; j < i; j++)
                parent_before = parent_before || strcmp(classes[j].name, classes[i].parent) == 0;
            if (!parent_before)
                fail_msg("class %s: parent %s is not listed before it", classes[i].name,
                         classes[i].parent);
        }
        for (size_t j = i + 1; j < n; j++) {
            assert_string_not_equal(classes[i].name, classes[j].name);
            if (classes[i].alias && classes[j].alias)
                assert_string_not_equal(classes[i].alias, classes[j].alias);
        }
        seen[classes[i].category]++;
        assert_true(strlen(classes[i].doc) > 5);
    }
    /* every category but NONE and UNKNOWN has exactly one class */
    for (int c = 0; c < KK_CAT__COUNT; c++) {
        if (c == KK_CAT_NONE || c == KK_CAT_UNKNOWN)
            continue;
        if (seen[c] != 1)
            fail_msg("category %s has %d classes", kk_err_category_name((kk_err_category_t)c),
                     seen[c]);
    }
}

static void test_every_code_has_a_category_and_class(void **state)
{
    (void)state;
    const int16_t *broker;
    size_t nb = kk_err_broker_code_list(&broker);
    char name[96];
    for (size_t i = 0; i < nb; i++) {
        kk_err_category_t cat = kk_err_category(broker[i]);
        assert_true(cat == KK_CAT_BROKER || cat == KK_CAT_AUTHENTICATION ||
                    cat == KK_CAT_AUTHORIZATION);
        size_t len = kk_err_class_name(broker[i], name, sizeof(name));
        assert_int_equal(len, strlen(name));
        assert_true(name[0] >= 'A' && name[0] <= 'Z');
        assert_null(strchr(name, '_'));
        /* a broker code's own class is never one of the named classes */
        assert_null(find_class(name));
        assert_non_null(find_class(kk_err_class_parent(broker[i])));
    }
    const int *client;
    size_t nc = kk_err_client_code_list(&client);
    assert_int_equal(nc, 26);
    for (size_t i = 0; i < nc; i++) {
        assert_int_equal(client[i], -100 - (int)i);
        kk_err_category_t cat = kk_err_category(client[i]);
        assert_true(cat != KK_CAT_NONE && cat != KK_CAT_UNKNOWN && cat != KK_CAT_BROKER);
        kk_err_class_name(client[i], name, sizeof(name));
        const kk_error_class_t *cls = find_class(name);
        assert_non_null(cls);
        assert_int_equal(cls->category, cat);
        if (cls->parent)
            assert_string_equal(kk_err_class_parent(client[i]), cls->parent);
    }
}

static void test_class_names(void **state)
{
    (void)state;
    char name[64];
    assert_int_equal(kk_err_class_name(6, name, sizeof(name)), strlen("NotLeaderOrFollower"));
    assert_string_equal(name, "NotLeaderOrFollower");
    assert_string_equal(kk_err_class_parent(6), "ProtocolError");
    assert_string_equal(kk_err_poseidon_alias(6), "NotLeaderForPartition");
    assert_string_equal(kk_err_poseidon_alias(-1), "UnknownError");
    assert_null(kk_err_poseidon_alias(3));
    kk_err_class_name(-1, name, sizeof(name));
    assert_string_equal(name, "UnknownServerError");

    kk_err_class_name(58, name, sizeof(name));
    assert_string_equal(name, "SaslAuthenticationFailed");
    assert_string_equal(kk_err_class_parent(58), "AuthenticationError");
    assert_string_equal(kk_err_class_parent(29), "AuthorizationError");
    assert_int_equal(kk_err_category(29), KK_CAT_AUTHORIZATION);

    struct { int code; const char *cls; const char *parent; } client[] = {
        {KK_ERR_TIMED_OUT, "TimedOutError", "ConnectionFailedError"},
        {KK_ERR_CONNECTION_REFUSED, "ConnectionFailedError", "Error"},
        {KK_ERR_UNKNOWN_BROKER, "UnableToFetchMetadata", "ConnectionFailedError"},
        {KK_ERR_NO_BROKERS, "UnableToFetchMetadata", "ConnectionFailedError"},
        {KK_ERR_CORRELATION, "MalformedResponseError", "Error"},
        {KK_ERR_STATE, "ClosedError", "Error"},
        {KK_ERR_INTERRUPTED, "CallInterruptedError", "Error"},
        {KK_ERR_INVALID_ARG, "InvalidArgumentError", "Error"},
        {KK_ERR_PARTIAL_FAILURE, "FailedToSendMessages", "Error"},
        {KK_ERR_NOT_ASSIGNED, "NotAssignedError", "Error"},
        {KK_ERR_AUTHENTICATION, "AuthenticationError", "Error"},
        {KK_ERR_SSL, "SSLError", "ConnectionFailedError"},
        {KK_ERR_CERTIFICATE, "CertificateVerificationError", "SSLError"},
        {999, "UnrecognizedProtocolError", "ProtocolError"},
    };
    for (size_t i = 0; i < COUNT(client); i++) {
        kk_err_class_name(client[i].code, name, sizeof(name));
        assert_string_equal(name, client[i].cls);
        assert_string_equal(kk_err_class_parent(client[i].code), client[i].parent);
    }
    kk_err_class_name(-999, name, sizeof(name));
    assert_string_equal(name, "Error");
    assert_null(kk_err_class_parent(-999));
    assert_int_equal(kk_err_category(-999), KK_CAT_UNKNOWN);
    assert_int_equal(kk_err_category(0), KK_CAT_NONE);
    assert_string_equal(kk_err_category_name(KK_CAT_TIMEOUT), "timeout");

    /* a short buffer gets a terminated prefix and the full length back */
    char small[5];
    assert_int_equal(kk_err_class_name(6, small, sizeof(small)), strlen("NotLeaderOrFollower"));
    assert_string_equal(small, "NotL");
    assert_int_equal(kk_err_class_name(KK_ERR_STATE, small, sizeof(small)), strlen("ClosedError"));
    assert_string_equal(small, "Clos");
}

/* A broker's code as the library's: known codes pass, the client range and unknown codes
 * become UNKNOWN_SERVER_ERROR. */
static void test_err_from_broker(void **state)
{
    (void)state;
    assert_int_equal(kk_err_from_broker(0), 0);
    assert_int_equal(kk_err_from_broker(-1), KK_ERR_UNKNOWN_SERVER_ERROR);
    assert_int_equal(kk_err_from_broker(1), 1);
    assert_int_equal(kk_err_from_broker(35), 35);
    for (int code = INT16_MIN; code < -1; code++)
        assert_int_equal(kk_err_from_broker((int16_t)code), KK_ERR_UNKNOWN_SERVER_ERROR);
    assert_int_equal(kk_err_from_broker(INT16_MAX), KK_ERR_UNKNOWN_SERVER_ERROR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_well_known_broker_codes),
        cmocka_unit_test(test_retriable_set_is_exact),
        cmocka_unit_test(test_broker_code_list),
        cmocka_unit_test(test_client_codes),
        cmocka_unit_test(test_unknown_codes),
        cmocka_unit_test(test_error_clear),
        cmocka_unit_test(test_error_set_formats),
        cmocka_unit_test(test_error_set_null_err),
        cmocka_unit_test(test_error_set_truncates),
        cmocka_unit_test(test_truncation_keeps_utf8_whole),
        cmocka_unit_test(test_set_broker),
        cmocka_unit_test(test_prefix),
        cmocka_unit_test(test_prefix_truncates),
        cmocka_unit_test(test_class_list_is_a_tree),
        cmocka_unit_test(test_every_code_has_a_category_and_class),
        cmocka_unit_test(test_class_names),
        cmocka_unit_test(test_err_from_broker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
