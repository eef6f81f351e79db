/*
 * Codec round trips, the exact frame formats, truncation and corruption handling, the
 * decompression-bomb cap, and decoding of other implementations' output (Java client,
 * Python packages, command-line tools; see unit/vectors/compression_vectors.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include "compression.h"
#include "unit/vectors/compression_vectors.h"

#define KIB 1024u
#define MIB (1024u * 1024u)

static const kk_codec_t ALL[] = {KK_CODEC_NONE, KK_CODEC_GZIP, KK_CODEC_SNAPPY, KK_CODEC_LZ4,
                                 KK_CODEC_ZSTD};
static const kk_codec_t COMPRESSING[] = {KK_CODEC_GZIP, KK_CODEC_SNAPPY, KK_CODEC_LZ4,
                                         KK_CODEC_ZSTD};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char TEXT_UNIT[] = "Kafka stores records in batches; a batch may be compressed "
                                "as a whole. ";

/* The vectors' plaintexts: TEXT (4 units, 284 bytes) and BIG (units cut to 40000 bytes). */
static uint8_t *repeat_unit(size_t n) {
    size_t unit = sizeof TEXT_UNIT - 1;
    uint8_t *p = malloc(n > 0 ? n : 1);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)TEXT_UNIT[i % unit];
    return p;
}

/* Word salad: compressible like real payloads, but not a single repeated unit. */
static uint8_t *make_text(size_t n) {
    static const char *const words[] = {"offset",    "partition", "leader",   "replica", "topic",
                                        "record",    "batch",     "consumer", "group",   "epoch",
                                        "timestamp", "header",    "key",      "value",   "broker"};
    uint8_t *p = malloc(n > 0 ? n : 1);
    assert_non_null(p);
    uint32_t state = 12345;
    size_t i = 0;
    while (i < n) {
        state = state * 1103515245u + 12345u;
        const char *w = words[(state >> 16) % COUNT(words)];
        for (size_t j = 0; w[j] != '\0' && i < n; j++)
            p[i++] = (uint8_t)w[j];
        if (i < n)
            p[i++] = (state >> 8) % 7 == 0 ? '\n' : ' ';
    }
    return p;
}

static uint8_t *make_random(size_t n) {
    uint8_t *p = malloc(n > 0 ? n : 1);
    assert_non_null(p);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)(x >> 32);
    }
    return p;
}

static void expect_compression_error(int rc, const kk_error_t *err, uint8_t *out, size_t out_len,
                                     const char *must_contain) {
    assert_int_equal(rc, KK_ERR_COMPRESSION);
    assert_int_equal(err->code, KK_ERR_COMPRESSION);
    assert_null(out);
    assert_int_equal(out_len, 0);
    assert_true(strlen(err->message) > 0);
    if (must_contain != NULL && strstr(err->message, must_contain) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err->message, must_contain);
}

/* Decodes and compares; returns nothing, fails the test on any difference. */
static void expect_decodes_to(kk_codec_t codec, const uint8_t *src, size_t src_len, size_t max_out,
                              const uint8_t *want, size_t want_len) {
    kk_error_t err = {0};
    uint8_t *out = NULL;
    size_t out_len = 0;
    int rc = kk_decompress(codec, src, src_len, max_out, &out, &out_len, &err);
    if (rc != 0)
        fail_msg("%s: %s", kk_codec_name(codec), err.message);
    assert_non_null(out);
    assert_int_equal(out_len, want_len);
    if (want_len > 0)
        assert_memory_equal(out, want, want_len);
    free(out);
}

/* Compress, decode with an exact cap, and check one byte less is refused. Returns the
 * compressed size. */
static size_t roundtrip(kk_codec_t codec, const uint8_t *data, size_t n) {
    kk_error_t err = {0};
    uint8_t *c = NULL;
    size_t clen = 0;
    int rc = kk_compress(codec, data, n, &c, &clen, &err);
    if (rc != 0)
        fail_msg("compress %s: %s", kk_codec_name(codec), err.message);
    assert_non_null(c);
    if (codec != KK_CODEC_NONE)
        assert_true(clen > 0);

    expect_decodes_to(codec, c, clen, n, data, n);
    if (n > 0) {
        uint8_t *out = NULL;
        size_t out_len = 0;
        rc = kk_decompress(codec, c, clen, n - 1, &out, &out_len, &err);
        expect_compression_error(rc, &err, out, out_len, "cap");
    }
    free(c);
    return clen;
}

/* ---- names -------------------------------------------------------------------------- */

static void test_codec_names(void **state) {
    (void)state;
    static const char *const names[] = {"none", "gzip", "snappy", "lz4", "zstd"};
    for (size_t i = 0; i < COUNT(names); i++) {
        kk_codec_t c = (kk_codec_t)99;
        assert_int_equal(kk_codec_from_name(names[i], &c), 0);
        assert_int_equal(c, ALL[i]);
        assert_string_equal(kk_codec_name(c), names[i]);
    }
    /* The attribute bits Kafka puts on the wire. */
    assert_int_equal(KK_CODEC_GZIP, 1);
    assert_int_equal(KK_CODEC_SNAPPY, 2);
    assert_int_equal(KK_CODEC_LZ4, 3);
    assert_int_equal(KK_CODEC_ZSTD, 4);

    kk_codec_t c = KK_CODEC_NONE;
    assert_int_equal(kk_codec_from_name("ZStd", &c), 0);
    assert_int_equal(c, KK_CODEC_ZSTD);

    static const char *const bad[] = {"brotli", "", "gzip ", "gz", "lz4hc", "snappyy", "zst"};
    for (size_t i = 0; i < COUNT(bad); i++) {
        c = KK_CODEC_SNAPPY;
        assert_int_equal(kk_codec_from_name(bad[i], &c), KK_ERR_INVALID_ARG);
        assert_int_equal(c, KK_CODEC_SNAPPY); /* untouched */
    }
    assert_int_equal(kk_codec_from_name(NULL, &c), KK_ERR_INVALID_ARG);
    assert_int_equal(kk_codec_from_name("gzip", NULL), KK_ERR_INVALID_ARG);
    assert_string_equal(kk_codec_name((kk_codec_t)5), "unknown");
    assert_string_equal(kk_codec_name((kk_codec_t)-1), "unknown");
}

static void test_bad_arguments(void **state) {
    (void)state;
    kk_error_t err = {0};
    uint8_t *out = (uint8_t *)&err;
    size_t out_len = 7;
    const uint8_t b[1] = {0};

    assert_int_equal(kk_compress((kk_codec_t)7, b, 1, &out, &out_len, &err), KK_ERR_INVALID_ARG);
    assert_null(out);
    assert_int_equal(kk_compress(KK_CODEC_GZIP, NULL, 1, &out, &out_len, &err), KK_ERR_INVALID_ARG);
    assert_int_equal(kk_compress(KK_CODEC_GZIP, b, 1, NULL, &out_len, &err), KK_ERR_INVALID_ARG);
    assert_int_equal(kk_decompress(KK_CODEC_GZIP, b, 1, MIB, &out, NULL, &err), KK_ERR_INVALID_ARG);

    /* Codec bits 5-7 come from the wire: that is bad data. */
    out = (uint8_t *)&err;
    int rc = kk_decompress((kk_codec_t)5, b, 1, MIB, &out, &out_len, &err);
    expect_compression_error(rc, &err, out, out_len, "unknown compression codec 5");

    /* Empty input is never a valid compressed stream. */
    for (size_t i = 0; i < COUNT(COMPRESSING); i++) {
        rc = kk_decompress(COMPRESSING[i], NULL, 0, MIB, &out, &out_len, &err);
        expect_compression_error(rc, &err, out, out_len, kk_codec_name(COMPRESSING[i]));
    }
    /* ...but "none" of nothing is nothing. */
    expect_decodes_to(KK_CODEC_NONE, NULL, 0, 0, NULL, 0);
}

/* ---- round trips -------------------------------------------------------------------- */

static void roundtrip_all_inputs(kk_codec_t codec) {
    const size_t n = 100 * KIB;
    uint8_t one = 'x';
    uint8_t *text = make_text(n);
    uint8_t *rnd = make_random(n);

    size_t c_empty = roundtrip(codec, NULL, 0);
    size_t c_empty2 = roundtrip(codec, &one, 0);
    size_t c_one = roundtrip(codec, &one, 1);
    size_t c_text = roundtrip(codec, text, n);
    size_t c_rnd = roundtrip(codec, rnd, n);
    (void)c_empty2;

    if (codec != KK_CODEC_NONE) {
        /* Compressible text must shrink a lot; random bytes must not blow up. */
        assert_true(c_text < n / 2);
        assert_true(c_rnd < n + n / 50 + 64);
    }
    print_message("%-6s empty -> %zu B, 1 B -> %zu B, 100 KiB text -> %zu B (%.2fx), "
                  "100 KiB random -> %zu B (%.4fx)\n",
                  kk_codec_name(codec), c_empty, c_one, c_text, (double)n / (double)c_text, c_rnd,
                  (double)n / (double)c_rnd);
    free(text);
    free(rnd);
}

static void test_roundtrip_none(void **state) {
    (void)state;
    roundtrip_all_inputs(KK_CODEC_NONE);
}
static void test_roundtrip_gzip(void **state) {
    (void)state;
    roundtrip_all_inputs(KK_CODEC_GZIP);
}
static void test_roundtrip_snappy(void **state) {
    (void)state;
    roundtrip_all_inputs(KK_CODEC_SNAPPY);
}
static void test_roundtrip_lz4(void **state) {
    (void)state;
    roundtrip_all_inputs(KK_CODEC_LZ4);
}
static void test_roundtrip_zstd(void **state) {
    (void)state;
    roundtrip_all_inputs(KK_CODEC_ZSTD);
}

/* kk_compress_append writes what kk_compress returns, after what the writer held, and
 * leaves that untouched; the writer grows from empty and from a buffer that is too small. */
static void test_compress_append(void **state) {
    (void)state;
    const size_t n = 100 * KIB;
    uint8_t *text = make_text(n);
    for (size_t i = 0; i < COUNT(ALL); i++) {
        kk_error_t err;
        uint8_t *expected = NULL;
        size_t expected_len = 0;
        assert_int_equal(kk_compress(ALL[i], text, n, &expected, &expected_len, &err), 0);
        kk_writer_t w;
        kk_writer_init(&w);
        kk_write_raw(&w, "prefix", 6);
        assert_int_equal(kk_compress_append(ALL[i], text, n, &w, &err), 0);
        assert_int_equal(w.len, 6 + expected_len);
        assert_memory_equal(w.data, "prefix", 6);
        assert_memory_equal(w.data + 6, expected, expected_len);
        uint8_t *back = NULL;
        size_t back_len = 0;
        assert_int_equal(kk_decompress(ALL[i], w.data + 6, w.len - 6, n, &back, &back_len, &err),
                         0);
        assert_int_equal(back_len, n);
        assert_memory_equal(back, text, n);
        /* an empty input appends the codec's empty frame */
        size_t before = w.len;
        assert_int_equal(kk_compress_append(ALL[i], NULL, 0, &w, &err), 0);
        assert_true(ALL[i] == KK_CODEC_NONE ? w.len == before : w.len > before);
        free(back);
        free(expected);
        kk_writer_free(&w);
    }
    kk_error_t err;
    kk_writer_t w;
    kk_writer_init(&w);
    assert_int_equal(kk_compress_append(KK_CODEC_LZ4, NULL, 5, &w, &err), KK_ERR_INVALID_ARG);
    assert_int_equal(kk_compress_append((kk_codec_t)9, text, 5, &w, &err), KK_ERR_INVALID_ARG);
    assert_int_equal(w.len, 0);
    kk_writer_free(&w);
    free(text);
}

/* What we write is the format Kafka readers expect. */
static void test_wire_formats(void **state) {
    (void)state;
    uint8_t *text = repeat_unit(284);
    kk_error_t err = {0};
    uint8_t *c = NULL;
    size_t clen = 0;

    assert_int_equal(kk_compress(KK_CODEC_GZIP, text, 284, &c, &clen, &err), 0);
    assert_true(clen > 18);
    assert_int_equal(c[0], 0x1f); /* gzip magic, deflate */
    assert_int_equal(c[1], 0x8b);
    assert_int_equal(c[2], 8);
    /* trailer: ISIZE, little-endian */
    assert_int_equal(c[clen - 4] | c[clen - 3] << 8 | c[clen - 2] << 16 | c[clen - 1] << 24, 284);
    free(c);

    /* Raw snappy block: varint length first (284 = 0x9c 0x02), no xerial header. */
    assert_int_equal(kk_compress(KK_CODEC_SNAPPY, text, 284, &c, &clen, &err), 0);
    assert_int_equal(c[0], 0x9c);
    assert_int_equal(c[1], 0x02);
    assert_int_equal(snappy_validate_compressed_buffer((const char *)c, clen), SNAPPY_OK);
    free(c);

    /* LZ4 frame: magic; FLG = version 01, independent blocks, content size, no content
     * checksum (0x68); BD = 64 KiB (0x40); then an 8-byte content size. */
    assert_int_equal(kk_compress(KK_CODEC_LZ4, text, 284, &c, &clen, &err), 0);
    static const uint8_t lz4_head[6] = {0x04, 0x22, 0x4d, 0x18, 0x68, 0x40};
    assert_memory_equal(c, lz4_head, 6);
    assert_int_equal(c[6] | c[7] << 8, 284);
    free(c);

    /* zstd frame: magic, then a descriptor with the checksum flag (bit 2) and a content
     * size that the library reports back. */
    assert_int_equal(kk_compress(KK_CODEC_ZSTD, text, 284, &c, &clen, &err), 0);
    static const uint8_t zstd_magic[4] = {0x28, 0xb5, 0x2f, 0xfd};
    assert_memory_equal(c, zstd_magic, 4);
    assert_true(c[4] & 0x04);
    assert_int_equal(ZSTD_getFrameContentSize(c, clen), 284);
    free(c);
    free(text);
}

/* ---- truncation and corruption ------------------------------------------------------ */

static void test_truncation(void **state) {
    (void)state;
    const size_t n = 1000;
    uint8_t *text = make_text(n);
    for (size_t k = 0; k < COUNT(COMPRESSING); k++) {
        kk_codec_t codec = COMPRESSING[k];
        kk_error_t err = {0};
        uint8_t *c = NULL;
        size_t clen = 0;
        assert_int_equal(kk_compress(codec, text, n, &c, &clen, &err), 0);
        for (size_t cut = 0; cut < clen; cut++) {
            /* An exact-size copy, so ASan catches a read past the end. */
            uint8_t *prefix = malloc(cut > 0 ? cut : 1);
            assert_non_null(prefix);
            memcpy(prefix, c, cut);
            uint8_t *out = NULL;
            size_t out_len = 0;
            int rc = kk_decompress(codec, prefix, cut, MIB, &out, &out_len, &err);
            if (rc == 0)
                fail_msg("%s: prefix of %zu/%zu bytes decoded", kk_codec_name(codec), cut, clen);
            expect_compression_error(rc, &err, out, out_len, kk_codec_name(codec));
            free(prefix);
        }
        /* Bytes after a complete stream are not silently dropped. */
        uint8_t *longer = malloc(clen + 3);
        assert_non_null(longer);
        memcpy(longer, c, clen);
        memcpy(longer + clen, "abc", 3);
        uint8_t *out = NULL;
        size_t out_len = 0;
        int rc = kk_decompress(codec, longer, clen + 3, MIB, &out, &out_len, &err);
        expect_compression_error(rc, &err, out, out_len, kk_codec_name(codec));
        free(longer);
        free(c);
    }
    free(text);
}

/* The xerial framing has no end marker, so a cut between blocks is a shorter valid
 * stream; every other cut must fail. */
static void test_xerial_truncation(void **state) {
    (void)state;
    uint8_t *text = repeat_unit(284);
    const uint8_t *v = V_PY_SNAPPY_XERIAL;
    size_t vlen = sizeof V_PY_SNAPPY_XERIAL;
    size_t b1 = (size_t)v[16] << 24 | (size_t)v[17] << 16 | (size_t)v[18] << 8 | v[19];
    size_t boundary = 16 + 4 + b1;
    for (size_t cut = 0; cut < vlen; cut++) {
        uint8_t *prefix = malloc(cut > 0 ? cut : 1);
        assert_non_null(prefix);
        memcpy(prefix, v, cut);
        if (cut == 16) {
            expect_decodes_to(KK_CODEC_SNAPPY, prefix, cut, MIB, text, 0);
        } else if (cut == boundary) {
            expect_decodes_to(KK_CODEC_SNAPPY, prefix, cut, MIB, text, 150);
        } else {
            kk_error_t err = {0};
            uint8_t *out = NULL;
            size_t out_len = 0;
            int rc = kk_decompress(KK_CODEC_SNAPPY, prefix, cut, MIB, &out, &out_len, &err);
            expect_compression_error(rc, &err, out, out_len, "snappy");
        }
        free(prefix);
    }
    free(text);
}

/* Flip every byte in turn. gzip (CRC-32 of the data) and our zstd frames (content checksum)
 * may only accept a change that leaves the output intact (gzip's unchecked header fields,
 * unused bits). Raw snappy and our lz4 frames (a header checksum only, like Java's: the
 * batch's CRC-32C guards the data) must not crash, and what they accept keeps the declared
 * length. */
static void test_corruption(void **state) {
    (void)state;
    const size_t n = 1000;
    uint8_t *text = make_text(n);
    for (size_t k = 0; k < COUNT(COMPRESSING); k++) {
        kk_codec_t codec = COMPRESSING[k];
        kk_error_t err = {0};
        uint8_t *c = NULL;
        size_t clen = 0;
        assert_int_equal(kk_compress(codec, text, n, &c, &clen, &err), 0);
        size_t accepted = 0;
        for (size_t i = 0; i < clen; i++) {
            c[i] ^= 0xa5;
            uint8_t *out = NULL;
            size_t out_len = 0;
            int rc = kk_decompress(codec, c, clen, MIB, &out, &out_len, &err);
            c[i] ^= 0xa5;
            if (rc != 0) {
                expect_compression_error(rc, &err, out, out_len, kk_codec_name(codec));
                continue;
            }
            accepted++;
            assert_int_equal(out_len, n);
            if (codec != KK_CODEC_SNAPPY && codec != KK_CODEC_LZ4 && memcmp(out, text, n) != 0)
                fail_msg("%s: a flipped byte at %zu/%zu decoded to other data",
                         kk_codec_name(codec), i, clen);
            free(out);
        }
        print_message("%-6s flipped-byte decodes accepted: %zu of %zu\n", kk_codec_name(codec),
                      accepted, clen);
        free(c);
    }
    free(text);
}

/* ---- other implementations ---------------------------------------------------------- */

static void test_foreign_vectors(void **state) {
    (void)state;
    uint8_t *text = repeat_unit(284);
    uint8_t *big = repeat_unit(40000);
    static const struct {
        const char *name;
        kk_codec_t codec;
        const uint8_t *data;
        size_t len;
        size_t plain_len;
    } vecs[] = {
        {"python gzip", KK_CODEC_GZIP, V_PY_GZIP, sizeof V_PY_GZIP, 284},
        {"python zlib", KK_CODEC_GZIP, V_PY_ZLIB, sizeof V_PY_ZLIB, 284},
        {"python gzip, two members", KK_CODEC_GZIP, V_PY_GZIP_TWO_MEMBERS,
         sizeof V_PY_GZIP_TWO_MEMBERS, 284},
        {"gzip cli", KK_CODEC_GZIP, V_CLI_GZIP, sizeof V_CLI_GZIP, 284},
        {"python snappy raw", KK_CODEC_SNAPPY, V_PY_SNAPPY_RAW, sizeof V_PY_SNAPPY_RAW, 284},
        {"python snappy xerial", KK_CODEC_SNAPPY, V_PY_SNAPPY_XERIAL, sizeof V_PY_SNAPPY_XERIAL,
         284},
        {"python lz4 linked", KK_CODEC_LZ4, V_PY_LZ4_DEFAULT, sizeof V_PY_LZ4_DEFAULT, 284},
        {"python lz4 checksums", KK_CODEC_LZ4, V_PY_LZ4_CHECKSUMS, sizeof V_PY_LZ4_CHECKSUMS, 284},
        {"lz4 cli", KK_CODEC_LZ4, V_CLI_LZ4, sizeof V_CLI_LZ4, 284},
        {"python zstd", KK_CODEC_ZSTD, V_PY_ZSTD, sizeof V_PY_ZSTD, 284},
        {"python zstd stream", KK_CODEC_ZSTD, V_PY_ZSTD_STREAM, sizeof V_PY_ZSTD_STREAM, 284},
        {"zstd cli", KK_CODEC_ZSTD, V_CLI_ZSTD, sizeof V_CLI_ZSTD, 284},
        {"java gzip", KK_CODEC_GZIP, V_JAVA_GZIP, sizeof V_JAVA_GZIP, 40000},
        {"java snappy (xerial, 2 blocks)", KK_CODEC_SNAPPY, V_JAVA_SNAPPY, sizeof V_JAVA_SNAPPY,
         40000},
        {"java lz4", KK_CODEC_LZ4, V_JAVA_LZ4, sizeof V_JAVA_LZ4, 40000},
        {"java zstd", KK_CODEC_ZSTD, V_JAVA_ZSTD, sizeof V_JAVA_ZSTD, 40000},
    };
    for (size_t i = 0; i < COUNT(vecs); i++) {
        const uint8_t *want = vecs[i].plain_len == 284 ? text : big;
        print_message("vector: %s\n", vecs[i].name);
        expect_decodes_to(vecs[i].codec, vecs[i].data, vecs[i].len, MIB, want, vecs[i].plain_len);
        /* The cap is exact whether or not the format states the size. */
        expect_decodes_to(vecs[i].codec, vecs[i].data, vecs[i].len, vecs[i].plain_len, want,
                          vecs[i].plain_len);
        kk_error_t err = {0};
        uint8_t *out = NULL;
        size_t out_len = 0;
        int rc = kk_decompress(vecs[i].codec, vecs[i].data, vecs[i].len, vecs[i].plain_len - 1,
                               &out, &out_len, &err);
        expect_compression_error(rc, &err, out, out_len, "cap");
    }
    free(text);
    free(big);
}

/* Concatenated gzip members, LZ4 frames and zstd frames decode to the concatenation. */
static void test_concatenated_frames(void **state) {
    (void)state;
    uint8_t *text = make_text(3000);
    static const kk_codec_t codecs[] = {KK_CODEC_GZIP, KK_CODEC_LZ4, KK_CODEC_ZSTD};
    for (size_t k = 0; k < COUNT(codecs); k++) {
        kk_error_t err = {0};
        uint8_t *a = NULL, *b = NULL;
        size_t alen = 0, blen = 0;
        assert_int_equal(kk_compress(codecs[k], text, 1000, &a, &alen, &err), 0);
        assert_int_equal(kk_compress(codecs[k], text + 1000, 2000, &b, &blen, &err), 0);
        uint8_t *both = malloc(alen + blen);
        assert_non_null(both);
        memcpy(both, a, alen);
        memcpy(both + alen, b, blen);
        expect_decodes_to(codecs[k], both, alen + blen, 3000, text, 3000);
        uint8_t *out = NULL;
        size_t out_len = 0;
        int rc = kk_decompress(codecs[k], both, alen + blen, 2999, &out, &out_len, &err);
        expect_compression_error(rc, &err, out, out_len, "cap");
        free(both);
        free(a);
        free(b);
    }
    free(text);
}

/* ---- decompression bombs ------------------------------------------------------------ */
/* 64 MiB of zeros, compressed in 1 MiB steps so this process never holds 64 MiB. */

#define BOMB_SIZE (64u * MIB)
#define BOMB_CAP ((size_t)MIB)

static long peak_rss_kib(void) {
    struct rusage ru;
    assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
    return ru.ru_maxrss;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Appends to a malloc'ed buffer. */
static void append(uint8_t **buf, size_t *len, const void *p, size_t n) {
    uint8_t *q = realloc(*buf, *len + n + 1);
    assert_non_null(q);
    memcpy(q + *len, p, n);
    *buf = q;
    *len += n;
}

static uint8_t *bomb_gzip(size_t *len) {
    uint8_t *zeros = calloc(1, MIB), chunk[64 * 1024];
    uint8_t *buf = NULL;
    *len = 0;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    for (size_t i = 0; i < BOMB_SIZE / MIB; i++) {
        int last = i + 1 == BOMB_SIZE / MIB;
        zs.next_in = zeros;
        zs.avail_in = MIB;
        int zr;
        do {
            zs.next_out = chunk;
            zs.avail_out = sizeof chunk;
            zr = deflate(&zs, last ? Z_FINISH : Z_NO_FLUSH);
            assert_true(zr == Z_OK || zr == Z_STREAM_END || zr == Z_BUF_ERROR);
            append(&buf, len, chunk, sizeof chunk - zs.avail_out);
        } while (zs.avail_out == 0 || (last && zr != Z_STREAM_END));
    }
    deflateEnd(&zs);
    free(zeros);
    return buf;
}

/* One raw snappy block of 64 MiB zeros, written by hand: a 1-byte literal, then copies of
 * 64 bytes at offset 1 (tag 0xfe, little-endian offset 1), then one of 63 (tag 0xfa). */
static uint8_t *bomb_snappy_raw(size_t *len) {
    size_t copies = (BOMB_SIZE - 1) / 64;
    size_t n = 4 + 2 + copies * 3 + 3;
    uint8_t *p = malloc(n);
    assert_non_null(p);
    size_t i = 0;
    uint32_t v = BOMB_SIZE; /* varint */
    while (v >= 0x80) {
        p[i++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[i++] = (uint8_t)v;
    p[i++] = 0x00; /* literal of 1 byte */
    p[i++] = 0x00;
    for (size_t k = 0; k < copies; k++) {
        p[i++] = 0xfe;
        p[i++] = 0x01;
        p[i++] = 0x00;
    }
    p[i++] = 0xfa;
    p[i++] = 0x01;
    p[i++] = 0x00;
    assert_true(i <= n);
    *len = i;
    assert_int_equal(snappy_validate_compressed_buffer((const char *)p, i), SNAPPY_OK);
    size_t ulen = 0;
    assert_int_equal(snappy_uncompressed_length((const char *)p, i, &ulen), SNAPPY_OK);
    assert_int_equal(ulen, BOMB_SIZE);
    return p;
}

/* The Java client's framing: 64 blocks of 1 MiB. */
static uint8_t *bomb_snappy_xerial(size_t *len) {
    uint8_t *zeros = calloc(1, MIB);
    size_t cap = snappy_max_compressed_length(MIB);
    uint8_t *blk = malloc(cap), *buf = NULL;
    assert_non_null(zeros);
    assert_non_null(blk);
    *len = 0;
    static const uint8_t header[16] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0,
                                       0,    0,   0,   1,   0,   0,   0,   1};
    append(&buf, len, header, sizeof header);
    for (size_t i = 0; i < BOMB_SIZE / MIB; i++) {
        size_t n = cap;
        assert_int_equal(snappy_compress((const char *)zeros, MIB, (char *)blk, &n), SNAPPY_OK);
        uint8_t be[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
        append(&buf, len, be, 4);
        append(&buf, len, blk, n);
    }
    free(blk);
    free(zeros);
    return buf;
}

/* with_size: the frame states 64 MiB (what kk_compress writes); without: like Java. */
static uint8_t *bomb_lz4(size_t *len, int with_size) {
    uint8_t *zeros = calloc(1, MIB), *buf = NULL;
    assert_non_null(zeros);
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof prefs);
    prefs.frameInfo.blockMode = LZ4F_blockIndependent;
    prefs.frameInfo.contentSize = with_size ? BOMB_SIZE : 0;
    size_t cap = LZ4F_compressBound(MIB, &prefs) + LZ4F_HEADER_SIZE_MAX;
    uint8_t *chunk = malloc(cap);
    assert_non_null(chunk);
    LZ4F_cctx *cctx = NULL;
    assert_false(LZ4F_isError(LZ4F_createCompressionContext(&cctx, LZ4F_VERSION)));
    *len = 0;
    size_t n = LZ4F_compressBegin(cctx, chunk, cap, &prefs);
    assert_false(LZ4F_isError(n));
    append(&buf, len, chunk, n);
    for (size_t i = 0; i < BOMB_SIZE / MIB; i++) {
        n = LZ4F_compressUpdate(cctx, chunk, cap, zeros, MIB, NULL);
        assert_false(LZ4F_isError(n));
        append(&buf, len, chunk, n);
    }
    n = LZ4F_compressEnd(cctx, chunk, cap, NULL);
    assert_false(LZ4F_isError(n));
    append(&buf, len, chunk, n);
    LZ4F_freeCompressionContext(cctx);
    free(chunk);
    free(zeros);
    return buf;
}

static uint8_t *bomb_zstd(size_t *len, int with_size) {
    uint8_t *zeros = calloc(1, MIB), chunk[64 * 1024], *buf = NULL;
    assert_non_null(zeros);
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    assert_non_null(cctx);
    if (with_size)
        assert_false(ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(cctx, BOMB_SIZE)));
    *len = 0;
    for (size_t i = 0; i < BOMB_SIZE / MIB; i++) {
        ZSTD_EndDirective end = i + 1 == BOMB_SIZE / MIB ? ZSTD_e_end : ZSTD_e_continue;
        ZSTD_inBuffer in = {zeros, MIB, 0};
        size_t left;
        do {
            ZSTD_outBuffer out = {chunk, sizeof chunk, 0};
            left = ZSTD_compressStream2(cctx, &out, &in, end);
            assert_false(ZSTD_isError(left));
            append(&buf, len, chunk, out.pos);
        } while (in.pos < in.size || (end == ZSTD_e_end && left != 0));
    }
    unsigned long long fcs = ZSTD_getFrameContentSize(buf, *len);
    assert_true(with_size ? fcs == BOMB_SIZE : fcs == ZSTD_CONTENTSIZE_UNKNOWN);
    ZSTD_freeCCtx(cctx);
    free(zeros);
    return buf;
}

static void check_bomb(const char *what, kk_codec_t codec, uint8_t *bomb, size_t len) {
    long rss_before = peak_rss_kib();
    double t0 = now_ms();
    kk_error_t err = {0};
    uint8_t *out = NULL;
    size_t out_len = 0;
    int rc = kk_decompress(codec, bomb, len, BOMB_CAP, &out, &out_len, &err);
    double ms = now_ms() - t0;
    long grown = peak_rss_kib() - rss_before;
    expect_compression_error(rc, &err, out, out_len, "exceeds the cap of 1048576 bytes");
    print_message("bomb %-22s %8zu B compressed: refused in %.2f ms, peak RSS +%ld KiB (%s)\n",
                  what, len, ms, grown, err.message);
    /* Decoding 64 MiB would have raised the peak by more than 64 MiB. */
    assert_true(grown < 16 * 1024);
    free(bomb);
}

static void test_bomb(void **state) {
    (void)state;
    size_t len;
    uint8_t *b;
    b = bomb_gzip(&len);
    check_bomb("gzip", KK_CODEC_GZIP, b, len);
    b = bomb_snappy_raw(&len);
    check_bomb("snappy raw", KK_CODEC_SNAPPY, b, len);
    b = bomb_snappy_xerial(&len);
    check_bomb("snappy xerial", KK_CODEC_SNAPPY, b, len);
    b = bomb_lz4(&len, 1);
    check_bomb("lz4 (size stated)", KK_CODEC_LZ4, b, len);
    b = bomb_lz4(&len, 0);
    check_bomb("lz4 (no size)", KK_CODEC_LZ4, b, len);
    b = bomb_zstd(&len, 1);
    check_bomb("zstd (size stated)", KK_CODEC_ZSTD, b, len);
    b = bomb_zstd(&len, 0);
    check_bomb("zstd (no size)", KK_CODEC_ZSTD, b, len);
}

/* A snappy header claiming far more than its bytes can hold is refused before any
 * allocation, even with no cap. */
static void test_snappy_impossible_length(void **state) {
    (void)state;
    const uint8_t lie[6] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x00}; /* 4 GiB - 1 from 6 bytes */
    kk_error_t err = {0};
    uint8_t *out = NULL;
    size_t out_len = 0;
    int rc = kk_decompress(KK_CODEC_SNAPPY, lie, sizeof lie, SIZE_MAX, &out, &out_len, &err);
    expect_compression_error(rc, &err, out, out_len, "snappy: corrupt");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        /* First, while this process's peak RSS is still small. */
        cmocka_unit_test(test_bomb),
        cmocka_unit_test(test_codec_names),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_roundtrip_none),
        cmocka_unit_test(test_roundtrip_gzip),
        cmocka_unit_test(test_roundtrip_snappy),
        cmocka_unit_test(test_roundtrip_lz4),
        cmocka_unit_test(test_roundtrip_zstd),
        cmocka_unit_test(test_compress_append),
        cmocka_unit_test(test_wire_formats),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_xerial_truncation),
        cmocka_unit_test(test_corruption),
        cmocka_unit_test(test_foreign_vectors),
        cmocka_unit_test(test_concatenated_frames),
        cmocka_unit_test(test_snappy_impossible_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
