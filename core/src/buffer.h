/*
 * Growable big-endian writer and bounds-checked reader for every Kafka wire primitive.
 *
 * Both carry a sticky failure flag: after the first failure every further call is a no-op
 * (reads return zero values), so an encoder or decoder checks once at the end instead of
 * after every field.
 */
#ifndef KK_BUFFER_H
#define KK_BUFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- writer ------------------------------------------------------------------------- */

typedef struct kk_writer {
    uint8_t *data; /* owned; NULL until the first write */
    size_t len;
    size_t cap;
    bool failed; /* an allocation failed; the content is incomplete */
} kk_writer_t;

void kk_writer_init(kk_writer_t *w);
void kk_writer_free(kk_writer_t *w);
/* Forget the content but keep the allocation, for reuse. */
void kk_writer_reset(kk_writer_t *w);
/* Make room for n more bytes; false (and failed set) when memory runs out. */
bool kk_writer_reserve(kk_writer_t *w, size_t n);

void kk_write_raw(kk_writer_t *w, const void *src, size_t n);
void kk_write_i8(kk_writer_t *w, int8_t v);
void kk_write_i16(kk_writer_t *w, int16_t v);
void kk_write_i32(kk_writer_t *w, int32_t v);
void kk_write_i64(kk_writer_t *w, int64_t v);
void kk_write_bool(kk_writer_t *w, bool v);
void kk_write_uvarint(kk_writer_t *w, uint32_t v);

/* STRING: int16 length + bytes. NULL writes a null string (length -1). */
void kk_write_string(kk_writer_t *w, const char *s);
void kk_write_string_n(kk_writer_t *w, const char *s, size_t n);
/* BYTES: int32 length + bytes; NULL writes null (-1). */
void kk_write_bytes(kk_writer_t *w, const void *b, size_t n);
/* COMPACT_STRING / COMPACT_BYTES: unsigned varint length+1 (0 = null). */
void kk_write_compact_string(kk_writer_t *w, const char *s);
void kk_write_compact_bytes(kk_writer_t *w, const void *b, size_t n);
/* Array lengths: int32 (-1 = null) or compact (unsigned varint n+1, 0 = null). */
void kk_write_array_len(kk_writer_t *w, int32_t n);
void kk_write_compact_array_len(kk_writer_t *w, int32_t n);
/* The flexible versions' tagged-field section with no fields. */
void kk_write_empty_tags(kk_writer_t *w);

/* Strings, bytes and array lengths in the form a given message version uses. */
void kk_write_str_v(kk_writer_t *w, const char *s, bool flexible);
void kk_write_bytes_v(kk_writer_t *w, const void *b, size_t n, bool flexible);
void kk_write_array_len_v(kk_writer_t *w, int32_t n, bool flexible);

/* Reserve 4 bytes to be filled in later (a length or CRC slot); returns its position. */
size_t kk_writer_slot_i32(kk_writer_t *w);
void kk_writer_patch_i32(kk_writer_t *w, size_t pos, int32_t v);

/* ---- reader ------------------------------------------------------------------------- */

typedef struct kk_reader {
    const uint8_t *data; /* not owned */
    size_t len;
    size_t pos;
    bool failed; /* a read went past the end or met an impossible value */
} kk_reader_t;

/* A slice of the reader's buffer; len is -1 for a null string/bytes. Not NUL-terminated. */
typedef struct kk_slice {
    const uint8_t *ptr;
    int32_t len;
} kk_slice_t;

void kk_reader_init(kk_reader_t *r, const void *data, size_t len);
static inline size_t kk_reader_remaining(const kk_reader_t *r) {
    return r->failed ? 0 : r->len - r->pos;
}
/* Marks the reader failed (used by decoders that find an impossible value). */
void kk_reader_fail(kk_reader_t *r);

int8_t kk_read_i8(kk_reader_t *r);
int16_t kk_read_i16(kk_reader_t *r);
int32_t kk_read_i32(kk_reader_t *r);
int64_t kk_read_i64(kk_reader_t *r);
bool kk_read_bool(kk_reader_t *r);
uint32_t kk_read_uvarint(kk_reader_t *r);
int32_t kk_read_varint(kk_reader_t *r);
int64_t kk_read_varlong(kk_reader_t *r);
/* Returns a pointer to n bytes inside the buffer and advances, or NULL on failure. */
const uint8_t *kk_read_raw(kk_reader_t *r, size_t n);
void kk_read_skip(kk_reader_t *r, size_t n);

kk_slice_t kk_read_string(kk_reader_t *r);         /* int16 length */
kk_slice_t kk_read_bytes(kk_reader_t *r);          /* int32 length */
kk_slice_t kk_read_compact_string(kk_reader_t *r); /* uvarint length+1 */
kk_slice_t kk_read_compact_bytes(kk_reader_t *r);
kk_slice_t kk_read_str_v(kk_reader_t *r, bool flexible);
kk_slice_t kk_read_bytes_v(kk_reader_t *r, bool flexible);

/* Array length (-1 = null). Fails the reader when the count could not possibly fit in the
 * remaining bytes given each element takes at least min_element_size bytes: a lying count
 * must never drive a huge allocation. */
int32_t kk_read_array_len(kk_reader_t *r, size_t min_element_size);
int32_t kk_read_compact_array_len(kk_reader_t *r, size_t min_element_size);
int32_t kk_read_array_len_v(kk_reader_t *r, bool flexible, size_t min_element_size);

/* Skips a tagged-field section (every tag is unknown to us or handled by the caller). */
void kk_read_skip_tags(kk_reader_t *r);

/* Copies a slice into a new NUL-terminated string (NULL for a null slice, and also NULL
 * with *oom set when allocation fails). Caller frees. */
char *kk_slice_strdup(kk_slice_t s, bool *oom);
/* Copies a slice's bytes into a new buffer (NULL for a null or empty slice, and also NULL with
 * *oom set when allocation fails); *len gets the length. Caller frees. */
uint8_t *kk_slice_memdup(kk_slice_t s, size_t *len, bool *oom);

#endif
