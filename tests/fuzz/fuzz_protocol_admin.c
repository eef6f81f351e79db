/* Responses of the admin APIs (protocol_admin.c): CreateTopics, DeleteTopics, DeleteRecords.
 * Input: [api][version][body...]. */
#include "fuzz_common.h"
#include "protocol_admin.h"

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
    case 0:
    case 1: {
        kk_topic_results_t res;
        int rc = api % 3 == 0 ? kk_decode_create_topics_response(&r, version, &res, &err)
                              : kk_decode_delete_topics_response(&r, version, &res, &err);
        if (rc == KK_OK)
            kk_topic_results_free(&res);
        break;
    }
    default: {
        int16_t code;
        int64_t low;
        kk_decode_delete_records_response(&r, version, &code, &low, &err);
        break;
    }
    }
    free(body);
    return 0;
}
