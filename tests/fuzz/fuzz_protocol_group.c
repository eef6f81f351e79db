/* Responses of the consumer group APIs (protocol_group.c): FindCoordinator, JoinGroup,
 * SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch. Input: [api][version][body...]. */
#include "fuzz_common.h"
#include "protocol_group.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_input_t in = {data, size};
    uint8_t api = fuzz_take_byte(&in);
    int16_t version = (int16_t)(fuzz_take_byte(&in) % 10);
    uint8_t *body = fuzz_copy(&in);
    if (!body)
        return 0;
    kk_reader_t r;
    kk_error_t err;
    kk_reader_init(&r, body, in.size);
    switch (api % 7) {
    case 0: {
        kk_coordinator_result_t res;
        if (kk_decode_find_coordinator_response(&r, version, &res, &err) == KK_OK)
            kk_coordinator_result_free(&res);
        break;
    }
    case 1: {
        kk_join_group_result_t res;
        if (kk_decode_join_group_response(&r, version, &res, &err) == KK_OK)
            kk_join_group_result_free(&res);
        break;
    }
    case 2: {
        kk_sync_group_result_t res;
        if (kk_decode_sync_group_response(&r, version, &res, &err) == KK_OK)
            kk_sync_group_result_free(&res);
        break;
    }
    case 3: {
        int16_t code;
        kk_decode_heartbeat_response(&r, version, &code, &err);
        break;
    }
    case 4: {
        int16_t code, member_code;
        kk_decode_leave_group_response(&r, version, &code, &member_code, &err);
        break;
    }
    default: {
        kk_partition_offsets_t res;
        int rc = api % 7 == 5 ? kk_decode_offset_commit_response(&r, version, &res, &err)
                              : kk_decode_offset_fetch_response(&r, version, &res, &err);
        if (rc == KK_OK)
            kk_partition_offsets_free(&res);
        break;
    }
    }
    free(body);
    return 0;
}
