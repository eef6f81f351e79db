/* Record sets (record_batch.c): RecordBatch v2 and MessageSet v0/v1, every codec. Checksums
 * are repaired before decoding, so that mutations get past them. Input: [mode][codec]
 * [count][body...]:
 *   mode & 3 == 0, 1: body is a record set; every complete batch's CRC is recomputed
 *   mode & 3 == 2:    body is the records of one v2 batch: compressed with codec, wrapped
 *   mode & 3 == 3:    body is the inner message set of one v1 wrapper message: compressed
 *                     with codec (gzip, snappy, lz4), wrapped; inner CRCs repaired first
 *   mode & 4:         read_committed; mode & 8: min_offset 5; mode & 16: 1 KiB output cap */
#include <zlib.h>

#include "compression.h"
#include "crc32c.h"
#include "fuzz_common.h"
#include "record_batch.h"

static uint32_t get_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Recomputes the CRC of every complete batch or message in buf. */
static void repair_crcs(uint8_t *buf, size_t len) {
    size_t pos = 0;
    while (len - pos >= 17) {
        uint32_t body = get_be32(buf + pos + 8);
        if (body > len - pos - 12)
            break;
        size_t size = 12 + (size_t)body;
        uint8_t magic = buf[pos + 16];
        if (magic == 2 && size >= 21)
            put_be32(buf + pos + 17, kk_crc32c(0, buf + pos + 21, size - 21));
        else if (magic < 2 && size >= 17)
            put_be32(buf + pos + 12, (uint32_t)crc32(0L, buf + pos + 16, (uInt)(size - 16)));
        pos += size;
    }
}

/* One v2 batch (mode 2) or v1 wrapper message (mode 3) around compressed payload. */
static uint8_t *wrap(int v1, kk_codec_t codec, uint8_t count, const uint8_t *payload, size_t len,
                     size_t *out_len) {
    uint8_t *packed = NULL;
    size_t packed_len = 0;
    kk_error_t err;
    if (kk_compress(codec, payload, len, &packed, &packed_len, &err) != KK_OK)
        return NULL;
    kk_writer_t w;
    kk_writer_init(&w);
    if (!v1) {
        kk_write_i64(&w, 0);
        kk_write_i32(&w, (int32_t)(49 + packed_len));
        kk_write_i32(&w, 0);
        kk_write_i8(&w, 2);
        kk_write_i32(&w, 0); /* CRC, below */
        kk_write_i16(&w, (int16_t)codec);
        kk_write_i32(&w, count ? count - 1 : 0);
        kk_write_i64(&w, 1700000000000LL);
        kk_write_i64(&w, 1700000000000LL);
        kk_write_i64(&w, -1);
        kk_write_i16(&w, -1);
        kk_write_i32(&w, -1);
        kk_write_i32(&w, count);
    } else {
        kk_write_i64(&w, count ? count - 1 : 0); /* the wrapper carries the last inner offset */
        kk_write_i32(&w, (int32_t)(4 + 1 + 1 + 8 + 4 + 4 + packed_len));
        kk_write_i32(&w, 0); /* CRC, below */
        kk_write_i8(&w, 1);
        kk_write_i8(&w, (int8_t)codec);
        kk_write_i64(&w, 1700000000000LL);
        kk_write_i32(&w, -1);
        kk_write_i32(&w, (int32_t)packed_len);
    }
    kk_write_raw(&w, packed, packed_len);
    free(packed);
    if (w.failed) {
        kk_writer_free(&w);
        return NULL;
    }
    repair_crcs(w.data, w.len);
    *out_len = w.len;
    return w.data; /* the writer's buffer, now the caller's */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_input_t in = {data, size};
    uint8_t mode = fuzz_take_byte(&in);
    uint8_t codec_byte = fuzz_take_byte(&in);
    uint8_t count = fuzz_take_byte(&in);
    uint8_t *body = fuzz_copy(&in);
    if (!body)
        return 0;
    uint8_t *batch = body;
    size_t batch_len = in.size;
    if ((mode & 3) == 2) {
        batch = wrap(0, (kk_codec_t)(codec_byte % 5), count, body, in.size, &batch_len);
    } else if ((mode & 3) == 3) {
        repair_crcs(body, in.size);
        batch = wrap(1, (kk_codec_t)(1 + codec_byte % 3), count, body, in.size, &batch_len);
    } else {
        repair_crcs(body, in.size);
    }
    if (batch) {
        kk_record_set_t set;
        kk_record_set_init(&set);
        kk_decode_options_t opts = {.min_offset = mode & 8 ? 5 : 0,
                                    .read_committed = (mode & 4) != 0,
                                    .max_decompressed = mode & 16 ? 1024 : 1 << 20};
        kk_error_t err;
        kk_records_decode(&set, batch, batch_len, &opts, &err);
        kk_record_set_clear(&set);
    }
    if (batch != body)
        free(batch);
    free(body);
    return 0;
}
