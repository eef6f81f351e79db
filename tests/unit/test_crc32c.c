/*
 * CRC-32C tests: published vectors (RFC 3720, B.4, and the "123456789" check value), longer
 * vectors computed with Java's java.util.zip.CRC32C, chaining, agreement of the hardware
 * and table versions over random lengths and alignments, and that the hardware version is
 * picked exactly when the CPU has SSE4.2.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif

#include "crc32c.h"

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

static const struct {
    const char *name;
    crc_fn fn;
} impls[] = {
    {"kk_crc32c", kk_crc32c},
    {"kk_crc32c_portable", kk_crc32c_portable},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Byte i of the pattern the Java vectors used: (byte)(i * 31 + 7). */
static uint8_t *pattern(size_t n) {
    uint8_t *b = malloc(n ? n : 1);
    assert_non_null(b);
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(i * 31 + 7);
    return b;
}

/* xorshift32: a fixed sequence, so a failure reproduces. */
static uint32_t next_rand(uint32_t *s) {
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* kk_crc32c_hardware_available() must say what the CPU has, asked here independently through
 * CPUID (leaf 1, ECX bit 20 is SSE4.2): otherwise the comparisons below might compare the table
 * version with itself while claiming to test the instruction. */
static void test_hardware_path_matches_cpu(void **state) {
    (void)state;
    bool hardware = kk_crc32c_hardware_available();
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    assert_true(__get_cpuid(1, &eax, &ebx, &ecx, &edx));
    assert_int_equal(hardware, (ecx & bit_SSE4_2) != 0);
#else
    assert_false(hardware); /* the instruction is only used on x86-64 */
#endif
    print_message("kk_crc32c uses the %s path\n", hardware ? "SSE4.2" : "table");
}

static void test_published_vectors(void **state) {
    (void)state;
    uint8_t zeros[32], ones[32], asc[32], desc[32];
    for (int i = 0; i < 32; i++) {
        zeros[i] = 0;
        ones[i] = 0xff;
        asc[i] = (uint8_t)i;
        desc[i] = (uint8_t)(31 - i);
    }
    for (size_t k = 0; k < COUNT(impls); k++) {
        crc_fn f = impls[k].fn;
        print_message("%s\n", impls[k].name);
        assert_int_equal(f(0, "123456789", 9), 0xe3069283);
        assert_int_equal(f(0, zeros, 32), 0x8a9136aa);
        assert_int_equal(f(0, ones, 32), 0x62a8ab43);
        assert_int_equal(f(0, asc, 32), 0x46dd794e);
        assert_int_equal(f(0, desc, 32), 0x113fdb5c);
        assert_int_equal(f(0, "The quick brown fox jumps over the lazy dog", 43), 0x22620404);
    }
}

static void test_empty_input(void **state) {
    (void)state;
    for (size_t k = 0; k < COUNT(impls); k++) {
        assert_int_equal(impls[k].fn(0, NULL, 0), 0);
        assert_int_equal(impls[k].fn(0x12345678, NULL, 0), 0x12345678);
    }
}

/* Lengths either side of the 8-byte step and of the hardware version's 3-block
 * interleaving (3 x 256 bytes), up to 1 MiB. */
static void test_java_vectors(void **state) {
    (void)state;
    static const struct {
        size_t len;
        uint32_t crc;
    } v[] = {
        {1, 0x86b737ba},     {7, 0x5110a112},       {8, 0x40795c72},    {9, 0x6fe35da6},
        {63, 0xd7013350},    {767, 0xb003df11},     {768, 0xd911e437},  {769, 0x62470b04},
        {1535, 0xecd96429},  {1536, 0x63772ff2},    {1537, 0x94815f17}, {4099, 0xff4cff21},
        {65539, 0xd55f0605}, {1048576, 0xff5be3fc},
    };
    uint8_t *buf = pattern(1048576);
    for (size_t k = 0; k < COUNT(impls); k++)
        for (size_t i = 0; i < COUNT(v); i++)
            assert_int_equal(impls[k].fn(0, buf, v[i].len), v[i].crc);
    free(buf);
}

static void test_chaining(void **state) {
    (void)state;
    const size_t n = 5000;
    uint8_t *buf = pattern(n);
    for (size_t k = 0; k < COUNT(impls); k++) {
        crc_fn f = impls[k].fn;
        uint32_t whole = f(0, buf, n);
        /* Every split point of a short prefix, then a spread over the whole buffer. */
        for (size_t cut = 0; cut <= 100; cut++)
            assert_int_equal(f(f(0, buf, cut), buf + cut, 100 - cut), f(0, buf, 100));
        for (size_t cut = 0; cut <= n; cut += 37)
            assert_int_equal(f(f(0, buf, cut), buf + cut, n - cut), whole);
        /* Many small pieces. */
        uint32_t c = 0;
        for (size_t off = 0; off < n; off += 13)
            c = f(c, buf + off, off + 13 <= n ? 13 : n - off);
        assert_int_equal(c, whole);
    }
    /* The two versions chain into each other. */
    assert_int_equal(kk_crc32c_portable(kk_crc32c(0, buf, 2001), buf + 2001, n - 2001),
                     kk_crc32c(0, buf, n));
    free(buf);
}

static void test_random_lengths_and_alignments(void **state) {
    (void)state;
    uint32_t seed = 0x2545f491;
    for (int iter = 0; iter < 2000; iter++) {
        size_t len = next_rand(&seed) % (iter < 1500 ? 300 : 9000);
        size_t off = next_rand(&seed) % 16;
        /* Exactly off + len bytes, so ASan catches any read past the end. */
        uint8_t *mem = malloc(off + len ? off + len : 1);
        assert_non_null(mem);
        for (size_t i = 0; i < off + len; i++)
            mem[i] = (uint8_t)next_rand(&seed);
        uint32_t start = (iter % 3 == 0) ? 0 : next_rand(&seed);
        assert_int_equal(kk_crc32c(start, mem + off, len),
                         kk_crc32c_portable(start, mem + off, len));
        free(mem);
    }
}

static void test_detects_single_bit_flips(void **state) {
    (void)state;
    uint8_t *buf = pattern(2048);
    uint32_t good = kk_crc32c(0, buf, 2048);
    for (size_t bit = 0; bit < 2048 * 8; bit += 61) {
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_not_equal(kk_crc32c(0, buf, 2048), good);
        assert_int_not_equal(kk_crc32c_portable(0, buf, 2048), good);
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    free(buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hardware_path_matches_cpu),
        cmocka_unit_test(test_published_vectors),
        cmocka_unit_test(test_empty_input),
        cmocka_unit_test(test_java_vectors),
        cmocka_unit_test(test_chaining),
        cmocka_unit_test(test_random_lengths_and_alignments),
        cmocka_unit_test(test_detects_single_bit_flips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
