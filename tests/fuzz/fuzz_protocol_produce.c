/* Produce responses (protocol_produce.c). Input: [version][body...]. */
#include "fuzz_common.h"
#include "protocol_produce.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_input_t in = {data, size};
    int16_t version = (int16_t)(fuzz_take_byte(&in) % 16);
    uint8_t *body = fuzz_copy(&in);
    if (!body)
        return 0;
    kk_reader_t r;
    kk_error_t err;
    kk_produce_response_t resp;
    kk_reader_init(&r, body, in.size);
    if (kk_decode_produce_response(&r, version, &resp, &err) == KK_OK)
        kk_produce_response_free(&resp);
    free(body);
    return 0;
}
