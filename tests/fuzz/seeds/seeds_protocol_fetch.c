/* Golden responses of tests/unit/test_protocol_fetch.c (topic "t"; the partition each test
 * asks for). */
#define main unit_test_main_protocol_fetch
#include "../../unit/test_protocol_fetch.c"
#undef main
#include "seeds.h"

void seeds_protocol_fetch(void) {
    SEED("fuzz_protocol_fetch", "lo_v0", lo_v0, 0, 0, 2);
    SEED("fuzz_protocol_fetch", "lo_v0_empty_offsets", lo_v0_empty_offsets, 0, 0, 2);
    SEED("fuzz_protocol_fetch", "lo_v1_error", lo_v1_error, 0, 1, 2);
    SEED("fuzz_protocol_fetch", "lo_v4", lo_v4, 0, 4, 2);
    SEED("fuzz_protocol_fetch", "lo_v6", lo_v6, 0, 6, 2);
    SEED("fuzz_protocol_fetch", "fetch_v0", fetch_v0, 1, 0, 2);
    SEED("fuzz_protocol_fetch", "fetch_v1_null_records", fetch_v1_null_records, 1, 1, 2);
    SEED("fuzz_protocol_fetch", "fetch_v4", fetch_v4, 3, 4, 2);
    SEED("fuzz_protocol_fetch", "fetch_v4_p1", fetch_v4, 3, 4, 1);
    SEED("fuzz_protocol_fetch", "fetch_v5", fetch_v5, 1, 5, 2);
    SEED("fuzz_protocol_fetch", "fetch_v7_top_error", fetch_v7_top_error, 1, 7, 2);
    SEED("fuzz_protocol_fetch", "fetch_v7_top_error_with_partition",
         fetch_v7_top_error_with_partition, 1, 7, 2);
    SEED("fuzz_protocol_fetch", "fetch_v10", fetch_v10, 1, 10, 2);
    SEED("fuzz_protocol_fetch", "fetch_v11", fetch_v11, 1, 11, 2);
    SEED("fuzz_protocol_fetch", "fetch_v12", fetch_v12, 1, 12, 2);
    SEED("fuzz_protocol_fetch", "fetch_v12_p0", fetch_v12, 1, 12, 0);
}
