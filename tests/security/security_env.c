#include "security_env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef KAFKETTE_SOURCE_DIR
#error "KAFKETTE_SOURCE_DIR must point at the source tree"
#endif

#define MAX_ENTRIES 64

static char entries[MAX_ENTRIES][2][1024];
static int entry_count = -1;

static void load_env_file(void) {
    entry_count = 0;
    const char *dir = getenv("KAFKETTE_KAFKA_DIR");
    char path[1024];
    snprintf(path, sizeof(path), "%s/env",
             dir && dir[0] ? dir : KAFKETTE_SOURCE_DIR "/tests/.kafka-security");
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[1000];
    while (entry_count < MAX_ENTRIES && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        snprintf(entries[entry_count][0], sizeof(entries[0][0]), "%s", line);
        snprintf(entries[entry_count][1], sizeof(entries[0][1]), "%s", eq + 1);
        entry_count++;
    }
    fclose(f);
}

const char *kk_sec_env(const char *name) {
    const char *v = getenv(name);
    if (v && v[0])
        return v;
    if (entry_count < 0)
        load_env_file();
    for (int i = 0; i < entry_count; i++)
        if (strcmp(entries[i][0], name) == 0)
            return entries[i][1];
    fprintf(stderr,
            "\n*** %s is not set and not in the secured broker's env file.\n"
            "*** Start one with `KAFKETTE_KAFKA_DIR=tests/.kafka-security script/kafka start "
            "--security` (script/test.d/35-security does this itself).\n\n",
            name);
    exit(2);
}

kk_config_t *kk_sec_config(kk_config_kind_t kind, const char *bootstrap, const char *const *pairs) {
    kk_config_t *c = kk_config_new(kind);
    kk_error_t err;
    if (kk_config_set(c, "bootstrap_servers", kk_sec_env(bootstrap), &err) != KK_OK ||
        kk_config_set_int(c, "connect_timeout_ms", 5000, &err) != KK_OK ||
        kk_config_set_int(c, "request_timeout_ms", 10000, &err) != KK_OK) {
        fprintf(stderr, "config: %s\n", err.message);
        abort();
    }
    for (size_t i = 0; pairs && pairs[i]; i += 2) {
        const char *value = pairs[i + 1][0] == '$' ? kk_sec_env(pairs[i + 1] + 1) : pairs[i + 1];
        if (kk_config_set(c, pairs[i], value, &err) != KK_OK) {
            fprintf(stderr, "config %s: %s\n", pairs[i], err.message);
            abort();
        }
    }
    return c;
}

static void base64url(const char *in, char *out) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t n = strlen(in), o = 0;
    const unsigned char *p = (const unsigned char *)in;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        out[o++] = tab[v >> 18 & 63];
        out[o++] = tab[v >> 12 & 63];
        if (i + 1 < n)
            out[o++] = tab[v >> 6 & 63];
        if (i + 2 < n)
            out[o++] = tab[v & 63];
    }
    out[o] = '\0';
}

const char *kk_sec_unsecured_token(long valid_s) {
    static char token[1024];
    char payload[256], h[64], b[400];
    long now = (long)time(NULL);
    long iat = valid_s < 0 ? now + 2 * valid_s : now;
    snprintf(payload, sizeof(payload), "{\"sub\":\"kafkette\",\"iat\":%ld,\"exp\":%ld}", iat,
             now + valid_s);
    base64url("{\"alg\":\"none\"}", h);
    base64url(payload, b);
    snprintf(token, sizeof(token), "%s.%s.", h, b);
    return token;
}
