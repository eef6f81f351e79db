/*
 * Record encoding: RecordBatch v2 and MessageSet v0/v1 (the interface is record_batch.h).
 *
 * Each record is written straight into the writer's buffer (one reserve per record, sizes
 * computed up front), so the producer's hot path makes no allocation per record.
 */
#include "record_batch.h"

#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "bytes.h"
#include "crc32c.h"
#include "error.h"
#include "record_batch_format.h"

/* Size of a v2 varint-length-prefixed field: -1 (one byte) for NULL. */
static inline size_t v2_field_size(const void *p, size_t len) {
    return p ? uvarint_size(zigzag32((int32_t)len)) + len : 1;
}

static inline uint8_t *v2_put_field(uint8_t *p, const void *data, size_t len) {
    if (!data) {
        *p++ = 0x01; /* zigzag(-1) */
        return p;
    }
    p = put_uvarint(p, zigzag32((int32_t)len));
    if (len > 0) {
        memcpy(p, data, len);
        p += len;
    }
    return p;
}

/* The record body (everything after its length varint) for offset delta i. */
static size_t v2_body_size(const kk_record_in_t *r, int64_t ts_delta, int32_t offset_delta) {
    size_t n = 1 + uvarint_size(zigzag64(ts_delta)) + uvarint_size(zigzag32(offset_delta)) +
               v2_field_size(r->key, r->key_len) + v2_field_size(r->value, r->value_len) +
               uvarint_size(zigzag32((int32_t)r->header_count));
    for (size_t h = 0; h < r->header_count; h++) {
        const kk_header_in_t *hd = &r->headers[h];
        n += uvarint_size(zigzag32((int32_t)hd->key_len)) + hd->key_len +
             v2_field_size(hd->value, hd->value_len);
    }
    return n;
}

static int v2_write_records(kk_writer_t *w, const kk_record_in_t *records, size_t count,
                            int64_t base_ts, kk_error_t *err) {
    for (size_t i = 0; i < count; i++) {
        const kk_record_in_t *r = &records[i];
        int64_t ts_delta = sub_wrap(r->timestamp_ms, base_ts);
        size_t body = v2_body_size(r, ts_delta, (int32_t)i);
        if (body > INT32_MAX)
            return kk_error_set(err, KK_ERR_INVALID_ARG, "record %zu is too large (%zu bytes)", i,
                                body);
        size_t total = uvarint_size(zigzag32((int32_t)body)) + body;
        if (!kk_writer_reserve(w, total))
            return kk_error_set(err, KK_ERR_NO_MEMORY, "cannot grow the record buffer");
        uint8_t *p = w->data + w->len;
        p = put_uvarint(p, zigzag32((int32_t)body));
        *p++ = 0; /* record attributes: unused */
        p = put_uvarint(p, zigzag64(ts_delta));
        p = put_uvarint(p, zigzag32((int32_t)i));
        p = v2_put_field(p, r->key, r->key_len);
        p = v2_put_field(p, r->value, r->value_len);
        p = put_uvarint(p, zigzag32((int32_t)r->header_count));
        for (size_t h = 0; h < r->header_count; h++) {
            const kk_header_in_t *hd = &r->headers[h];
            p = put_uvarint(p, zigzag32((int32_t)hd->key_len));
            if (hd->key_len > 0) {
                memcpy(p, hd->key, hd->key_len);
                p += hd->key_len;
            }
            p = v2_put_field(p, hd->value, hd->value_len);
        }
        w->len += total;
    }
    return 0;
}

/* Compresses scratch's content and appends it to w. */
static int append_compressed(kk_writer_t *w, kk_codec_t codec, kk_writer_t *scratch,
                             kk_error_t *err) {
    if (scratch->failed)
        return kk_error_set(err, KK_ERR_NO_MEMORY, "cannot grow the record buffer");
    return kk_compress_append(codec, scratch->data, scratch->len, w, err);
}

static int encode_v2(kk_writer_t *w, kk_writer_t *scratch, kk_codec_t codec,
                     const kk_record_in_t *records, size_t count, kk_error_t *err) {
    size_t start = w->len;
    int64_t base_ts = records[0].timestamp_ms;
    int64_t max_ts = -1; /* the Java producer starts from "no timestamp" too */
    for (size_t i = 0; i < count; i++)
        if (records[i].timestamp_ms > max_ts)
            max_ts = records[i].timestamp_ms;

    if (!kk_writer_reserve(w, V2_HEADER_SIZE))
        return kk_error_set(err, KK_ERR_NO_MEMORY, "cannot grow the record buffer");
    uint8_t *p = w->data + start;
    p = put_be64(p, 0);                     /* baseOffset: the broker assigns it */
    p = put_be32(p, 0);                     /* batchLength, patched below */
    p = put_be32(p, UINT32_MAX);            /* partitionLeaderEpoch -1: set by the broker */
    *p++ = 2;                               /* magic */
    p = put_be32(p, 0);                     /* crc, patched below */
    p = put_be16(p, (uint16_t)codec);       /* attributes: CreateTime, not transactional */
    p = put_be32(p, (uint32_t)(count - 1)); /* lastOffsetDelta */
    p = put_be64(p, (uint64_t)base_ts);
    p = put_be64(p, (uint64_t)max_ts);
    p = put_be64(p, UINT64_MAX); /* producerId -1 */
    p = put_be16(p, UINT16_MAX); /* producerEpoch -1 */
    p = put_be32(p, UINT32_MAX); /* baseSequence -1 */
    put_be32(p, (uint32_t)count);
    w->len += V2_HEADER_SIZE;

    int rc;
    if (codec == KK_CODEC_NONE) {
        rc = v2_write_records(w, records, count, base_ts, err);
    } else {
        kk_writer_reset(scratch);
        rc = v2_write_records(scratch, records, count, base_ts, err);
        if (rc == 0)
            rc = append_compressed(w, codec, scratch, err);
    }
    if (rc != 0)
        return rc;

    size_t batch_len = w->len - start - LOG_OVERHEAD;
    if (batch_len > INT32_MAX)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "record batch too large (%zu bytes)",
                            batch_len);
    put_be32(w->data + start + 8, (uint32_t)batch_len);
    uint32_t crc =
        kk_crc32c(0, w->data + start + V2_ATTRIBUTES_OFFSET, w->len - start - V2_ATTRIBUTES_OFFSET);
    put_be32(w->data + start + V2_CRC_OFFSET, crc);
    return 0;
}

/* One v0/v1 message: offset, size, crc, magic, attributes, [timestamp], key, value. */
static int legacy_write_message(kk_writer_t *w, int64_t offset, int8_t magic, uint8_t attributes,
                                int64_t timestamp, const uint8_t *key, size_t key_len,
                                const uint8_t *value, size_t value_len, kk_error_t *err) {
    size_t key_size = key ? key_len : 0, value_size = value ? value_len : 0;
    size_t size = 4 + 1 + 1 + (magic == 1 ? 8 : 0) + 4 + key_size + 4 + value_size;
    if (size > INT32_MAX)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "message too large (%zu bytes)", size);
    if (!kk_writer_reserve(w, LOG_OVERHEAD + size))
        return kk_error_set(err, KK_ERR_NO_MEMORY, "cannot grow the record buffer");
    uint8_t *start = w->data + w->len;
    uint8_t *p = put_be64(start, (uint64_t)offset);
    p = put_be32(p, (uint32_t)size);
    uint8_t *crc_at = p;
    p += 4;
    *p++ = (uint8_t)magic;
    *p++ = attributes;
    if (magic == 1)
        p = put_be64(p, (uint64_t)timestamp);
    p = put_be32(p, key ? (uint32_t)key_len : UINT32_MAX);
    if (key_size > 0) {
        memcpy(p, key, key_size);
        p += key_size;
    }
    p = put_be32(p, value ? (uint32_t)value_len : UINT32_MAX);
    if (value_size > 0) {
        memcpy(p, value, value_size);
        p += value_size;
    }
    put_be32(crc_at, (uint32_t)crc32(0L, crc_at + 4, (uInt)(size - 4)));
    w->len += LOG_OVERHEAD + size;
    return 0;
}

static int legacy_write_set(kk_writer_t *w, int8_t magic, const kk_record_in_t *records,
                            size_t count, kk_error_t *err) {
    for (size_t i = 0; i < count; i++) {
        const kk_record_in_t *r = &records[i];
        int rc = legacy_write_message(w, (int64_t)i, magic, 0, r->timestamp_ms, r->key, r->key_len,
                                      r->value, r->value_len, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int encode_legacy(kk_writer_t *w, kk_writer_t *scratch, int8_t magic, kk_codec_t codec,
                         const kk_record_in_t *records, size_t count, kk_error_t *err) {
    if (codec == KK_CODEC_NONE)
        return legacy_write_set(w, magic, records, count, err);

    /* The wrapper: its offset is the last inner one, its value the compressed inner set
     * (inner offsets 0..n-1: relative for magic 1, absolute from base 0 for magic 0). */
    int64_t max_ts = -1;
    for (size_t i = 0; i < count; i++)
        if (records[i].timestamp_ms > max_ts)
            max_ts = records[i].timestamp_ms;
    kk_writer_reset(scratch);
    int rc = legacy_write_set(scratch, magic, records, count, err);
    uint8_t *out = NULL;
    size_t out_len = 0;
    if (rc == 0 && scratch->failed)
        rc = kk_error_set(err, KK_ERR_NO_MEMORY, "cannot grow the record buffer");
    if (rc == 0)
        rc = kk_compress(codec, scratch->data, scratch->len, &out, &out_len, err);
    if (rc != 0)
        return rc;
    rc = legacy_write_message(w, (int64_t)count - 1, magic, (uint8_t)codec, max_ts, NULL, 0, out,
                              out_len, err);
    free(out);
    return rc;
}

static int check_record(int8_t magic, const kk_record_in_t *r, size_t i, kk_error_t *err) {
    if ((r->key == NULL && r->key_len > 0) || (r->value == NULL && r->value_len > 0) ||
        (r->headers == NULL && r->header_count > 0))
        return kk_error_set(err, KK_ERR_INVALID_ARG, "record %zu: NULL pointer with a length", i);
    if (r->key_len > INT32_MAX || r->value_len > INT32_MAX || r->header_count > INT32_MAX)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "record %zu: field too large", i);
    if (r->header_count > 0 && magic < 2)
        return kk_error_set(err, KK_ERR_INVALID_ARG,
                            "record %zu: headers need magic 2 (this is magic %d)", i, magic);
    for (size_t h = 0; h < r->header_count; h++) {
        const kk_header_in_t *hd = &r->headers[h];
        if ((hd->key == NULL && hd->key_len > 0) || (hd->value == NULL && hd->value_len > 0))
            return kk_error_set(err, KK_ERR_INVALID_ARG,
                                "record %zu header %zu: NULL pointer with a length", i, h);
        if (hd->key_len > INT32_MAX || hd->value_len > INT32_MAX)
            return kk_error_set(err, KK_ERR_INVALID_ARG, "record %zu header %zu: too large", i, h);
    }
    return 0;
}

int kk_records_encode(kk_writer_t *w, int8_t magic, kk_codec_t codec, const kk_record_in_t *records,
                      size_t count, kk_error_t *err) {
    kk_writer_t scratch;
    kk_writer_init(&scratch);
    int rc = kk_records_encode_with(w, &scratch, magic, codec, records, count, err);
    kk_writer_free(&scratch);
    return rc;
}

int kk_records_encode_with(kk_writer_t *w, kk_writer_t *scratch, int8_t magic, kk_codec_t codec,
                           const kk_record_in_t *records, size_t count, kk_error_t *err) {
    if (w == NULL || scratch == NULL || (records == NULL && count > 0))
        return kk_error_set(err, KK_ERR_INVALID_ARG, "kk_records_encode: NULL argument");
    if (magic < 0 || magic > 2)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "unsupported magic %d", magic);
    if ((unsigned)codec > KK_CODEC_ZSTD)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "unknown codec %d", (int)codec);
    if (codec == KK_CODEC_ZSTD && magic < 2)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "zstd needs magic 2 (this is magic %d)",
                            magic);
    if (count > INT32_MAX)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "too many records (%zu)", count);
    if (w->failed)
        return kk_error_set(err, KK_ERR_NO_MEMORY, "the writer failed earlier");
    if (count == 0)
        return 0; /* an empty record set, as the Java client writes for no records */
    for (size_t i = 0; i < count; i++) {
        int rc = check_record(magic, &records[i], i, err);
        if (rc != 0)
            return rc;
    }
    size_t start = w->len;
    int rc = magic == 2 ? encode_v2(w, scratch, codec, records, count, err)
                        : encode_legacy(w, scratch, magic, codec, records, count, err);
    if (rc == 0 && w->failed)
        rc = kk_error_set(err, KK_ERR_NO_MEMORY, "cannot grow the record buffer");
    if (rc != 0)
        w->len = start; /* leave no half-written batch behind */
    return rc;
}

size_t kk_record_encoded_size_bound(int8_t magic, const kk_record_in_t *r) {
    if (r == NULL)
        return 0;
    size_t key = r->key ? r->key_len : 0, value = r->value ? r->value_len : 0;
    if (magic == 0 || magic == 1)
        return LOG_OVERHEAD + 4 + 1 + 1 + (magic == 1 ? 8 : 0) + 4 + key + 4 + value;
    if (magic != 2)
        return 0;
    /* Timestamp and offset deltas depend on the record's place in the batch: count them at
     * their widest (10 and 5 bytes). */
    size_t body = 1 + 10 + 5 + v2_field_size(r->key, r->key_len) +
                  v2_field_size(r->value, r->value_len) +
                  uvarint_size(zigzag32((int32_t)r->header_count));
    for (size_t h = 0; h < r->header_count; h++) {
        const kk_header_in_t *hd = &r->headers[h];
        body += uvarint_size(zigzag32((int32_t)hd->key_len)) + hd->key_len +
                v2_field_size(hd->value, hd->value_len);
    }
    return uvarint_size(zigzag32((int32_t)body)) + body;
}

bool kk_record_batch_set_producer(uint8_t *batch, size_t len, int64_t producer_id,
                                  int16_t producer_epoch, int32_t base_sequence) {
    /* baseOffset 0, batchLength 8, partitionLeaderEpoch 12, magic 16, crc 17, attributes 21,
     * ..., producerId 43, producerEpoch 51, baseSequence 53, records from 61 */
    if (!batch || len < 61 || batch[16] != 2)
        return false;
    for (int i = 0; i < 8; i++)
        batch[43 + i] = (uint8_t)((uint64_t)producer_id >> (56 - 8 * i));
    batch[51] = (uint8_t)((uint16_t)producer_epoch >> 8);
    batch[52] = (uint8_t)producer_epoch;
    for (int i = 0; i < 4; i++)
        batch[53 + i] = (uint8_t)((uint32_t)base_sequence >> (24 - 8 * i));
    uint32_t crc = kk_crc32c(0, batch + 21, len - 21);
    for (int i = 0; i < 4; i++)
        batch[17 + i] = (uint8_t)(crc >> (24 - 8 * i));
    return true;
}
