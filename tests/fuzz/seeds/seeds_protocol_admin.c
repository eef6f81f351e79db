/* Golden responses of tests/unit/test_protocol_admin.c. */
#define main unit_test_main_protocol_admin
#include "../../unit/test_protocol_admin.c"
#undef main
#include "seeds.h"

void seeds_protocol_admin(void) {
    SEED("fuzz_protocol_admin", "create_v0", create_v0, 0, 0);
    SEED("fuzz_protocol_admin", "create_v2", create_v2, 0, 2);
    SEED("fuzz_protocol_admin", "create_v5", create_v5, 0, 5);
    SEED("fuzz_protocol_admin", "create_v7", create_v7, 0, 7);
    SEED("fuzz_protocol_admin", "delete_v0", delete_v0, 1, 0);
    SEED("fuzz_protocol_admin", "delete_v1", delete_v1, 1, 1);
    SEED("fuzz_protocol_admin", "delete_v5", delete_v5, 1, 5);
    SEED("fuzz_protocol_admin", "delete_v6", delete_v6, 1, 6);
    SEED("fuzz_protocol_admin", "records_v1", records_v1, 2, 1);
    SEED("fuzz_protocol_admin", "records_v2", records_v2, 2, 2);
}
