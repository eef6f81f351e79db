/* Responses of the core APIs (protocol.c): ApiVersions, Metadata, and the response header.
 * Input: [api][version][body...]. */
#include "fuzz_common.h"
#include "protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_input_t in = {data, size};
    uint8_t api = fuzz_take_byte(&in);
    int16_t version = (int16_t)(fuzz_take_byte(&in) % 16);
    uint8_t *body = fuzz_copy(&in);
    if (!body)
        return 0;
    kk_reader_t r;
    kk_error_t err;
    kk_reader_init(&r, body, in.size);
    switch (api % 3) {
    case 0: {
        kk_api_versions_response_t resp;
        if (kk_decode_api_versions_response(&r, version, &resp, &err) == KK_OK)
            kk_api_versions_response_free(&resp);
        break;
    }
    case 1: {
        kk_metadata_t *md = NULL;
        if (kk_decode_metadata_response(&r, version, &md, &err) == KK_OK) {
            kk_metadata_topic(md, "t");
            kk_metadata_free(md);
        }
        break;
    }
    default:
        kk_decode_response_header(&r, version % 2, 7, &err);
        break;
    }
    free(body);
    return 0;
}
