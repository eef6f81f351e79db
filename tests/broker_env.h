/* Where integration tests find the broker that script/kafka started. */
#ifndef KK_TEST_BROKER_ENV_H
#define KK_TEST_BROKER_ENV_H

/* The exit code ctest counts as "skipped" (SKIP_RETURN_CODE in CMakeLists.txt). */
#define KK_TEST_SKIP_CODE 77

/* Ends the test program because it was not given the broker it needs, printing the reason
 * loudly: skipped (KK_TEST_SKIP_CODE), so that a plain `ctest` passes or skips without a
 * broker; failed instead when KAFKETTE_REQUIRE_BROKER=1, which script/test sets, so a suite
 * that was meant to run never passes by skipping. */
void kk_test_skip_without_broker(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/* The bootstrap list from $KAFKETTE_BOOTSTRAP, else from tests/.kafka/bootstrap (written by
 * `script/kafka start`). When neither exists, ends the program through
 * kk_test_skip_without_broker: an integration test never passes without a broker. Call it at
 * the start of main, before any test allocates. */
const char *kk_test_bootstrap(void);

/* A topic name unique to this process, so reruns never see old data. */
const char *kk_test_unique_topic(const char *prefix);

/* Creates topic with partitions (replication 1) on the broker of kk_test_bootstrap(), waiting
 * up to 30 s for it; a failure ends the program (exit 1) with the broker's reason. */
void kk_test_create_topic(const char *topic, int partitions);

#endif
