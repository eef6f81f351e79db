#include "broker_env.h"

#include "kafkette.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef KAFKETTE_SOURCE_DIR
#error "KAFKETTE_SOURCE_DIR must point at the source tree"
#endif

void kk_test_skip_without_broker(const char *fmt, ...) {
    const char *require = getenv("KAFKETTE_REQUIRE_BROKER");
    bool required = require && strcmp(require, "1") == 0;
    char reason[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n*** %s: %s\n*** %s\n\n", required ? "FAILED" : "SKIPPED", reason,
            required ? "KAFKETTE_REQUIRE_BROKER=1: a missing broker is a failure here."
                     : "script/test starts every broker the C suites need; `script/kafka start` "
                       "starts the default one.");
    fflush(stdout);
    exit(required ? 2 : KK_TEST_SKIP_CODE);
}

const char *kk_test_bootstrap(void) {
    static char bootstrap[1024];
    if (bootstrap[0])
        return bootstrap;
    const char *env = getenv("KAFKETTE_BOOTSTRAP");
    if (env && env[0]) {
        snprintf(bootstrap, sizeof(bootstrap), "%s", env);
        return bootstrap;
    }
    const char *path = KAFKETTE_SOURCE_DIR "/tests/.kafka/bootstrap";
    FILE *f = fopen(path, "r");
    if (!f || !fgets(bootstrap, sizeof(bootstrap), f)) {
        if (f)
            fclose(f);
        bootstrap[0] = '\0';
        kk_test_skip_without_broker("no Kafka broker: KAFKETTE_BOOTSTRAP is unset and %s is %s",
                                    path, f ? "empty" : "missing");
    }
    fclose(f);
    bootstrap[strcspn(bootstrap, "\r\n")] = '\0';
    return bootstrap;
}

const char *kk_test_unique_topic(const char *prefix) {
    static char names[8][128];
    static int next;
    char *name = names[next++ % 8];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(name, 128, "%s-%ld-%ld-%d", prefix, (long)getpid(), (long)ts.tv_sec,
             (int)(ts.tv_nsec / 1000) % 1000000);
    return name;
}

void kk_test_create_topic(const char *topic, int partitions) {
    kk_client_config_t cfg;
    kk_client_config_init(&cfg);
    cfg.bootstrap_servers = kk_test_bootstrap();
    kk_error_t err;
    kk_client_t *client = kk_client_new(&cfg, &err);
    if (!client ||
        kk_client_create_topic(client, topic, partitions, 1, NULL, 0, 30000, &err) != KK_OK) {
        fprintf(stderr, "create topic %s: %s\n", topic, err.message);
        exit(1);
    }
    kk_client_free(client);
}
