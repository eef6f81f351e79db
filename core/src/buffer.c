#include "buffer.h"

#include <stdlib.h>
#include <string.h>

#include "bytes.h"

/* ---- writer ------------------------------------------------------------------------- */

void kk_writer_init(kk_writer_t *w) {
    w->data = NULL;
    w->len = 0;
    w->cap = 0;
    w->failed = false;
}

void kk_writer_free(kk_writer_t *w) {
    free(w->data);
    kk_writer_init(w);
}

void kk_writer_reset(kk_writer_t *w) {
    w->len = 0;
    w->failed = false;
}

bool kk_writer_reserve(kk_writer_t *w, size_t n) {
    if (w->failed)
        return false;
    if (n <= w->cap - w->len)
        return true;
    if (n > SIZE_MAX / 2 - w->len) {
        w->failed = true;
        return false;
    }
    size_t need = w->len + n;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < need)
        cap *= 2;
    uint8_t *grown = realloc(w->data, cap);
    if (!grown) {
        w->failed = true;
        return false;
    }
    w->data = grown;
    w->cap = cap;
    return true;
}

void kk_write_raw(kk_writer_t *w, const void *src, size_t n) {
    if (n == 0 || !kk_writer_reserve(w, n))
        return;
    memcpy(w->data + w->len, src, n);
    w->len += n;
}

static void write_be(kk_writer_t *w, uint64_t v, size_t bytes) {
    if (!kk_writer_reserve(w, bytes))
        return;
    uint8_t *p = w->data + w->len;
    switch (bytes) {
    case 1:
        *p = (uint8_t)v;
        break;
    case 2:
        put_be16(p, (uint16_t)v);
        break;
    case 4:
        put_be32(p, (uint32_t)v);
        break;
    default:
        put_be64(p, v);
        break;
    }
    w->len += bytes;
}

void kk_write_i8(kk_writer_t *w, int8_t v) { write_be(w, (uint8_t)v, 1); }
void kk_write_i16(kk_writer_t *w, int16_t v) { write_be(w, (uint16_t)v, 2); }
void kk_write_i32(kk_writer_t *w, int32_t v) { write_be(w, (uint32_t)v, 4); }
void kk_write_i64(kk_writer_t *w, int64_t v) { write_be(w, (uint64_t)v, 8); }
void kk_write_bool(kk_writer_t *w, bool v) { write_be(w, v ? 1 : 0, 1); }

void kk_write_uvarint(kk_writer_t *w, uint32_t v) {
    uint8_t tmp[KK_UVARINT_MAX];
    kk_write_raw(w, tmp, (size_t)(put_uvarint(tmp, v) - tmp));
}

void kk_write_string_n(kk_writer_t *w, const char *s, size_t n) {
    if (!s) {
        kk_write_i16(w, -1);
        return;
    }
    if (n > INT16_MAX) {
        w->failed = true;
        return;
    }
    kk_write_i16(w, (int16_t)n);
    kk_write_raw(w, s, n);
}

void kk_write_string(kk_writer_t *w, const char *s) { kk_write_string_n(w, s, s ? strlen(s) : 0); }

void kk_write_bytes(kk_writer_t *w, const void *b, size_t n) {
    if (!b) {
        kk_write_i32(w, -1);
        return;
    }
    if (n > INT32_MAX) {
        w->failed = true;
        return;
    }
    kk_write_i32(w, (int32_t)n);
    kk_write_raw(w, b, n);
}

void kk_write_compact_bytes(kk_writer_t *w, const void *b, size_t n) {
    if (!b) {
        kk_write_uvarint(w, 0);
        return;
    }
    if (n >= UINT32_MAX) {
        w->failed = true;
        return;
    }
    kk_write_uvarint(w, (uint32_t)n + 1);
    kk_write_raw(w, b, n);
}

void kk_write_compact_string(kk_writer_t *w, const char *s) {
    kk_write_compact_bytes(w, s, s ? strlen(s) : 0);
}

void kk_write_array_len(kk_writer_t *w, int32_t n) { kk_write_i32(w, n < 0 ? -1 : n); }

void kk_write_compact_array_len(kk_writer_t *w, int32_t n) {
    kk_write_uvarint(w, n < 0 ? 0 : (uint32_t)n + 1);
}

void kk_write_empty_tags(kk_writer_t *w) { kk_write_uvarint(w, 0); }

void kk_write_str_v(kk_writer_t *w, const char *s, bool flexible) {
    if (flexible)
        kk_write_compact_string(w, s);
    else
        kk_write_string(w, s);
}

void kk_write_bytes_v(kk_writer_t *w, const void *b, size_t n, bool flexible) {
    if (flexible)
        kk_write_compact_bytes(w, b, n);
    else
        kk_write_bytes(w, b, n);
}

void kk_write_array_len_v(kk_writer_t *w, int32_t n, bool flexible) {
    if (flexible)
        kk_write_compact_array_len(w, n);
    else
        kk_write_array_len(w, n);
}

size_t kk_writer_slot_i32(kk_writer_t *w) {
    size_t pos = w->len;
    kk_write_i32(w, 0);
    return pos;
}

void kk_writer_patch_i32(kk_writer_t *w, size_t pos, int32_t v) {
    if (w->failed || pos + 4 > w->len)
        return;
    put_be32(w->data + pos, (uint32_t)v);
}

/* ---- reader ------------------------------------------------------------------------- */

void kk_reader_init(kk_reader_t *r, const void *data, size_t len) {
    r->data = data;
    r->len = data ? len : 0;
    r->pos = 0;
    r->failed = false;
}

void kk_reader_fail(kk_reader_t *r) { r->failed = true; }

const uint8_t *kk_read_raw(kk_reader_t *r, size_t n) {
    if (r->failed || n > r->len - r->pos) {
        r->failed = true;
        return NULL;
    }
    const uint8_t *p = r->data + r->pos;
    r->pos += n;
    return p;
}

void kk_read_skip(kk_reader_t *r, size_t n) { (void)kk_read_raw(r, n); }

static uint64_t read_be(kk_reader_t *r, size_t bytes) {
    const uint8_t *p = kk_read_raw(r, bytes);
    if (!p)
        return 0;
    switch (bytes) {
    case 1:
        return p[0];
    case 2:
        return get_be16(p);
    case 4:
        return get_be32(p);
    default:
        return get_be64(p);
    }
}

int8_t kk_read_i8(kk_reader_t *r) { return (int8_t)(uint8_t)read_be(r, 1); }
int16_t kk_read_i16(kk_reader_t *r) { return (int16_t)(uint16_t)read_be(r, 2); }
int32_t kk_read_i32(kk_reader_t *r) { return (int32_t)(uint32_t)read_be(r, 4); }
int64_t kk_read_i64(kk_reader_t *r) { return (int64_t)read_be(r, 8); }
bool kk_read_bool(kk_reader_t *r) { return read_be(r, 1) != 0; }

/* Reads at most max_bytes groups of 7 bits; a longer encoding is malformed. Record decoding
 * reads several varints per record, so this checks the bounds inline rather than through
 * kk_read_raw per byte, and takes one- and two-byte values (lengths, deltas, counts under
 * 8192) without a loop. */
static uint64_t read_uvarlong(kk_reader_t *r, int max_bytes) {
    size_t avail = r->failed ? 0 : r->len - r->pos;
    if (avail == 0) {
        r->failed = true;
        return 0;
    }
    const uint8_t *p = r->data + r->pos;
    if (!(p[0] & 0x80)) {
        r->pos++;
        return p[0];
    }
    if (avail >= 2 && max_bytes >= 2 && !(p[1] & 0x80)) {
        r->pos += 2;
        return (uint64_t)(p[0] & 0x7f) | (uint64_t)p[1] << 7;
    }
    uint64_t v = 0;
    size_t limit = avail < (size_t)max_bytes ? avail : (size_t)max_bytes;
    for (size_t i = 0; i < limit; i++) {
        v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            r->pos += i + 1;
            return v;
        }
    }
    r->failed = true; /* truncated, or longer than max_bytes */
    return 0;
}

uint32_t kk_read_uvarint(kk_reader_t *r) {
    uint64_t v = read_uvarlong(r, 5);
    if (v > UINT32_MAX) {
        r->failed = true;
        return 0;
    }
    return (uint32_t)v;
}

int32_t kk_read_varint(kk_reader_t *r) { return unzigzag32(kk_read_uvarint(r)); }
int64_t kk_read_varlong(kk_reader_t *r) { return unzigzag64(read_uvarlong(r, KK_UVARINT_MAX)); }

static kk_slice_t read_sized(kk_reader_t *r, int64_t len) {
    kk_slice_t s = {NULL, -1};
    if (r->failed)
        return s;
    if (len < 0) {
        if (len != -1)
            r->failed = true;
        return s;
    }
    s.ptr = kk_read_raw(r, (size_t)len);
    if (!s.ptr)
        return (kk_slice_t){NULL, -1};
    s.len = (int32_t)len;
    return s;
}

kk_slice_t kk_read_string(kk_reader_t *r) { return read_sized(r, kk_read_i16(r)); }
kk_slice_t kk_read_bytes(kk_reader_t *r) { return read_sized(r, kk_read_i32(r)); }

kk_slice_t kk_read_compact_bytes(kk_reader_t *r) {
    uint32_t n = kk_read_uvarint(r);
    if (n > INT32_MAX) {
        r->failed = true;
        return (kk_slice_t){NULL, -1};
    }
    return read_sized(r, (int64_t)n - 1);
}

kk_slice_t kk_read_compact_string(kk_reader_t *r) { return kk_read_compact_bytes(r); }

kk_slice_t kk_read_str_v(kk_reader_t *r, bool flexible) {
    return flexible ? kk_read_compact_string(r) : kk_read_string(r);
}

kk_slice_t kk_read_bytes_v(kk_reader_t *r, bool flexible) {
    return flexible ? kk_read_compact_bytes(r) : kk_read_bytes(r);
}

static int32_t check_count(kk_reader_t *r, int64_t n, size_t min_element_size) {
    if (r->failed)
        return 0;
    if (n < -1) {
        r->failed = true;
        return 0;
    }
    if (n > 0 && min_element_size > 0 && (uint64_t)n > kk_reader_remaining(r) / min_element_size) {
        r->failed = true;
        return 0;
    }
    return (int32_t)n;
}

int32_t kk_read_array_len(kk_reader_t *r, size_t min_element_size) {
    return check_count(r, kk_read_i32(r), min_element_size);
}

int32_t kk_read_compact_array_len(kk_reader_t *r, size_t min_element_size) {
    uint32_t n = kk_read_uvarint(r);
    if (n > INT32_MAX) {
        r->failed = true;
        return 0;
    }
    return check_count(r, (int64_t)n - 1, min_element_size);
}

int32_t kk_read_array_len_v(kk_reader_t *r, bool flexible, size_t min_element_size) {
    return flexible ? kk_read_compact_array_len(r, min_element_size)
                    : kk_read_array_len(r, min_element_size);
}

void kk_read_skip_tags(kk_reader_t *r) {
    uint32_t count = kk_read_uvarint(r);
    for (uint32_t i = 0; i < count && !r->failed; i++) {
        (void)kk_read_uvarint(r); /* tag */
        uint32_t size = kk_read_uvarint(r);
        kk_read_skip(r, size);
    }
}

char *kk_slice_strdup(kk_slice_t s, bool *oom) {
    if (s.len < 0)
        return NULL;
    char *out = malloc((size_t)s.len + 1);
    if (!out) {
        if (oom)
            *oom = true;
        return NULL;
    }
    if (s.len > 0)
        memcpy(out, s.ptr, (size_t)s.len);
    out[s.len] = '\0';
    return out;
}

uint8_t *kk_slice_memdup(kk_slice_t s, size_t *len, bool *oom) {
    *len = 0;
    if (s.len <= 0)
        return NULL;
    uint8_t *copy = malloc((size_t)s.len);
    if (!copy) {
        *oom = true;
        return NULL;
    }
    memcpy(copy, s.ptr, (size_t)s.len);
    *len = (size_t)s.len;
    return copy;
}
