/* Golden responses of tests/unit/test_protocol_group.c. */
#define main unit_test_main_protocol_group
#include "../../unit/test_protocol_group.c"
#undef main
#include "seeds.h"

void seeds_protocol_group(void) {
    const char *h = "fuzz_protocol_group";
    SEED(h, "find_v0", find_v0, 0, 0);
    SEED(h, "find_v1", find_v1, 0, 1);
    SEED(h, "find_v3", find_v3, 0, 3);
    SEED(h, "join_v0", join_v0, 1, 0);
    SEED(h, "join_v5", join_v5, 1, 5);
    SEED(h, "join_v7", join_v7, 1, 7);
    SEED(h, "join_v9", join_v9, 1, 9);
    SEED(h, "sync_v0", sync_v0, 2, 0);
    SEED(h, "sync_v1", sync_v1, 2, 1);
    SEED(h, "sync_v4", sync_v4, 2, 4);
    SEED(h, "sync_v5", sync_v5, 2, 5);
    SEED(h, "heartbeat_v0", heartbeat_v0, 3, 0);
    SEED(h, "heartbeat_v1", heartbeat_v1, 3, 1);
    SEED(h, "heartbeat_v4", heartbeat_v4, 3, 4);
    SEED(h, "leave_v0", leave_v0, 4, 0);
    SEED(h, "leave_v3", leave_v3, 4, 3);
    SEED(h, "leave_v4", leave_v4, 4, 4);
    SEED(h, "commit_v2", commit_v2, 5, 2);
    SEED(h, "commit_v3", commit_v3, 5, 3);
    SEED(h, "commit_v8", commit_v8, 5, 8);
    SEED(h, "offset_fetch_v1", fetch_v1, 6, 1);
    SEED(h, "offset_fetch_v2", fetch_v2, 6, 2);
    SEED(h, "offset_fetch_v5", fetch_v5, 6, 5);
    SEED(h, "offset_fetch_v6", fetch_v6, 6, 6);
}
