/*
 * Record decoding: RecordBatch v2 and MessageSet v0/v1, any mix of them in one record set
 * (the interface is record_batch.h).
 *
 * Decoding never copies keys, values or headers: slices point into the input or into a
 * decompressed buffer the record set owns. Every count read off the wire is checked against
 * the bytes that could hold it before anything is allocated for it.
 */
#include "record_batch.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "bytes.h"
#include "crc32c.h"
#include "error.h"
#include "record_batch_format.h"

/* ---- decoding: the record set -------------------------------------------------------- */

void kk_record_set_init(kk_record_set_t *set) {
    memset(set, 0, sizeof *set);
    set->next_offset = -1;
}

void kk_record_set_clear(kk_record_set_t *set) {
    free(set->records);
    free(set->headers);
    for (size_t i = 0; i < set->owned_count; i++)
        free(set->owned_buffers[i]);
    free(set->owned_buffers);
    kk_record_set_init(set);
}

/* Geometric growth; callers have bounded n by the bytes that must hold the items. */
static bool grow_array(void **arr, size_t *cap, size_t count, size_t n, size_t elem) {
    if (n <= *cap - count)
        return true;
    if (n > SIZE_MAX / elem - count)
        return false;
    size_t need = count + n;
    size_t ncap = *cap < 16 ? 16 : *cap;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 / elem ? need : ncap * 2;
    void *p = realloc(*arr, ncap * elem);
    if (p == NULL)
        return false;
    *arr = p;
    *cap = ncap;
    return true;
}

static bool reserve_records(kk_record_set_t *set, size_t n) {
    return grow_array((void **)&set->records, &set->cap, set->count, n, sizeof *set->records);
}

static bool reserve_headers(kk_record_set_t *set, size_t n) {
    return grow_array((void **)&set->headers, &set->header_cap, set->header_count, n,
                      sizeof *set->headers);
}

/* ---- decoding: state ----------------------------------------------------------------- */

typedef struct decoder {
    kk_record_set_t *set;
    int64_t min_offset;
    size_t max_decompressed;
    /* the per-decode bounds (0: none), what the kept batches took so far, and the record count
     * this decode started from */
    size_t max_total_decompressed;
    size_t max_records;
    size_t decompressed;
    size_t count_at_start;
    bool stop; /* a bound was reached: decode nothing more */
    bool read_committed;
    kk_error_t *err;
    /* read_committed: aborted transactions sorted by first offset, the next one not yet
     * reached, and the producers whose aborted transaction is open at this point. */
    kk_aborted_txn_t *aborted;
    size_t aborted_count;
    size_t aborted_next;
    int64_t *open_aborts;
    size_t open_abort_count;
} decoder_t;

static int cmp_aborted(const void *a, const void *b) {
    int64_t x = ((const kk_aborted_txn_t *)a)->first_offset;
    int64_t y = ((const kk_aborted_txn_t *)b)->first_offset;
    return x < y ? -1 : x > y;
}

static bool is_open_abort(const decoder_t *d, int64_t pid) {
    for (size_t i = 0; i < d->open_abort_count; i++)
        if (d->open_aborts[i] == pid)
            return true;
    return false;
}

/* Every aborted transaction that starts at or before `offset` is now open. */
static void open_aborts_up_to(decoder_t *d, int64_t offset) {
    while (d->aborted_next < d->aborted_count &&
           d->aborted[d->aborted_next].first_offset <= offset) {
        int64_t pid = d->aborted[d->aborted_next++].producer_id;
        if (!is_open_abort(d, pid))
            d->open_aborts[d->open_abort_count++] = pid; /* room for aborted_count ids */
    }
}

static void close_abort(decoder_t *d, int64_t pid) {
    for (size_t i = 0; i < d->open_abort_count; i++) {
        if (d->open_aborts[i] == pid) {
            d->open_aborts[i] = d->open_aborts[--d->open_abort_count];
            return;
        }
    }
}

static int malformed(decoder_t *d, int64_t offset, const char *what) {
    return kk_error_set(d->err, KK_ERR_MALFORMED, "record batch at offset %" PRId64 ": %s", offset,
                        what);
}

/* Takes ownership of buf (freeing it on failure). */
static int own_buffer(decoder_t *d, uint8_t *buf) {
    kk_record_set_t *set = d->set;
    if (!grow_array((void **)&set->owned_buffers, &set->owned_cap, set->owned_count, 1,
                    sizeof *set->owned_buffers)) {
        free(buf);
        return kk_error_set(d->err, KK_ERR_NO_MEMORY, "cannot grow the record set");
    }
    set->owned_buffers[set->owned_count++] = buf;
    return 0;
}

static int decompress_capped(decoder_t *d, int64_t offset, kk_codec_t codec, const uint8_t *src,
                             size_t src_len, size_t cap, kk_error_t *err, const uint8_t **out,
                             size_t *out_len) {
    uint8_t *buf = NULL;
    size_t buf_len = 0;
    int rc = kk_decompress(codec, src, src_len, cap, &buf, &buf_len, err);
    if (rc != 0) {
        if (err != NULL)
            kk_error_prefix(err, "record batch at offset %" PRId64 ": ", offset);
        return rc;
    }
    rc = own_buffer(d, buf);
    if (rc != 0)
        return rc;
    *out = buf;
    *out_len = buf_len;
    return 0;
}

static int decompress_batch(decoder_t *d, int64_t offset, kk_codec_t codec, const uint8_t *src,
                            size_t src_len, const uint8_t **out, size_t *out_len) {
    return decompress_capped(d, offset, codec, src, src_len, d->max_decompressed, d->err, out,
                             out_len);
}

static size_t kept(const decoder_t *d) { return d->set->count - d->count_at_start; }

/* Whether the record bound leaves room for another record; sets d->stop when not. */
static bool room_for_record(decoder_t *d) {
    if (d->max_records == 0 || kept(d) < d->max_records)
        return true;
    d->stop = true;
    return false;
}

/* How many of n more records the bound lets this decode keep. */
static size_t records_allowed(const decoder_t *d, size_t n) {
    if (d->max_records == 0)
        return n;
    size_t left = d->max_records > kept(d) ? d->max_records - kept(d) : 0;
    return n < left ? n : left;
}

/* Decompresses a batch whose records are to be kept. The first one of a decode may take up to
 * the per-batch cap; a later one only what is left of the per-decode budget, and one that does
 * not fit ends the decode (d->stop, *out NULL) instead of failing: the next fetch starts with
 * it, decodes it first, and reports it if it really is bad. */
static int decompress_kept(decoder_t *d, int64_t offset, kk_codec_t codec, const uint8_t *src,
                           size_t src_len, const uint8_t **out, size_t *out_len) {
    *out = NULL;
    *out_len = 0;
    if (kept(d) == 0 || d->max_total_decompressed == 0) {
        int rc = decompress_batch(d, offset, codec, src, src_len, out, out_len);
        /* over the hard cap (kk_decompress says "exceeds the cap"): say which option raises it */
        if (rc == KK_ERR_COMPRESSION && d->err != NULL &&
            strstr(d->err->message, "exceeds the cap"))
            kk_error_prefix(d->err, "%s",
                            "a batch larger than any one fetch may decompress (see the option "
                            "max_decompressed_bytes): ");
        return rc;
    }
    if (d->decompressed >= d->max_total_decompressed) {
        d->stop = true;
        return 0;
    }
    size_t room = d->max_total_decompressed - d->decompressed;
    if (room > d->max_decompressed)
        room = d->max_decompressed;
    kk_error_t ignored;
    if (decompress_capped(d, offset, codec, src, src_len, room, &ignored, out, out_len) != 0) {
        *out = NULL;
        d->stop = true;
    }
    return 0;
}

/* ---- decoding: v2 -------------------------------------------------------------------- */

/* A varint-length-prefixed field; -1 is null, anything else negative or past the end
 * fails the reader. */
static kk_slice_t read_v2_field(kk_reader_t *r) {
    kk_slice_t s = {NULL, -1};
    int32_t n = kk_read_varint(r);
    if (n < -1) {
        kk_reader_fail(r);
        return s;
    }
    if (n == -1 || r->failed)
        return s;
    const uint8_t *p = kk_read_raw(r, (size_t)n);
    if (p == NULL)
        return s;
    s.ptr = p;
    s.len = n;
    return s;
}

typedef struct v2_batch {
    int64_t base_offset;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int32_t record_count;
    bool log_append_time;
} v2_batch_t;

static int v2_parse_records(decoder_t *d, const v2_batch_t *b, const uint8_t *data, size_t len) {
    kk_record_set_t *set = d->set;
    if ((size_t)b->record_count > len / V2_MIN_RECORD)
        return malformed(d, b->base_offset, "record count does not fit in the batch");
    if (!reserve_records(set, records_allowed(d, (size_t)b->record_count)))
        return kk_error_set(d->err, KK_ERR_NO_MEMORY, "cannot grow the record set");

    kk_reader_t r;
    kk_reader_init(&r, data, len);
    for (int32_t i = 0; i < b->record_count; i++) {
        int32_t rec_len = kk_read_varint(&r);
        if (rec_len < 0)
            return malformed(d, b->base_offset, "bad record length");
        const uint8_t *body = kk_read_raw(&r, (size_t)rec_len);
        if (body == NULL)
            return malformed(d, b->base_offset, "record length past the end of the batch");
        kk_reader_t rr;
        kk_reader_init(&rr, body, (size_t)rec_len);
        (void)kk_read_i8(&rr); /* record attributes: unused */
        int64_t ts_delta = kk_read_varlong(&rr);
        int32_t offset_delta = kk_read_varint(&rr);
        kk_slice_t key = read_v2_field(&rr);
        kk_slice_t value = read_v2_field(&rr);
        int32_t header_count = kk_read_varint(&rr);
        if (rr.failed || header_count < 0 ||
            (size_t)header_count > kk_reader_remaining(&rr) / V2_MIN_HEADER)
            return malformed(d, b->base_offset, "bad record");

        int64_t offset = add_wrap(b->base_offset, offset_delta);
        bool keep = offset >= d->min_offset;
        if (keep && !room_for_record(d)) {
            /* the rest of the batch is for the next fetch, which starts after this record */
            set->next_offset = add_wrap(set->records[set->count - 1].offset, 1);
            return 0;
        }
        if (keep && !reserve_headers(set, (size_t)header_count))
            return kk_error_set(d->err, KK_ERR_NO_MEMORY, "cannot grow the record set");
        size_t header_index = set->header_count;
        for (int32_t h = 0; h < header_count; h++) {
            kk_slice_t hkey = read_v2_field(&rr);
            kk_slice_t hvalue = read_v2_field(&rr);
            if (rr.failed || hkey.len < 0)
                return malformed(d, b->base_offset, "bad record header");
            if (keep)
                set->headers[set->header_count++] = (kk_header_out_t){hkey, hvalue};
        }
        if (rr.failed || kk_reader_remaining(&rr) != 0)
            return malformed(d, b->base_offset, "record length does not match its content");
        if (!keep)
            continue;
        kk_record_out_t *out = &set->records[set->count++];
        out->offset = offset;
        out->timestamp =
            b->log_append_time ? b->max_timestamp : add_wrap(b->base_timestamp, ts_delta);
        out->timestamp_type = b->log_append_time ? 1 : 0;
        out->key = key;
        out->value = value;
        out->header_index = header_index;
        out->header_count = (size_t)header_count;
    }
    if (kk_reader_remaining(&r) != 0)
        return malformed(d, b->base_offset, "bytes left after the last record");
    return 0;
}

/* The first record's key of a control batch says ABORT (type 0) or COMMIT (type 1). */
static int v2_control_is_abort(decoder_t *d, int64_t offset, const uint8_t *data, size_t len,
                               bool *is_abort) {
    kk_reader_t r;
    kk_reader_init(&r, data, len);
    *is_abort = false;
    if (len == 0)
        return 0;
    int32_t rec_len = kk_read_varint(&r);
    const uint8_t *body = rec_len >= 0 ? kk_read_raw(&r, (size_t)rec_len) : NULL;
    if (body == NULL)
        return malformed(d, offset, "bad control record");
    kk_reader_t rr;
    kk_reader_init(&rr, body, (size_t)rec_len);
    (void)kk_read_i8(&rr);
    (void)kk_read_varlong(&rr);
    (void)kk_read_varint(&rr);
    kk_slice_t key = read_v2_field(&rr);
    if (rr.failed || key.len < 4)
        return malformed(d, offset, "bad control record key");
    *is_abort = get_be16(key.ptr + 2) == 0; /* key: version int16, type int16 */
    return 0;
}

static int decode_v2(decoder_t *d, const uint8_t *p, size_t size) {
    kk_record_set_t *set = d->set;
    int64_t base_offset = (int64_t)get_be64(p);
    if (size < V2_HEADER_SIZE)
        return malformed(d, base_offset, "batch shorter than the v2 header");
    uint32_t stored = get_be32(p + V2_CRC_OFFSET);
    uint32_t crc = kk_crc32c(0, p + V2_ATTRIBUTES_OFFSET, size - V2_ATTRIBUTES_OFFSET);
    if (crc != stored)
        return kk_error_set(d->err, KK_ERR_CRC,
                            "record batch at offset %" PRId64
                            ": CRC-32C mismatch (stored 0x%08" PRIx32 ", computed 0x%08" PRIx32 ")",
                            base_offset, stored, crc);
    uint16_t attributes = get_be16(p + 21);
    int32_t last_offset_delta = (int32_t)get_be32(p + 23);
    v2_batch_t b = {
        .base_offset = base_offset,
        .base_timestamp = (int64_t)get_be64(p + 27),
        .max_timestamp = (int64_t)get_be64(p + 35),
        .record_count = (int32_t)get_be32(p + 57),
        .log_append_time = (attributes & ATTR_LOG_APPEND_TIME) != 0,
    };
    int64_t producer_id = (int64_t)get_be64(p + 43);
    int64_t last_offset = add_wrap(base_offset, last_offset_delta);
    kk_codec_t codec = (kk_codec_t)(attributes & ATTR_CODEC_MASK);
    bool control = (attributes & ATTR_CONTROL) != 0;
    if (b.record_count < 0)
        return malformed(d, base_offset, "negative record count");

    const uint8_t *records = p + V2_HEADER_SIZE;
    size_t records_len = size - V2_HEADER_SIZE;
    bool decompressed = false;
    size_t owned_before = set->owned_count;

    /* Java's consumer does the same: aborted transactions open as the fetch reaches their
     * first offset, an ABORT marker from the producer closes its transaction, and in
     * between that producer's transactional batches are dropped. */
    if (d->read_committed && producer_id >= 0) {
        open_aborts_up_to(d, last_offset);
        if (is_open_abort(d, producer_id)) {
            if (control) {
                if (codec != KK_CODEC_NONE) {
                    int rc = decompress_batch(d, base_offset, codec, records, records_len, &records,
                                              &records_len);
                    if (rc != 0)
                        return rc;
                    decompressed = true;
                }
                bool is_abort;
                int rc = v2_control_is_abort(d, base_offset, records, records_len, &is_abort);
                if (rc != 0)
                    return rc;
                if (is_abort)
                    close_abort(d, producer_id);
            } else if (attributes & ATTR_TRANSACTIONAL) {
                set->next_offset = add_wrap(last_offset, 1);
                return 0;
            }
        }
    }
    if (control || last_offset < d->min_offset) {
        /* Nothing to hand out: a decompressed control batch is not needed any more. */
        while (set->owned_count > owned_before)
            free(set->owned_buffers[--set->owned_count]);
        set->next_offset = add_wrap(last_offset, 1);
        return 0;
    }
    if (!room_for_record(d))
        return 0;
    size_t kept_bytes = 0;
    if (codec != KK_CODEC_NONE && !decompressed) {
        int rc =
            decompress_kept(d, base_offset, codec, records, records_len, &records, &records_len);
        if (rc != 0 || d->stop)
            return rc;
        kept_bytes = records_len;
    }
    size_t count_before = set->count;
    int rc = v2_parse_records(d, &b, records, records_len);
    if (rc != 0)
        return rc;
    if (set->count == count_before) /* every record was below min_offset */
        while (set->owned_count > owned_before)
            free(set->owned_buffers[--set->owned_count]);
    else
        d->decompressed += kept_bytes;
    if (!d->stop)
        set->next_offset = add_wrap(last_offset, 1);
    return 0;
}

/* ---- decoding: v0/v1 ----------------------------------------------------------------- */

typedef struct legacy_msg {
    int64_t offset;
    int8_t magic;
    uint8_t attributes;
    int64_t timestamp; /* -1 for magic 0 */
    kk_slice_t key;
    kk_slice_t value;
} legacy_msg_t;

/* One message of exactly `size` bytes (LOG_OVERHEAD included) at p, CRC checked. */
static int legacy_parse(decoder_t *d, const uint8_t *p, size_t size, legacy_msg_t *m) {
    m->offset = (int64_t)get_be64(p);
    m->magic = (int8_t)p[MAGIC_OFFSET];
    if (m->magic != 0 && m->magic != 1)
        return malformed(d, m->offset, "unknown magic inside a message set");
    if (size < LOG_OVERHEAD + (size_t)(m->magic == 0 ? LEGACY_MIN_V0 : LEGACY_MIN_V1))
        return malformed(d, m->offset, "message shorter than its header");
    uint32_t stored = get_be32(p + LOG_OVERHEAD);
    uint32_t crc = (uint32_t)crc32(0L, p + MAGIC_OFFSET, (uInt)(size - MAGIC_OFFSET));
    if (crc != stored)
        return kk_error_set(d->err, KK_ERR_CRC,
                            "message at offset %" PRId64 ": CRC-32 mismatch (stored 0x%08" PRIx32
                            ", computed 0x%08" PRIx32 ")",
                            m->offset, stored, crc);
    kk_reader_t r;
    kk_reader_init(&r, p + MAGIC_OFFSET + 2, size - MAGIC_OFFSET - 2);
    m->attributes = p[MAGIC_OFFSET + 1];
    m->timestamp = m->magic == 1 ? kk_read_i64(&r) : -1;
    m->key = kk_read_bytes(&r);
    m->value = kk_read_bytes(&r);
    if (r.failed || kk_reader_remaining(&r) != 0)
        return malformed(d, m->offset, "message size does not match its content");
    return 0;
}

static void legacy_append(kk_record_set_t *set, int64_t offset, int64_t timestamp,
                          int8_t timestamp_type, const legacy_msg_t *m) {
    kk_record_out_t *out = &set->records[set->count++];
    out->offset = offset;
    out->timestamp = timestamp;
    out->timestamp_type = timestamp_type;
    out->key = m->key;
    out->value = m->value;
    out->header_index = set->header_count;
    out->header_count = 0;
}

/* Walks the inner message set of a compressed wrapper: pass 0 validates it and finds the
 * last inner offset, pass 1 appends the records. */
static int legacy_inner(decoder_t *d, const legacy_msg_t *wrapper, const uint8_t *data,
                        size_t len) {
    kk_record_set_t *set = d->set;
    size_t n = 0;
    int64_t last_inner = 0;
    int64_t base = 0;
    bool wrapper_log_append = wrapper->magic == 1 && (wrapper->attributes & ATTR_LOG_APPEND_TIME);
    for (int pass = 0; pass < 2; pass++) {
        size_t pos = 0;
        while (pos < len) {
            const uint8_t *p = data + pos;
            if (len - pos < LOG_OVERHEAD + LEGACY_MIN_V0)
                return malformed(d, wrapper->offset, "truncated compressed message set");
            int32_t msg_len = (int32_t)get_be32(p + 8);
            if (msg_len < LEGACY_MIN_V0 || (size_t)msg_len > len - pos - LOG_OVERHEAD)
                return malformed(d, wrapper->offset, "bad inner message size");
            size_t size = LOG_OVERHEAD + (size_t)msg_len;
            legacy_msg_t m;
            if (pass == 0) {
                int rc = legacy_parse(d, p, size, &m);
                if (rc != 0)
                    return rc;
                if (m.attributes & ATTR_CODEC_MASK)
                    return malformed(d, wrapper->offset, "nested compressed message");
                n++;
                last_inner = m.offset;
            } else {
                (void)legacy_parse(d, p, size, &m); /* validated in pass 0 */
                int64_t offset = wrapper->magic == 1 ? add_wrap(base, m.offset) : m.offset;
                if (offset >= d->min_offset && !room_for_record(d)) {
                    set->next_offset = add_wrap(set->records[set->count - 1].offset, 1);
                    return 0;
                }
                if (offset >= d->min_offset) {
                    int64_t ts = -1;
                    int8_t ts_type = -1;
                    if (m.magic == 1) {
                        ts = wrapper_log_append ? wrapper->timestamp : m.timestamp;
                        ts_type = wrapper->magic == 1
                                      ? (wrapper_log_append ? 1 : 0)
                                      : ((m.attributes & ATTR_LOG_APPEND_TIME) ? 1 : 0);
                    }
                    legacy_append(set, offset, ts, ts_type, &m);
                }
            }
            pos += size;
        }
        if (pass == 0) {
            if (n == 0)
                return malformed(d, wrapper->offset, "empty compressed message set");
            if (!reserve_records(set, records_allowed(d, n)))
                return kk_error_set(d->err, KK_ERR_NO_MEMORY, "cannot grow the record set");
            /* Magic 1 inner offsets are relative, the wrapper carries the absolute offset of
             * the last one; a wrapper offset of 0 comes from producers that left it unset. */
            if (wrapper->magic == 1 && wrapper->offset != 0) {
                if (wrapper->offset < last_inner)
                    return malformed(d, wrapper->offset,
                                     "wrapper offset below the last inner offset");
                base = sub_wrap(wrapper->offset, last_inner);
            }
        }
    }
    return 0;
}

/* XXH32 of fewer than 16 bytes (all an LZ4 frame descriptor can hold), seed 0. */
static uint32_t xxh32_short(const uint8_t *p, size_t len) {
    const uint32_t P1 = 0x9E3779B1u, P2 = 0x85EBCA77u, P3 = 0xC2B2AE3Du, P4 = 0x27D4EB2Fu,
                   P5 = 0x165667B1u;
#define ROTL32(x, r) (((x) << (r)) | ((x) >> (32 - (r))))
    uint32_t h = P5 + (uint32_t)len;
    size_t i = 0;
    for (; i + 4 <= len; i += 4) {
        uint32_t k = get_le32(p + i);
        h += k * P3;
        h = ROTL32(h, 17) * P4;
    }
    for (; i < len; i++) {
        h += p[i] * P5;
        h = ROTL32(h, 11) * P1;
    }
#undef ROTL32
    h ^= h >> 15;
    h *= P2;
    h ^= h >> 13;
    h *= P3;
    h ^= h >> 16;
    return h;
}

/* Kafka before 0.10 computed the LZ4 frame header checksum over the wrong bytes
 * (KAFKA-3160), and the Java client still ignores it for magic 0: decode a copy of the
 * frame with the checksum recomputed. */
static int decompress_lz4_magic0(decoder_t *d, int64_t offset, const uint8_t *src, size_t len,
                                 const uint8_t **out, size_t *out_len) {
    static const uint8_t LZ4_MAGIC[4] = {0x04, 0x22, 0x4D, 0x18};
    size_t desc_len = 0;
    if (len >= 7 && memcmp(src, LZ4_MAGIC, 4) == 0)
        desc_len = 2 + ((src[4] & 0x08) ? 8 : 0) + ((src[4] & 0x01) ? 4 : 0);
    if (desc_len == 0 || len < 4 + desc_len + 1)
        return decompress_kept(d, offset, KK_CODEC_LZ4, src, len, out, out_len);
    uint8_t *copy = malloc(len);
    if (copy == NULL)
        return kk_error_set(d->err, KK_ERR_NO_MEMORY, "cannot copy an LZ4 frame");
    memcpy(copy, src, len);
    copy[4 + desc_len] = (uint8_t)(xxh32_short(copy + 4, desc_len) >> 8);
    int rc = decompress_kept(d, offset, KK_CODEC_LZ4, copy, len, out, out_len);
    free(copy);
    return rc;
}

static int decode_legacy(decoder_t *d, const uint8_t *p, size_t size) {
    kk_record_set_t *set = d->set;
    legacy_msg_t m;
    int rc = legacy_parse(d, p, size, &m);
    if (rc != 0)
        return rc;
    kk_codec_t codec = (kk_codec_t)(m.attributes & ATTR_CODEC_MASK);
    if (codec == KK_CODEC_NONE) {
        if (m.offset >= d->min_offset) {
            if (!room_for_record(d))
                return 0;
            if (!reserve_records(set, 1))
                return kk_error_set(d->err, KK_ERR_NO_MEMORY, "cannot grow the record set");
            legacy_append(set, m.offset, m.timestamp,
                          m.magic == 1 ? ((m.attributes & ATTR_LOG_APPEND_TIME) ? 1 : 0) : -1, &m);
        }
        set->next_offset = add_wrap(m.offset, 1);
        return 0;
    }
    if (codec == KK_CODEC_ZSTD)
        return malformed(d, m.offset, "zstd is not allowed in magic 0/1 messages");
    if (m.value.len < 0)
        return malformed(d, m.offset, "compressed message with a null value");
    /* The wrapper's offset is its last inner offset, so a wrapper below min_offset holds
     * nothing wanted (unless it is a magic 1 wrapper whose producer left the offset 0). */
    if (m.offset >= d->min_offset || (m.magic == 1 && m.offset == 0)) {
        if (!room_for_record(d))
            return 0;
        size_t owned_before = set->owned_count, count_before = set->count;
        const uint8_t *inner;
        size_t inner_len;
        if (codec == KK_CODEC_LZ4 && m.magic == 0)
            rc = decompress_lz4_magic0(d, m.offset, m.value.ptr, (size_t)m.value.len, &inner,
                                       &inner_len);
        else
            rc = decompress_kept(d, m.offset, codec, m.value.ptr, (size_t)m.value.len, &inner,
                                 &inner_len);
        if (rc != 0 || d->stop)
            return rc;
        rc = legacy_inner(d, &m, inner, inner_len);
        if (rc != 0)
            return rc;
        if (set->count == count_before)
            while (set->owned_count > owned_before)
                free(set->owned_buffers[--set->owned_count]);
        else
            d->decompressed += inner_len;
        if (d->stop)
            return 0;
    }
    set->next_offset = add_wrap(m.offset, 1);
    return 0;
}

/* ---- decoding: the record set -------------------------------------------------------- */

/* Sizes the record array once from the v2 batch headers' record counts, so a large fetch
 * costs one allocation of the right size instead of a doubling series (up to twice the room).
 * Each count is bounded by what its bytes could hold, so a lying header cannot force a huge
 * allocation; a failed reservation is harmless (decoding grows the array as before). */
static void reserve_from_headers(kk_record_set_t *set, const uint8_t *data, size_t len,
                                 size_t max_records) {
    enum { SMALLEST_RECORD = 7 };
    size_t expected = 0;
    for (size_t pos = 0; pos + V2_HEADER_SIZE <= len;) {
        int32_t batch_len = (int32_t)get_be32(data + pos + 8);
        if (batch_len < 0 || (size_t)batch_len > len - pos - LOG_OVERHEAD)
            break;
        size_t size = LOG_OVERHEAD + (size_t)batch_len;
        if (data[pos + MAGIC_OFFSET] == 2) {
            int32_t declared = (int32_t)get_be32(data + pos + 57);
            /* a compressed batch may hold more, but its count cannot be checked before
             * decompressing: reserve what the bytes could hold uncompressed */
            size_t bound = size / SMALLEST_RECORD;
            if (declared > 0)
                expected += (size_t)declared < bound ? (size_t)declared : bound;
        }
        pos += size;
    }
    if (max_records != 0 && expected > max_records)
        expected = max_records;
    if (expected <= set->cap - set->count ||
        expected > SIZE_MAX / sizeof(*set->records) - set->count)
        return;
    kk_record_out_t *grown = realloc(set->records, (set->count + expected) * sizeof(*grown));
    if (grown) {
        set->records = grown;
        set->cap = set->count + expected;
    }
}

int kk_records_decode(kk_record_set_t *set, const uint8_t *data, size_t len,
                      const kk_decode_options_t *opts, kk_error_t *err) {
    if (set == NULL || (data == NULL && len > 0))
        return kk_error_set(err, KK_ERR_INVALID_ARG, "kk_records_decode: NULL argument");
    decoder_t d = {
        .set = set,
        .min_offset = opts ? opts->min_offset : INT64_MIN,
        .max_decompressed = opts && opts->max_decompressed ? opts->max_decompressed
                                                           : KK_RECORDS_DEFAULT_MAX_DECOMPRESSED,
        .max_total_decompressed = opts ? opts->max_total_decompressed : 0,
        .max_records = opts ? opts->max_records : 0,
        .count_at_start = set->count,
        .read_committed = opts && opts->read_committed,
        .err = err,
    };
    if (d.read_committed && opts->aborted != NULL && opts->aborted_count > 0) {
        size_t n = opts->aborted_count;
        if (n > SIZE_MAX / sizeof(kk_aborted_txn_t))
            return kk_error_set(err, KK_ERR_INVALID_ARG, "too many aborted transactions");
        d.aborted = malloc(n * sizeof *d.aborted);
        d.open_aborts = malloc(n * sizeof *d.open_aborts);
        if (d.aborted == NULL || d.open_aborts == NULL) {
            free(d.aborted);
            free(d.open_aborts);
            return kk_error_set(err, KK_ERR_NO_MEMORY, "cannot copy the aborted transactions");
        }
        memcpy(d.aborted, opts->aborted, n * sizeof *d.aborted);
        qsort(d.aborted, n, sizeof *d.aborted, cmp_aborted);
        d.aborted_count = n;
    }

    reserve_from_headers(set, data, len, d.max_records);

    /* These describe the latest input only. */
    set->truncated = false;
    set->truncated_batch_size = 0;
    set->limited = false;

    int rc = 0;
    size_t pos = 0;
    while (pos < len) {
        size_t remaining = len - pos;
        const uint8_t *p = data + pos;
        if (remaining < LOG_OVERHEAD) {
            set->truncated = true;
            set->truncated_batch_size = 0;
            break;
        }
        int32_t batch_len = (int32_t)get_be32(p + 8);
        if (batch_len < LEGACY_MIN_V0) {
            rc = malformed(&d, (int64_t)get_be64(p), "length field too small");
            break;
        }
        size_t size = LOG_OVERHEAD + (size_t)batch_len;
        if (size > remaining) {
            set->truncated = true;
            set->truncated_batch_size = size;
            break;
        }
        /* Anything this batch appends is taken back if it turns out to be bad. */
        size_t count = set->count, header_count = set->header_count, owned = set->owned_count;
        int8_t magic = (int8_t)p[MAGIC_OFFSET];
        if (magic == 2)
            rc = decode_v2(&d, p, size);
        else if (magic == 0 || magic == 1)
            rc = decode_legacy(&d, p, size);
        else
            rc = kk_error_set(err, KK_ERR_MALFORMED,
                              "record batch at offset %" PRId64 ": unknown magic %d",
                              (int64_t)get_be64(p), magic);
        if (rc != 0) {
            set->count = count;
            set->header_count = header_count;
            while (set->owned_count > owned)
                free(set->owned_buffers[--set->owned_count]);
            break;
        }
        if (d.stop) {
            set->limited = true;
            break;
        }
        pos += size;
    }
    free(d.aborted);
    free(d.open_aborts);
    return rc;
}
