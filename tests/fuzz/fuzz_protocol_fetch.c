/* ListOffsets and Fetch responses (protocol_fetch.c), and the records of the partition a
 * Fetch response carries, decoded as the consumer does. Input: [api][version][partition of
 * topic "t"][body...]. */
#include "fuzz_common.h"
#include "protocol_fetch.h"
#include "record_batch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_input_t in = {data, size};
    uint8_t api = fuzz_take_byte(&in);
    int16_t version = (int16_t)(fuzz_take_byte(&in) % 18);
    int32_t partition = fuzz_take_byte(&in) % 4;
    uint8_t *body = fuzz_copy(&in);
    if (!body)
        return 0;
    kk_reader_t r;
    kk_error_t err;
    kk_reader_init(&r, body, in.size);
    if (api % 2 == 0) {
        kk_list_offsets_result_t res;
        kk_decode_list_offsets_response(&r, version, "t", partition, &res, &err);
    } else {
        kk_fetch_partition_result_t res;
        if (kk_decode_fetch_response(&r, version, "t", partition, &res, &err) == KK_OK) {
            kk_record_set_t set;
            kk_record_set_init(&set);
            kk_decode_options_t opts = {.min_offset = 0,
                                        .read_committed = (api & 2) != 0,
                                        .aborted = res.aborted,
                                        .aborted_count = res.aborted_count,
                                        .max_decompressed = 1 << 20};
            if (res.records)
                kk_records_decode(&set, res.records, res.records_len, &opts, &err);
            kk_record_set_clear(&set);
            kk_fetch_partition_result_free(&res);
        }
    }
    free(body);
    return 0;
}
