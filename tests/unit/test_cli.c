/* kk_cli_main as a host program calls it: repeated calls give the same answers, and the
 * caller's SIGINT handler is back afterwards. (The command against a broker: script/test.d/25-cli.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <signal.h>

#include "kafkette_cli.h"

static void host_handler(int sig) { (void)sig; }

static int run(int argc, const char **argv) { return kk_cli_main(argc, (char **)argv); }

static void test_repeated_calls_and_signal_handler(void **state) {
    (void)state;
    struct sigaction mine, seen;
    memset(&mine, 0, sizeof(mine));
    mine.sa_handler = host_handler;
    sigemptyset(&mine.sa_mask);
    assert_int_equal(sigaction(SIGINT, &mine, NULL), 0);

    const char *version[] = {"kafkette", "--version"};
    const char *bad_option[] = {"kafkette", "consume", "-t", "x", "--no-such-option"};
    const char *bad_x[] = {"kafkette", "topics", "-b", "127.0.0.1:1", "-X", "no_such_option=1"};
    const char *help[] = {"kafkette", "groups", "--help"};
    const char *unknown[] = {"kafkette", "frobnicate"};
    for (int round = 0; round < 3; round++) {
        assert_int_equal(run(2, version), 0);
        assert_int_equal(run(5, bad_option), 2);
        assert_int_equal(run(6, bad_x), 2);
        assert_int_equal(run(3, help), 0);
        assert_int_equal(run(2, unknown), 2);
        assert_int_equal(sigaction(SIGINT, NULL, &seen), 0);
        assert_ptr_equal(seen.sa_handler, host_handler);
    }
}

static void test_unreachable_broker_fails_without_a_signal(void **state) {
    (void)state;
    const char *cluster[] = {"kafkette", "cluster", "-b", "127.0.0.1:1"};
    assert_int_equal(run(4, cluster), 1);
    assert_int_equal(run(4, cluster), 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repeated_calls_and_signal_handler),
        cmocka_unit_test(test_unreachable_broker_fails_without_a_signal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
