/* A few compressed bytes must not make the decompressors allocate what their headers claim:
 * a zstd frame's window, a zstd or lz4 frame's content size. The largest single allocation
 * during each call is measured by wrapping malloc, calloc and realloc (glibc's __libc_*
 * functions do the work), which also sees what libzstd and liblz4 allocate. Under
 * AddressSanitizer, whose allocator this would bypass, the measurements are skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <lz4frame.h>

#include "compression.h"

#if defined(__SANITIZE_ADDRESS__)
#define MEASURED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MEASURED 0
#endif
#endif
#ifndef MEASURED
#define MEASURED 1
#endif

static size_t largest; /* the largest request since reset */

#if MEASURED
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

void *malloc(size_t n) {
    if (n > largest)
        largest = n;
    return __libc_malloc(n);
}

void *calloc(size_t count, size_t n) {
    if (n && count <= SIZE_MAX / n && count * n > largest)
        largest = count * n;
    return __libc_calloc(count, n);
}

void *realloc(void *p, size_t n) {
    if (n > largest)
        largest = n;
    return __libc_realloc(p, n);
}
#endif

/* Decompresses and returns the largest allocation made meanwhile. */
static size_t largest_allocation(kk_codec_t codec, const uint8_t *src, size_t len, size_t cap,
                                 int *rc) {
    uint8_t *out = NULL;
    size_t out_len = 0;
    kk_error_t err;
    largest = 0;
    *rc = kk_decompress(codec, src, len, cap, &out, &out_len, &err);
    size_t seen = largest;
    free(out);
    print_message("%s, %zu input bytes, cap %zu: largest allocation %zu bytes (%s)\n",
                  kk_codec_name(codec), len, cap, seen, *rc == KK_OK ? "ok" : err.message);
    return seen;
}

/* 10 bytes: a zstd frame without a content size declaring a 128 MiB window, holding one RLE
 * block of one byte. */
static const uint8_t zstd_big_window[] = {
    0x28,    0xb5, 0x2f, 0xfd, /* magic */
    0x00,                      /* no content size, not single-segment, no checksum */
    17 << 3,                   /* window descriptor: 2^(10 + 17) = 128 MiB */
    0x0b,    0x00, 0x00,       /* last block, RLE, size 1 */
    'x',
};

static void test_zstd_window_from_cap(void **state) {
    (void)state;
    if (!MEASURED)
        skip();
    int rc;
    size_t seen =
        largest_allocation(KK_CODEC_ZSTD, zstd_big_window, sizeof(zstd_big_window), 100, &rc);
    assert_int_equal(rc, KK_ERR_COMPRESSION); /* the frame needs more than the cap allows */
    assert_true(seen < ((size_t)16 << 20));
    /* the same frame with a cap that does allow such a window decodes */
    uint8_t *out = NULL;
    size_t out_len = 0;
    kk_error_t err;
    assert_int_equal(kk_decompress(KK_CODEC_ZSTD, zstd_big_window, sizeof(zstd_big_window),
                                   (size_t)128 << 20, &out, &out_len, &err),
                     KK_OK);
    assert_int_equal(out_len, 1);
    free(out);
}

/* A zstd frame declaring 200 MiB of content, holding one raw byte. */
static const uint8_t zstd_big_content[] = {
    0x28, 0xb5, 0x2f, 0xfd,                         /* magic */
    0xc0,                                           /* 8-byte content size, not single-segment */
    0x00,                                           /* window 1 KiB */
    0x00, 0x00, 0x80, 0x0c, 0x00, 0x00, 0x00, 0x00, /* 200 MiB, little-endian */
    0x09, 0x00, 0x00,                               /* last block, raw, size 1 */
    'x',
};

static void test_zstd_content_size_not_trusted(void **state) {
    (void)state;
    if (!MEASURED)
        skip();
    int rc;
    size_t seen = largest_allocation(KK_CODEC_ZSTD, zstd_big_content, sizeof(zstd_big_content),
                                     (size_t)256 << 20, &rc);
    assert_int_not_equal(rc, KK_OK); /* 1 byte is not 200 MiB */
    assert_true(seen < ((size_t)16 << 20));
}

/* An lz4 frame declaring 200 MiB of content, holding 10 bytes. */
static void test_lz4_content_size_not_trusted(void **state) {
    (void)state;
    if (!MEASURED)
        skip();
    LZ4F_cctx *cctx = NULL;
    assert_false(LZ4F_isError(LZ4F_createCompressionContext(&cctx, LZ4F_VERSION)));
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof(prefs));
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    prefs.frameInfo.blockMode = LZ4F_blockIndependent;
    prefs.frameInfo.contentSize = (unsigned long long)200 << 20;
    uint8_t frame[1024];
    size_t n = LZ4F_compressBegin(cctx, frame, sizeof(frame), &prefs);
    assert_false(LZ4F_isError(n));
    size_t m = LZ4F_compressUpdate(cctx, frame + n, sizeof(frame) - n, "0123456789", 10, NULL);
    assert_false(LZ4F_isError(m));
    n += m;
    m = LZ4F_compressEnd(cctx, frame + n, sizeof(frame) - n, NULL);
    if (LZ4F_isError(m)) { /* liblz4 may refuse to end a frame short of its stated size */
        LZ4F_freeCompressionContext(cctx);
        m = 4;
        memset(frame + n, 0, 4); /* the end mark */
    } else {
        LZ4F_freeCompressionContext(cctx);
    }
    n += m;
    int rc;
    size_t seen = largest_allocation(KK_CODEC_LZ4, frame, n, (size_t)256 << 20, &rc);
    assert_int_not_equal(rc, KK_OK); /* 10 bytes are not 200 MiB */
    assert_true(seen < ((size_t)16 << 20));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zstd_window_from_cap),
        cmocka_unit_test(test_zstd_content_size_not_trusted),
        cmocka_unit_test(test_lz4_content_size_not_trusted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
