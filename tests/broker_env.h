/* Where integration tests find the broker that script/kafka started. */
#ifndef KK_TEST_BROKER_ENV_H
#define KK_TEST_BROKER_ENV_H

/* The bootstrap list from $KAFKETTE_BOOTSTRAP, else from tests/.kafka/bootstrap (written by
 * `script/kafka start`). Aborts the test program with a clear message when neither exists:
 * an integration test never passes silently without a broker. */
const char *kk_test_bootstrap(void);

/* A topic name unique to this process, so reruns never see old data. */
const char *kk_test_unique_topic(const char *prefix);

#endif
