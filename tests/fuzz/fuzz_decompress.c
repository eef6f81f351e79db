/* One codec's decompressor (compression.c), built once per codec (KK_FUZZ_CODEC). Input:
 * [output cap selector][compressed bytes...]. A successful result must fit the cap. */
#include "compression.h"
#include "fuzz_common.h"

#ifndef KK_FUZZ_CODEC
#error "build with -DKK_FUZZ_CODEC=<kk_codec_t value>"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_input_t in = {data, size};
    /* caps from 1 byte to 16 MiB, so that both small and large outputs are tried */
    size_t cap = (size_t)1 << (fuzz_take_byte(&in) % 25);
    uint8_t *src = fuzz_copy(&in);
    if (!src)
        return 0;
    uint8_t *out = NULL;
    size_t out_len = 0;
    kk_error_t err;
    if (kk_decompress((kk_codec_t)KK_FUZZ_CODEC, src, in.size, cap, &out, &out_len, &err) ==
        KK_OK) {
        if (out_len > cap)
            abort();
        free(out);
    }
    free(src);
    return 0;
}
