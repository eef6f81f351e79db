/* Produce and InitProducerId responses (protocol_produce.c). Input: [version][body...]; the
 * version byte's high bit picks InitProducerId. */
#include "fuzz_common.h"
#include "protocol_produce.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_input_t in = {data, size};
    uint8_t first = fuzz_take_byte(&in);
    int16_t version = (int16_t)((first & 0x7f) % 16);
    uint8_t *body = fuzz_copy(&in);
    if (!body)
        return 0;
    kk_reader_t r;
    kk_error_t err;
    kk_produce_response_t resp;
    kk_reader_init(&r, body, in.size);
    if (first & 0x80) {
        kk_init_producer_id_response_t ipid;
        kk_decode_init_producer_id_response(&r, (int16_t)(version % 5), &ipid, &err);
    } else if (kk_decode_produce_response(&r, version, &resp, &err) == KK_OK) {
        kk_produce_response_free(&resp);
    }
    free(body);
    return 0;
}
