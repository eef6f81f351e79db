/* Writes the seed corpus: make_seeds <dir> fills <dir>/<harness>/ (tests/fuzz/corpus is its
 * committed output; script/fuzz --seeds regenerates it). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../unit/vectors/compression_vectors.h"
#include "../../unit/vectors/record_batch_vectors.h"
#include "assignor.h"
#include "compression.h"
#include "seeds.h"

static const char *root;

void seed_emit(const char *harness, const char *name, const uint8_t *prefix, size_t prefix_len,
               const uint8_t *body, size_t body_len) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", root, harness);
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/%s/%s", root, harness, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(prefix, 1, prefix_len, f) != prefix_len ||
        fwrite(body, 1, body_len, f) != body_len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static void emit_writer(const char *harness, const char *name, const uint8_t *prefix,
                        size_t prefix_len, kk_writer_t *w) {
    if (w->failed) {
        fprintf(stderr, "make_seeds: out of memory\n");
        exit(1);
    }
    seed_emit(harness, name, prefix, prefix_len, w->data, w->len);
    kk_writer_reset(w);
}

#define RB(name, codec_byte) SEED("fuzz_record_batch", #name, name, 0, codec_byte, 0)
#define DZ(codec, name) SEED("fuzz_decompress_" codec, #name, name, 20)

static void seeds_record_batch(void) {
    RB(RB_V2_NONE, 0);
    RB(RB_V2_GZIP, 0);
    RB(RB_V2_SNAPPY, 0);
    RB(RB_V2_LZ4, 0);
    RB(RB_V2_ZSTD, 0);
    RB(RB_V2_LOG_APPEND, 0);
    RB(RB_V2_IDEMPOTENT_GZIP, 0);
    RB(RB_V1_NONE, 0);
    RB(RB_V1_GZIP, 0);
    RB(RB_V1_SNAPPY, 0);
    RB(RB_V1_LZ4, 0);
    RB(RB_V1_LOG_APPEND_GZIP, 0);
    RB(RB_V1_LOG_APPEND_NONE, 0);
    RB(RB_V0_NONE, 0);
    RB(RB_V0_GZIP, 0);
    RB(RB_V0_SNAPPY, 0);
    RB(RB_V0_LZ4, 0);
    RB(RB_TXN_SET, 0);
    RB(RB_MIXED, 0);
    /* read_committed over the transactional set */
    SEED("fuzz_record_batch", "RB_TXN_SET_committed", RB_TXN_SET, 4, 0, 0);
    /* wrap modes: the records of RB_V2_NONE (5 of them) under every codec, and the message
     * set of RB_V1_NONE inside a v1 wrapper of each old codec */
    static const char *const codecs[] = {"none", "gzip", "snappy", "lz4", "zstd"};
    for (uint8_t c = 0; c < 5; c++) {
        char name[64];
        uint8_t prefix[] = {2, c, 5};
        snprintf(name, sizeof(name), "wrap_v2_%s", codecs[c]);
        seed_emit("fuzz_record_batch", name, prefix, 3, RB_V2_NONE + 61, sizeof(RB_V2_NONE) - 61);
        if (c >= 1 && c <= 3) {
            uint8_t prefix_v1[] = {3, (uint8_t)(c - 1), 5};
            snprintf(name, sizeof(name), "wrap_v1_%s", codecs[c]);
            seed_emit("fuzz_record_batch", name, prefix_v1, 3, RB_V1_NONE, sizeof(RB_V1_NONE));
        }
    }
}

static void seeds_decompress(void) {
    DZ("gzip", V_PY_GZIP);
    DZ("gzip", V_PY_ZLIB);
    DZ("gzip", V_PY_GZIP_TWO_MEMBERS);
    DZ("gzip", V_CLI_GZIP);
    DZ("gzip", V_JAVA_GZIP);
    DZ("snappy", V_PY_SNAPPY_RAW);
    DZ("snappy", V_PY_SNAPPY_XERIAL);
    DZ("snappy", V_JAVA_SNAPPY);
    DZ("lz4", V_PY_LZ4_DEFAULT);
    DZ("lz4", V_PY_LZ4_CHECKSUMS);
    DZ("lz4", V_CLI_LZ4);
    DZ("lz4", V_JAVA_LZ4);
    DZ("zstd", V_PY_ZSTD);
    DZ("zstd", V_PY_ZSTD_STREAM);
    DZ("zstd", V_CLI_ZSTD);
    DZ("zstd", V_JAVA_ZSTD);
}

static void seeds_consumer_protocol(void) {
    const char *h = "fuzz_consumer_protocol";
    const char *topics[] = {"b", "a", "t"};
    const kk_topic_partition_t owned[] = {{"a", 2}, {"a", 0}, {"t", 1}};
    kk_writer_t w, all;
    kk_writer_init(&w);
    kk_writer_init(&all);
    for (int16_t v = 0; v <= 3; v++) {
        char name[64];
        uint8_t sub_prefix[] = {0}, assign_prefix[] = {1};
        kk_encode_consumer_subscription(&w, v, topics, 3, owned, 3, 7, "r1");
        /* the leader's input: three members sending this subscription */
        for (uint8_t m = 0; m < 3; m++) {
            kk_write_i8(&all, (int8_t)(m | (m == 2 ? 0x80 : 0)));
            kk_write_i16(&all, (int16_t)w.len);
            kk_write_raw(&all, w.data, w.len);
        }
        snprintf(name, sizeof(name), "subscription_v%d", v);
        emit_writer(h, name, sub_prefix, 1, &w);
        kk_encode_consumer_assignment(&w, v, owned, 3);
        snprintf(name, sizeof(name), "assignment_v%d", v);
        emit_writer(h, name, assign_prefix, 1, &w);
        uint8_t leader_prefix[] = {2};
        snprintf(name, sizeof(name), "leader_v%d", v);
        emit_writer(h, name, leader_prefix, 1, &all);
    }
    kk_writer_free(&w);
    kk_writer_free(&all);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds <corpus dir>\n");
        return 2;
    }
    root = argv[1];
    if (mkdir(root, 0777) != 0 && errno != EEXIST) {
        perror(root);
        return 1;
    }
    seeds_protocol();
    seeds_protocol_admin();
    seeds_protocol_fetch();
    seeds_protocol_group();
    seeds_protocol_produce();
    seeds_record_batch();
    seeds_decompress();
    seeds_consumer_protocol();
    return 0;
}
