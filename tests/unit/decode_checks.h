/*
 * Checks shared by the response-decoder tests: every proper prefix of a valid response, and
 * chosen corruptions of one, must be rejected as KK_ERR_MALFORMED. Each decode runs on an
 * exact-size heap copy so ASan reports any read past the end. Include after <cmocka.h>.
 */
#ifndef KAFKETTE_TEST_DECODE_CHECKS_H
#define KAFKETTE_TEST_DECODE_CHECKS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kafkette.h"

/* Decodes bytes as the response kind `which` (a test file's own enum) at `version`. */
typedef int (*decode_case_fn)(int which, const uint8_t *bytes, size_t len, int16_t version,
                              kk_error_t *err);

typedef struct decode_case {
    int which;
    const uint8_t *bytes;
    size_t len;
    int16_t version;
} decode_case_t;

static inline int decode_heap_copy(decode_case_fn decode, int which, const uint8_t *bytes,
                                   size_t len, int16_t version, kk_error_t *err) {
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, bytes, len);
    int rc = decode(which, copy, len, version, err);
    free(copy);
    return rc;
}

/* Each case decodes whole, and every proper prefix of it fails naming the response. */
static inline void check_every_prefix_malformed(decode_case_fn decode, const decode_case_t *cases,
                                                size_t count) {
    for (size_t c = 0; c < count; c++) {
        kk_error_t err;
        assert_int_equal(
            decode(cases[c].which, cases[c].bytes, cases[c].len, cases[c].version, &err), KK_OK);
        for (size_t cut = 0; cut < cases[c].len; cut++) {
            int rc = decode_heap_copy(decode, cases[c].which, cases[c].bytes, cut, cases[c].version,
                                      &err);
            if (rc != KK_ERR_MALFORMED)
                fail_msg("case %zu cut %zu: rc %d", c, cut, rc);
            assert_non_null(strstr(err.message, "response"));
        }
    }
}

/* bytes with bytes[offset] = value must be rejected as malformed. */
static inline void check_corrupt_malformed(decode_case_fn decode, int which, const uint8_t *bytes,
                                           size_t len, int16_t version, size_t offset,
                                           uint8_t value) {
    uint8_t *copy = malloc(len);
    assert_non_null(copy);
    memcpy(copy, bytes, len);
    copy[offset] = value;
    kk_error_t err;
    int rc = decode(which, copy, len, version, &err);
    free(copy);
    if (rc != KK_ERR_MALFORMED)
        fail_msg("v%d byte %zu = 0x%02x: rc %d", version, offset, value, rc);
}

#endif /* KAFKETTE_TEST_DECODE_CHECKS_H */
