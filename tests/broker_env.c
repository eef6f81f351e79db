#include "broker_env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef KAFKETTE_SOURCE_DIR
#error "KAFKETTE_SOURCE_DIR must point at the source tree"
#endif

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
        fprintf(stderr,
                "\n*** No Kafka broker: KAFKETTE_BOOTSTRAP is unset and %s is missing.\n"
                "*** Start one with `script/kafka start` (script/test does this itself).\n\n",
                path);
        exit(2);
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
