/* Writer/reader round trips for every primitive, golden encodings, and truncation. Signed
 * varints are written the way the record batch encoder writes them (bytes.h's zigzag and
 * put_uvarint); buffer.h only reads them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buffer.h"
#include "bytes.h"

static void write_varint(kk_writer_t *w, int32_t v) {
    uint8_t tmp[KK_UVARINT_MAX];
    kk_write_raw(w, tmp, (size_t)(put_uvarint(tmp, zigzag32(v)) - tmp));
}

static void write_varlong(kk_writer_t *w, int64_t v) {
    uint8_t tmp[KK_UVARINT_MAX];
    kk_write_raw(w, tmp, (size_t)(put_uvarint(tmp, zigzag64(v)) - tmp));
}

static void assert_bytes(const kk_writer_t *w, const uint8_t *expected, size_t len) {
    assert_false(w->failed);
    assert_int_equal(w->len, len);
    assert_memory_equal(w->data, expected, len);
}

static void test_fixed_width_golden(void **state) {
    (void)state;
    kk_writer_t w;
    kk_writer_init(&w);
    kk_write_i8(&w, -2);
    kk_write_i16(&w, 0x1234);
    kk_write_i32(&w, -1);
    kk_write_i64(&w, 0x0102030405060708LL);
    kk_write_bool(&w, true);
    const uint8_t expected[] = {0xfe, 0x12, 0x34, 0xff, 0xff, 0xff, 0xff, 1,
                                2,    3,    4,    5,    6,    7,    8,    1};
    assert_bytes(&w, expected, sizeof(expected));

    kk_reader_t r;
    kk_reader_init(&r, w.data, w.len);
    assert_int_equal(kk_read_i8(&r), -2);
    assert_int_equal(kk_read_i16(&r), 0x1234);
    assert_int_equal(kk_read_i32(&r), -1);
    assert_true(kk_read_i64(&r) == 0x0102030405060708LL);
    assert_true(kk_read_bool(&r));
    assert_false(r.failed);
    assert_int_equal(kk_reader_remaining(&r), 0);
    kk_writer_free(&w);
}

static void test_extreme_values_round_trip(void **state) {
    (void)state;
    kk_writer_t w;
    kk_writer_init(&w);
    kk_write_i16(&w, INT16_MIN);
    kk_write_i32(&w, INT32_MIN);
    kk_write_i64(&w, INT64_MIN);
    kk_write_i64(&w, INT64_MAX);
    kk_reader_t r;
    kk_reader_init(&r, w.data, w.len);
    assert_int_equal(kk_read_i16(&r), INT16_MIN);
    assert_int_equal(kk_read_i32(&r), INT32_MIN);
    assert_true(kk_read_i64(&r) == INT64_MIN);
    assert_true(kk_read_i64(&r) == INT64_MAX);
    assert_false(r.failed);
    kk_writer_free(&w);
}

/* Zigzag golden values from the protobuf/Kafka encoding rules. */
static void test_varint_golden(void **state) {
    (void)state;
    struct {
        int32_t value;
        uint8_t bytes[5];
        size_t len;
    } cases[] = {
        {0, {0x00}, 1},
        {-1, {0x01}, 1},
        {1, {0x02}, 1},
        {-64, {0x7f}, 1},
        {64, {0x80, 0x01}, 2},
        {300, {0xd8, 0x04}, 2},
        {INT32_MAX, {0xfe, 0xff, 0xff, 0xff, 0x0f}, 5},
        {INT32_MIN, {0xff, 0xff, 0xff, 0xff, 0x0f}, 5},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kk_writer_t w;
        kk_writer_init(&w);
        write_varint(&w, cases[i].value);
        assert_bytes(&w, cases[i].bytes, cases[i].len);
        kk_reader_t r;
        kk_reader_init(&r, w.data, w.len);
        assert_int_equal(kk_read_varint(&r), cases[i].value);
        assert_false(r.failed);
        kk_writer_free(&w);
    }
}

static void test_varlong_and_uvarint_round_trip(void **state) {
    (void)state;
    const int64_t longs[] = {0, 1, -1, 1234567890123LL, -1234567890123LL, INT64_MAX, INT64_MIN};
    const uint32_t uints[] = {0, 1, 127, 128, 16383, 16384, UINT32_MAX};
    kk_writer_t w;
    kk_writer_init(&w);
    for (size_t i = 0; i < sizeof(longs) / sizeof(longs[0]); i++)
        write_varlong(&w, longs[i]);
    for (size_t i = 0; i < sizeof(uints) / sizeof(uints[0]); i++)
        kk_write_uvarint(&w, uints[i]);
    kk_reader_t r;
    kk_reader_init(&r, w.data, w.len);
    for (size_t i = 0; i < sizeof(longs) / sizeof(longs[0]); i++)
        assert_true(kk_read_varlong(&r) == longs[i]);
    for (size_t i = 0; i < sizeof(uints) / sizeof(uints[0]); i++)
        assert_true(kk_read_uvarint(&r) == uints[i]);
    assert_false(r.failed);
    assert_int_equal(kk_reader_remaining(&r), 0);
    kk_writer_free(&w);
}

static void test_overlong_varint_is_malformed(void **state) {
    (void)state;
    const uint8_t six_continuations[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    kk_reader_t r;
    kk_reader_init(&r, six_continuations, sizeof(six_continuations));
    (void)kk_read_uvarint(&r);
    assert_true(r.failed);
    /* five bytes but a value over 32 bits */
    const uint8_t too_big[] = {0xff, 0xff, 0xff, 0xff, 0x7f};
    kk_reader_init(&r, too_big, sizeof(too_big));
    (void)kk_read_uvarint(&r);
    assert_true(r.failed);
}

static void test_strings_and_bytes(void **state) {
    (void)state;
    kk_writer_t w;
    kk_writer_init(&w);
    kk_write_string(&w, "abc");
    kk_write_string(&w, NULL);
    kk_write_bytes(&w, "\x00\x01", 2);
    kk_write_bytes(&w, NULL, 0);
    kk_write_compact_string(&w, "xy");
    kk_write_compact_string(&w, NULL);
    kk_write_compact_string(&w, "");
    kk_write_compact_bytes(&w, "\xff", 1);
    const uint8_t expected[] = {0, 3,    'a',  'b',  'c',  0xff, 0xff, 0,   0, 0, 2, 0,
                                1, 0xff, 0xff, 0xff, 0xff, 3,    'x',  'y', 0, 1, 2, 0xff};
    assert_bytes(&w, expected, sizeof(expected));

    kk_reader_t r;
    kk_reader_init(&r, w.data, w.len);
    kk_slice_t s = kk_read_string(&r);
    assert_int_equal(s.len, 3);
    assert_memory_equal(s.ptr, "abc", 3);
    assert_int_equal(kk_read_string(&r).len, -1);
    s = kk_read_bytes(&r);
    assert_int_equal(s.len, 2);
    assert_memory_equal(s.ptr, "\x00\x01", 2);
    assert_int_equal(kk_read_bytes(&r).len, -1);
    s = kk_read_compact_string(&r);
    assert_int_equal(s.len, 2);
    assert_memory_equal(s.ptr, "xy", 2);
    assert_int_equal(kk_read_compact_string(&r).len, -1);
    assert_int_equal(kk_read_compact_string(&r).len, 0);
    s = kk_read_compact_bytes(&r);
    assert_int_equal(s.len, 1);
    assert_int_equal(s.ptr[0], 0xff);
    assert_false(r.failed);

    bool oom = false;
    char *copy = kk_slice_strdup((kk_slice_t){(const uint8_t *)"hi", 2}, &oom);
    assert_string_equal(copy, "hi");
    free(copy);
    assert_null(kk_slice_strdup((kk_slice_t){NULL, -1}, &oom));
    assert_false(oom);
    kk_writer_free(&w);
}

static void test_arrays_and_tags(void **state) {
    (void)state;
    kk_writer_t w;
    kk_writer_init(&w);
    kk_write_array_len(&w, 2);
    kk_write_i32(&w, 7);
    kk_write_i32(&w, 8);
    kk_write_array_len(&w, -1);
    kk_write_compact_array_len(&w, 1);
    kk_write_i8(&w, 9);
    kk_write_compact_array_len(&w, -1);
    /* a tagged-field section with two unknown tags */
    kk_write_uvarint(&w, 2);
    kk_write_uvarint(&w, 0);
    kk_write_uvarint(&w, 3);
    kk_write_raw(&w, "abc", 3);
    kk_write_uvarint(&w, 5);
    kk_write_uvarint(&w, 0);
    kk_write_empty_tags(&w);
    kk_write_i8(&w, 42);

    kk_reader_t r;
    kk_reader_init(&r, w.data, w.len);
    assert_int_equal(kk_read_array_len(&r, 4), 2);
    assert_int_equal(kk_read_i32(&r), 7);
    assert_int_equal(kk_read_i32(&r), 8);
    assert_int_equal(kk_read_array_len(&r, 4), -1);
    assert_int_equal(kk_read_compact_array_len(&r, 1), 1);
    assert_int_equal(kk_read_i8(&r), 9);
    assert_int_equal(kk_read_compact_array_len(&r, 1), -1);
    kk_read_skip_tags(&r);
    kk_read_skip_tags(&r);
    assert_int_equal(kk_read_i8(&r), 42);
    assert_false(r.failed);
    kk_writer_free(&w);
}

static void test_lying_array_count_fails_before_allocating(void **state) {
    (void)state;
    /* Claims 100 million int32 elements but carries 4 bytes. */
    const uint8_t lying[] = {0x05, 0xf5, 0xe1, 0x00, 0, 0, 0, 1};
    kk_reader_t r;
    kk_reader_init(&r, lying, sizeof(lying));
    assert_int_equal(kk_read_array_len(&r, 4), 0);
    assert_true(r.failed);
    /* A negative count other than -1 is malformed. */
    const uint8_t negative[] = {0xff, 0xff, 0xff, 0xfe};
    kk_reader_init(&r, negative, sizeof(negative));
    (void)kk_read_array_len(&r, 1);
    assert_true(r.failed);
    /* A string length past the end. */
    const uint8_t long_string[] = {0x00, 0x10, 'a'};
    kk_reader_init(&r, long_string, sizeof(long_string));
    kk_slice_t s = kk_read_string(&r);
    assert_true(r.failed);
    assert_int_equal(s.len, -1);
    assert_null(s.ptr);
}

/* Every proper prefix of a valid encoding must fail, and the failure is sticky. */
static void test_every_prefix_fails(void **state) {
    (void)state;
    kk_writer_t w;
    kk_writer_init(&w);
    kk_write_i16(&w, 1);
    kk_write_string(&w, "topic");
    write_varint(&w, -300);
    kk_write_compact_bytes(&w, "payload", 7);
    kk_write_i64(&w, 99);
    for (size_t cut = 0; cut < w.len; cut++) {
        kk_reader_t r;
        kk_reader_init(&r, w.data, cut);
        (void)kk_read_i16(&r);
        (void)kk_read_string(&r);
        (void)kk_read_varint(&r);
        (void)kk_read_compact_bytes(&r);
        int64_t last = kk_read_i64(&r);
        assert_true(r.failed);
        assert_true(last == 0);
        assert_int_equal(kk_reader_remaining(&r), 0);
    }
    kk_writer_free(&w);
}

static void test_slots_and_growth(void **state) {
    (void)state;
    kk_writer_t w;
    kk_writer_init(&w);
    size_t slot = kk_writer_slot_i32(&w);
    for (int i = 0; i < 100000; i++)
        kk_write_i8(&w, (int8_t)i);
    kk_writer_patch_i32(&w, slot, (int32_t)(w.len - 4));
    kk_reader_t r;
    kk_reader_init(&r, w.data, w.len);
    assert_int_equal(kk_read_i32(&r), 100000);
    assert_int_equal(kk_read_i8(&r), 0);
    assert_int_equal(w.len, 100004);
    assert_true(w.cap >= w.len);
    kk_writer_reset(&w);
    assert_int_equal(w.len, 0);
    /* an over-long short string marks the writer failed instead of truncating */
    char big[40000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    kk_write_string(&w, big);
    assert_true(w.failed);
    kk_writer_free(&w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_width_golden),
        cmocka_unit_test(test_extreme_values_round_trip),
        cmocka_unit_test(test_varint_golden),
        cmocka_unit_test(test_varlong_and_uvarint_round_trip),
        cmocka_unit_test(test_overlong_varint_is_malformed),
        cmocka_unit_test(test_strings_and_bytes),
        cmocka_unit_test(test_arrays_and_tags),
        cmocka_unit_test(test_lying_array_count_fails_before_allocating),
        cmocka_unit_test(test_every_prefix_fails),
        cmocka_unit_test(test_slots_and_growth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
