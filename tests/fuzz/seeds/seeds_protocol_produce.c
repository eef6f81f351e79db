/* Golden responses of tests/unit/test_protocol_produce.c. */
#define main unit_test_main_protocol_produce
#include "../../unit/test_protocol_produce.c"
#undef main
#include "seeds.h"

void seeds_protocol_produce(void) {
    SEED("fuzz_protocol_produce", "resp_v0", resp_v0, 0);
    SEED("fuzz_protocol_produce", "resp_v2", resp_v2, 2);
    SEED("fuzz_protocol_produce", "resp_v5", resp_v5, 5);
    SEED("fuzz_protocol_produce", "resp_v8", resp_v8, 8);
    SEED("fuzz_protocol_produce", "resp_v10", resp_v10, 10);
}
