/*
 * Record encoding and decoding: RecordBatch v2 (magic 2) and the old MessageSet v0/v1
 * (magic 0/1), with compression through compression.h. Encoding is in record_batch_write.c,
 * decoding in record_batch_read.c; the wire layout both share is record_batch_format.h.
 */
#ifndef KK_RECORD_BATCH_H
#define KK_RECORD_BATCH_H

#include "buffer.h"
#include "compression.h"
#include "kafkette.h"

/* ---- encoding ---------------------------------------------------------------------------- */

typedef struct kk_header_in {
    const char *key; /* not NUL-terminated necessarily: key_len counts */
    size_t key_len;
    const uint8_t *value; /* NULL = null value */
    size_t value_len;
} kk_header_in_t;

typedef struct kk_record_in {
    const uint8_t *key; /* NULL = null key */
    size_t key_len;
    const uint8_t *value; /* NULL = null value (a tombstone) */
    size_t value_len;
    int64_t timestamp_ms; /* CreateTime; ignored for magic 0 */
    const kk_header_in_t *headers; /* magic 2 only; an error for 0/1 if header_count > 0 */
    size_t header_count;
} kk_record_in_t;

/* Appends one batch holding records[0..count) to w:
 *   magic 2: one RecordBatch (baseOffset 0, producerId/epoch/sequence -1, CRC-32C), the
 *            records compressed as a whole when codec != NONE;
 *   magic 1/0: a MessageSet; with a codec, one wrapper message whose value is the compressed
 *            inner message set (magic 1 inner offsets relative 0..n-1, wrapper offset n-1;
 *            magic 0 inner offsets 0..n-1 as well), CRC-32 per message.
 * Does not write the int32 size prefix that Produce puts before the record set.
 * Returns 0, or KK_ERR_INVALID_ARG (headers with magic < 2, bad magic, zstd with magic < 2),
 * KK_ERR_COMPRESSION, KK_ERR_NO_MEMORY; on failure w keeps only what it held before.
 * No records: nothing is written. */
int kk_records_encode(kk_writer_t *w, int8_t magic, kk_codec_t codec, const kk_record_in_t *records,
                      size_t count, kk_error_t *err);

/* kk_records_encode with a caller's scratch buffer for the records before compression, kept
 * (with its allocation) for the next call: an encoder that makes many batches then does not
 * allocate and fault in that buffer every time. scratch must not be w. */
int kk_records_encode_with(kk_writer_t *w, kk_writer_t *scratch, int8_t magic, kk_codec_t codec,
                           const kk_record_in_t *records, size_t count, kk_error_t *err);

/* Sets the idempotent producer's fields of one magic-2 batch that kk_records_encode wrote
 * (producer id, epoch, base sequence) and recomputes its CRC-32C. False when batch[0..len)
 * is not a v2 batch. */
bool kk_record_batch_set_producer(uint8_t *batch, size_t len, int64_t producer_id,
                                  int16_t producer_epoch, int32_t base_sequence);

/* The number of bytes kk_records_encode would write for one record without compression;
 * the producer uses it to split requests under the broker's size limit. */
size_t kk_record_encoded_size_bound(int8_t magic, const kk_record_in_t *record);

/* ---- decoding ---------------------------------------------------------------------------- */

typedef struct kk_header_out {
    kk_slice_t key;
    kk_slice_t value; /* len -1 = null */
} kk_header_out_t;

typedef struct kk_record_out {
    int64_t offset;
    int64_t timestamp;      /* -1 when the message carries none (magic 0) */
    int8_t timestamp_type;  /* 0 CreateTime, 1 LogAppendTime, -1 none */
    kk_slice_t key;         /* len -1 = null; points into the input or a decompressed buffer */
    kk_slice_t value;
    size_t header_index;    /* this record's headers are headers[header_index .. +header_count) */
    size_t header_count;
} kk_record_out_t;

typedef struct kk_aborted_txn {
    int64_t producer_id;
    int64_t first_offset;
} kk_aborted_txn_t;

typedef struct kk_decode_options {
    int64_t min_offset;          /* records below it are dropped (inside compressed batches) */
    bool read_committed;         /* drop records of aborted transactions */
    const kk_aborted_txn_t *aborted; /* from the Fetch response; may be NULL */
    size_t aborted_count;
    size_t max_decompressed;     /* cap per compressed batch (decompression-bomb guard);
                                  * 0 = KK_RECORDS_DEFAULT_MAX_DECOMPRESSED */
    /* Bounds on one kk_records_decode call (a fetch response), 0 = none: the decompressed
     * bytes of the batches whose records are kept, and the records kept. Decoding stops before
     * the batch that would pass max_total_decompressed and before the record that would pass
     * max_records, and sets set->limited. The first batch that keeps a record is decoded
     * whatever its size (up to max_decompressed), so a limited decode keeps at least one record
     * and the next fetch always moves on. */
    size_t max_total_decompressed;
    size_t max_records;
} kk_decode_options_t;

#define KK_RECORDS_DEFAULT_MAX_DECOMPRESSED ((size_t)256 << 20)

/* The decoded records of one partition's record set. Slices point into the input buffer or
 * into buffers this struct owns (decompressed batches), so the input must outlive it. */
typedef struct kk_record_set {
    kk_record_out_t *records;
    size_t count;
    size_t cap;
    kk_header_out_t *headers;
    size_t header_count;
    size_t header_cap;
    uint8_t **owned_buffers; /* decompressed batches */
    size_t owned_count;
    size_t owned_cap;
    /* The offset after the last complete batch seen (including skipped control batches and
     * filtered records), or after the last record kept when a bound stopped the decode inside
     * a batch: where the next fetch should start. -1 if no complete batch. */
    int64_t next_offset;
    /* True when the latest kk_records_decode stopped at max_total_decompressed or max_records
     * before the end of its input. */
    bool limited;
    /* True when the input of the latest kk_records_decode ended in a partial batch (normal
     * for Fetch: the broker cuts at max_bytes). */
    bool truncated;
    /* Size the partial trailing batch announced (its full length: 12 + its length field),
     * 0 if none or if fewer than its first 12 bytes arrived: lets the consumer grow
     * max_bytes when a single batch is bigger than it. */
    size_t truncated_batch_size;
} kk_record_set_t;

void kk_record_set_init(kk_record_set_t *set);
void kk_record_set_clear(kk_record_set_t *set); /* frees everything, ready for reuse */

/* Decodes a record set (a Fetch partition's `records` bytes) of any mix of magic 0/1/2
 * batches, appending to set. Verifies every CRC (KK_ERR_CRC, with nothing from the corrupt
 * batch or after it appended), decompresses every codec, skips control batches, drops
 * aborted transactional records under read_committed, drops records below min_offset.
 * A partial trailing batch is not an error (set->truncated). Returns 0, KK_ERR_CRC,
 * KK_ERR_MALFORMED, KK_ERR_COMPRESSION or KK_ERR_NO_MEMORY.
 * opts may be NULL: no min offset, read_uncommitted, the default decompression cap. */
int kk_records_decode(kk_record_set_t *set, const uint8_t *data, size_t len,
                      const kk_decode_options_t *opts, kk_error_t *err);

#endif
