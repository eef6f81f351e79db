/* Shared pieces of the libFuzzer harnesses (tests/fuzz/README.md). Each harness decodes
 * untrusted bytes the way the library does and frees what it got; the sanitizers and
 * libFuzzer's -malloc_limit_mb / -rss_limit_mb find the rest. */
#ifndef KK_FUZZ_COMMON_H
#define KK_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input's first bytes choose what to decode; the rest is the body. */
typedef struct fuzz_input {
    const uint8_t *data;
    size_t size;
} fuzz_input_t;

static inline uint8_t fuzz_take_byte(fuzz_input_t *in) {
    if (in->size == 0)
        return 0;
    in->size--;
    return *in->data++;
}

/* A heap copy of the body, so that reads past its end are caught even for bodies that sit
 * inside the fuzzer's larger buffer. */
static inline uint8_t *fuzz_copy(const fuzz_input_t *in) {
    uint8_t *copy = malloc(in->size ? in->size : 1);
    if (copy && in->size)
        memcpy(copy, in->data, in->size);
    return copy;
}

#endif
