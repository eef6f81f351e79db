/* Golden responses of tests/unit/test_protocol.c (its main renamed away). */
#define main unit_test_main_protocol
#include "../../unit/test_protocol.c"
#undef main
#include "seeds.h"

void seeds_protocol(void) {
    SEED("fuzz_protocol", "api_versions_v3", api_versions_v3, 0, 3);
    SEED("fuzz_protocol", "metadata_v1", metadata_v1, 1, 1);
    SEED("fuzz_protocol", "metadata_v9", metadata_v9, 1, 9);
}
