/*
 * Codec dispatch for record batches. Every decoder bounds its output by max_out: formats
 * that state the decompressed size are checked before allocating, the others decode into
 * a buffer that doubles up to max_out + 1 bytes, so reaching that size proves the cap was
 * exceeded without ever holding more.
 */
#define ZLIB_CONST /* next_in is const */

#include "compression.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include "bytes.h"
#include "error.h"

/* Java's xerial SnappyOutputStream writes this, then int32 version and compatible version. */
static const uint8_t XERIAL_MAGIC[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0x00};
#define XERIAL_HEADER_LEN 16

#define ZSTD_LEVEL 3
#define ZSTD_WINDOW_LOG_FLOOR 23 /* see zstd_decompress */
/* zlib counts in uInt, so it gets input and output at most this much at a time. */
#define ZLIB_CHUNK ((size_t)1 << 30)
/* A snappy copy element of 3 bytes expands to at most 64, so no valid block claims more
 * than this many output bytes per input byte; a larger claim is corrupt. */
#define SNAPPY_MAX_RATIO 22
#define MIN_GUESS 4096

static const char *const CODEC_NAMES[] = {"none", "gzip", "snappy", "lz4", "zstd"};
#define CODEC_COUNT (sizeof CODEC_NAMES / sizeof CODEC_NAMES[0])

int kk_codec_from_name(const char *name, kk_codec_t *out) {
    if (name == NULL || out == NULL)
        return KK_ERR_INVALID_ARG;
    for (size_t i = 0; i < CODEC_COUNT; i++) {
        const char *a = name, *b = CODEC_NAMES[i];
        while (*a != '\0' && *b != '\0') {
            char c = *a;
            if (c >= 'A' && c <= 'Z')
                c = (char)(c - 'A' + 'a');
            if (c != *b)
                break;
            a++;
            b++;
        }
        if (*a == '\0' && *b == '\0') {
            *out = (kk_codec_t)i;
            return 0;
        }
    }
    return KK_ERR_INVALID_ARG;
}

const char *kk_codec_name(kk_codec_t codec) {
    if ((unsigned)codec >= CODEC_COUNT)
        return "unknown";
    return CODEC_NAMES[codec];
}

/* ---- growable output, capped ----------------------------------------------------------- */

typedef struct outbuf {
    uint8_t *data;
    size_t len;
    size_t cap;
    size_t limit; /* max_out + 1 (saturating): a buffer this full proves the cap exceeded */
    size_t max_out;
    const char *codec;
} outbuf_t;

static int cap_exceeded(const char *codec, size_t max_out, kk_error_t *err) {
    return kk_error_set(err, KK_ERR_COMPRESSION,
                        "%s: decompressed data exceeds the cap of %zu bytes", codec, max_out);
}

static int out_init(outbuf_t *o, const char *codec, size_t guess, size_t max_out, kk_error_t *err) {
    o->len = 0;
    o->max_out = max_out;
    o->codec = codec;
    o->limit = max_out == SIZE_MAX ? SIZE_MAX : max_out + 1;
    if (guess < 1)
        guess = 1;
    if (guess > o->limit)
        guess = o->limit;
    o->cap = guess;
    o->data = malloc(guess);
    if (o->data == NULL)
        return kk_error_set(err, KK_ERR_NO_MEMORY, "%s: cannot allocate %zu bytes", codec, guess);
    return 0;
}

/* Called only when the buffer is full. */
static int out_grow(outbuf_t *o, kk_error_t *err) {
    if (o->cap >= o->limit)
        return cap_exceeded(o->codec, o->max_out, err);
    size_t ncap = o->cap > o->limit / 2 ? o->limit : o->cap * 2;
    uint8_t *p = realloc(o->data, ncap);
    if (p == NULL)
        return kk_error_set(err, KK_ERR_NO_MEMORY, "%s: cannot grow the output to %zu bytes",
                            o->codec, ncap);
    o->data = p;
    o->cap = ncap;
    return 0;
}

/* Hands the buffer over, trimmed when much of it is unused. */
static int out_finish(outbuf_t *o, uint8_t **out, size_t *out_len, kk_error_t *err) {
    if (o->len > o->max_out)
        return cap_exceeded(o->codec, o->max_out, err);
    if (o->cap - o->len > MIN_GUESS) {
        uint8_t *p = realloc(o->data, o->len > 0 ? o->len : 1);
        if (p != NULL)
            o->data = p; /* keeping the larger block is harmless */
    }
    *out = o->data;
    *out_len = o->len;
    o->data = NULL;
    return 0;
}

/* A first output size for formats that state it: the stated size is not trusted beyond a
 * multiple of the input (a few bytes may claim gigabytes); the buffer grows past it when the
 * data really is that compressible. */
#define TRUSTED_RATIO 64
static size_t stated_guess(unsigned long long stated, size_t src_len) {
    size_t trusted = src_len > SIZE_MAX / TRUSTED_RATIO ? SIZE_MAX : src_len * TRUSTED_RATIO;
    if (trusted < MIN_GUESS)
        trusted = MIN_GUESS;
    /* one spare byte lets the decoder reach the end mark without a needless regrowth */
    return stated < trusted ? (size_t)stated + 1 : trusted;
}

/* A first output size for formats that do not state it. */
static size_t guess_size(size_t src_len) {
    return src_len > SIZE_MAX / 4 ? SIZE_MAX : (src_len * 4 < MIN_GUESS ? MIN_GUESS : src_len * 4);
}

static int truncated(const char *codec, kk_error_t *err) {
    return kk_error_set(err, KK_ERR_COMPRESSION, "%s: compressed data is truncated", codec);
}

/* ---- none ------------------------------------------------------------------------------ */

static int copy_bytes(const uint8_t *src, size_t src_len, uint8_t **out, size_t *out_len,
                      kk_error_t *err) {
    uint8_t *p = malloc(src_len > 0 ? src_len : 1);
    if (p == NULL)
        return kk_error_set(err, KK_ERR_NO_MEMORY, "none: cannot allocate %zu bytes", src_len);
    if (src_len > 0)
        memcpy(p, src, src_len);
    *out = p;
    *out_len = src_len;
    return 0;
}

/* ---- gzip ------------------------------------------------------------------------------ */

/* Gives a zlib stream its next piece of input and of output room, each at most ZLIB_CHUNK
 * (zlib counts in uInt); grows the output when it is full. 0, or out_grow's error. */
static int zlib_next_chunk(z_stream *zs, const uint8_t *src, size_t src_len, size_t *fed,
                           outbuf_t *o, size_t *room, kk_error_t *err) {
    if (zs->avail_in == 0 && *fed < src_len) {
        size_t n = src_len - *fed < ZLIB_CHUNK ? src_len - *fed : ZLIB_CHUNK;
        zs->next_in = src + *fed;
        zs->avail_in = (uInt)n;
        *fed += n;
    }
    if (o->len == o->cap) {
        int rc = out_grow(o, err);
        if (rc != 0)
            return rc;
    }
    *room = o->cap - o->len < ZLIB_CHUNK ? o->cap - o->len : ZLIB_CHUNK;
    zs->next_out = o->data + o->len;
    zs->avail_out = (uInt)*room;
    return 0;
}

static int gzip_compress(const uint8_t *src, size_t src_len, uint8_t **out, size_t *out_len,
                         kk_error_t *err) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    int zr = deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    if (zr != Z_OK)
        return kk_error_set(err, zr == Z_MEM_ERROR ? KK_ERR_NO_MEMORY : KK_ERR_COMPRESSION,
                            "gzip: cannot start the compressor (zlib error %d)", zr);
    outbuf_t o;
    int rc = out_init(&o, "gzip", (size_t)deflateBound(&zs, (uLong)src_len), SIZE_MAX, err);
    size_t fed = 0;
    size_t room = 0;
    while (rc == 0) {
        if ((rc = zlib_next_chunk(&zs, src, src_len, &fed, &o, &room, err)) != 0)
            break;
        zr = deflate(&zs, fed == src_len ? Z_FINISH : Z_NO_FLUSH);
        o.len += room - zs.avail_out;
        if (zr == Z_STREAM_END)
            break;
        if (zr != Z_OK && !(zr == Z_BUF_ERROR && zs.avail_out == 0))
            rc = kk_error_set(err, KK_ERR_COMPRESSION, "gzip: compression failed (zlib error %d)",
                              zr);
    }
    deflateEnd(&zs);
    if (rc == 0)
        rc = out_finish(&o, out, out_len, err);
    free(o.data);
    return rc;
}

static int gzip_decompress(const uint8_t *src, size_t src_len, size_t max_out, uint8_t **out,
                           size_t *out_len, kk_error_t *err) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    /* 15 + 32: detect a gzip or zlib header by itself. */
    int zr = inflateInit2(&zs, 15 + 32);
    if (zr != Z_OK)
        return kk_error_set(err, zr == Z_MEM_ERROR ? KK_ERR_NO_MEMORY : KK_ERR_COMPRESSION,
                            "gzip: cannot start the decompressor (zlib error %d)", zr);
    outbuf_t o;
    int rc = out_init(&o, "gzip", guess_size(src_len), max_out, err);
    size_t fed = 0;
    size_t room = 0;
    while (rc == 0) {
        if ((rc = zlib_next_chunk(&zs, src, src_len, &fed, &o, &room, err)) != 0)
            break;
        zr = inflate(&zs, Z_NO_FLUSH);
        o.len += room - zs.avail_out;
        if (o.len > max_out) {
            rc = cap_exceeded("gzip", max_out, err);
        } else if (zr == Z_STREAM_END) {
            if (zs.avail_in == 0 && fed == src_len)
                break;
            inflateReset(&zs); /* another member follows, as gzip(1) allows */
        } else if (zr == Z_OK || (zr == Z_BUF_ERROR && zs.avail_out == 0)) {
            continue;
        } else if (zr == Z_BUF_ERROR) {
            rc = truncated("gzip", err); /* no input left and the stream has not ended */
        } else if (zr == Z_MEM_ERROR) {
            rc = kk_error_set(err, KK_ERR_NO_MEMORY, "gzip: out of memory while decompressing");
        } else if (zr == Z_NEED_DICT) {
            rc = kk_error_set(err, KK_ERR_COMPRESSION, "gzip: data needs a preset dictionary");
        } else {
            rc = kk_error_set(err, KK_ERR_COMPRESSION, "gzip: corrupt data (%s)",
                              zs.msg != NULL ? zs.msg : "zlib error");
        }
    }
    inflateEnd(&zs);
    if (rc == 0)
        rc = out_finish(&o, out, out_len, err);
    free(o.data);
    return rc;
}

/* ---- snappy ---------------------------------------------------------------------------- */

static int snappy_compress_into(const uint8_t *src, size_t src_len, uint8_t *dst, size_t cap,
                                size_t *n, kk_error_t *err) {
    /* The block's length header is a 32-bit varint. */
    if (src_len > UINT32_MAX)
        return kk_error_set(err, KK_ERR_COMPRESSION,
                            "snappy: %zu bytes is over the format's 4 GiB block limit", src_len);
    *n = cap;
    if (snappy_compress((const char *)(src != NULL ? src : dst), src_len, (char *)dst, n) !=
        SNAPPY_OK)
        return kk_error_set(err, KK_ERR_COMPRESSION, "snappy: compression failed");
    return 0;
}

/* The decompressed size a raw block declares, refusing claims no valid block can make. */
static int snappy_block_size(const uint8_t *blk, size_t n, size_t *size, kk_error_t *err) {
    if (n == 0)
        return truncated("snappy", err);
    if (snappy_uncompressed_length((const char *)blk, n, size) != SNAPPY_OK)
        return kk_error_set(err, KK_ERR_COMPRESSION,
                            "snappy: corrupt or truncated block length header");
    if (n <= SIZE_MAX / SNAPPY_MAX_RATIO && *size > n * SNAPPY_MAX_RATIO)
        return kk_error_set(err, KK_ERR_COMPRESSION,
                            "snappy: corrupt block (claims %zu bytes from %zu compressed bytes)",
                            *size, n);
    return 0;
}

/* Decodes one raw block into exactly `size` bytes at dst. */
static int snappy_block_decode(const uint8_t *blk, size_t n, uint8_t *dst, size_t size,
                               kk_error_t *err) {
    size_t got = size;
    snappy_status st = snappy_uncompress((const char *)blk, n, (char *)dst, &got);
    if (st != SNAPPY_OK || got != size)
        return kk_error_set(err, KK_ERR_COMPRESSION, "snappy: corrupt or truncated block");
    return 0;
}

/* Java's framing: header, then (int32 big-endian length, raw block) until the input ends.
 * The first pass checks every length and sums the sizes, so the cap is enforced before
 * allocating and the second pass cannot run out of room. */
static int xerial_decompress(const uint8_t *src, size_t src_len, size_t max_out, uint8_t **out,
                             size_t *out_len, kk_error_t *err) {
    if (src_len < XERIAL_HEADER_LEN)
        return kk_error_set(err, KK_ERR_COMPRESSION, "snappy: xerial stream header is truncated");
    size_t total = 0;
    size_t pos = XERIAL_HEADER_LEN;
    while (pos < src_len) {
        if (src_len - pos < 4)
            return kk_error_set(err, KK_ERR_COMPRESSION,
                                "snappy: xerial block length at offset %zu is truncated", pos);
        uint32_t blen = get_be32(src + pos);
        pos += 4;
        if (blen > src_len - pos)
            return kk_error_set(err, KK_ERR_COMPRESSION,
                                "snappy: xerial block at offset %zu is truncated "
                                "(%" PRIu32 " bytes declared, %zu present)",
                                pos - 4, blen, src_len - pos);
        size_t size;
        int rc = snappy_block_size(src + pos, blen, &size, err);
        if (rc != 0)
            return rc;
        if (size > max_out - total)
            return cap_exceeded("snappy", max_out, err);
        total += size;
        pos += blen;
    }
    uint8_t *p = malloc(total > 0 ? total : 1);
    if (p == NULL)
        return kk_error_set(err, KK_ERR_NO_MEMORY, "snappy: cannot allocate %zu bytes", total);
    size_t off = 0;
    pos = XERIAL_HEADER_LEN;
    while (pos < src_len) {
        uint32_t blen = get_be32(src + pos);
        pos += 4;
        size_t size;
        int rc = snappy_block_size(src + pos, blen, &size, err);
        if (rc == 0)
            rc = snappy_block_decode(src + pos, blen, p + off, size, err);
        if (rc != 0) {
            free(p);
            return rc;
        }
        off += size;
        pos += blen;
    }
    *out = p;
    *out_len = total;
    return 0;
}

static int snappy_decompress(const uint8_t *src, size_t src_len, size_t max_out, uint8_t **out,
                             size_t *out_len, kk_error_t *err) {
    /* Magic first, as Kafka does: a raw block starting with these 8 bytes is not expected. */
    if (src_len >= sizeof XERIAL_MAGIC && memcmp(src, XERIAL_MAGIC, sizeof XERIAL_MAGIC) == 0)
        return xerial_decompress(src, src_len, max_out, out, out_len, err);
    size_t size;
    int rc = snappy_block_size(src, src_len, &size, err);
    if (rc != 0)
        return rc;
    if (size > max_out)
        return cap_exceeded("snappy", max_out, err);
    uint8_t *p = malloc(size > 0 ? size : 1);
    if (p == NULL)
        return kk_error_set(err, KK_ERR_NO_MEMORY, "snappy: cannot allocate %zu bytes", size);
    rc = snappy_block_decode(src, src_len, p, size, err);
    if (rc != 0) {
        free(p);
        return rc;
    }
    *out = p;
    *out_len = size;
    return 0;
}

/* ---- lz4 ------------------------------------------------------------------------------- */

/* Java's reader needs independent blocks; 64 KiB is what Java writes. The content size lets
 * readers check a cap up front. No content checksum, as Java and librdkafka write it: the
 * batch's CRC-32C already covers these bytes, and XXH32 over the content cost a ninth of the
 * compression time (a reader still verifies one a frame carries). */
static LZ4F_preferences_t lz4_preferences(size_t src_len) {
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof prefs);
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    prefs.frameInfo.blockMode = LZ4F_blockIndependent;
    prefs.frameInfo.contentChecksumFlag = LZ4F_noContentChecksum;
    prefs.frameInfo.contentSize = (unsigned long long)src_len;
    return prefs;
}

static int lz4_compress_into(const uint8_t *src, size_t src_len, uint8_t *dst, size_t cap,
                             size_t *n, kk_error_t *err) {
    LZ4F_preferences_t prefs = lz4_preferences(src_len);
    size_t r = LZ4F_compressFrame(dst, cap, src != NULL ? (const void *)src : (const void *)dst,
                                  src_len, &prefs);
    if (LZ4F_isError(r))
        return kk_error_set(err, KK_ERR_COMPRESSION, "lz4: compression failed (%s)",
                            LZ4F_getErrorName(r));
    *n = r;
    return 0;
}

/* True when src stops inside a frame header (rather than holding a bad one). */
static bool lz4_header_truncated(const uint8_t *src, size_t src_len) {
    if (src_len < LZ4F_MIN_SIZE_TO_KNOW_HEADER_LENGTH)
        return true;
    size_t hs = LZ4F_headerSize(src, src_len);
    return !LZ4F_isError(hs) && src_len < hs;
}

static int lz4_decompress(const uint8_t *src, size_t src_len, size_t max_out, uint8_t **out,
                          size_t *out_len, kk_error_t *err) {
    if (src_len == 0)
        return truncated("lz4", err);
    LZ4F_dctx *dctx = NULL;
    size_t r = LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION);
    if (LZ4F_isError(r))
        return kk_error_set(err, KK_ERR_NO_MEMORY, "lz4: cannot create a decompression context");
    LZ4F_frameInfo_t info;
    size_t pos = src_len;
    r = LZ4F_getFrameInfo(dctx, &info, src, &pos);
    int rc = 0;
    outbuf_t o = {0};
    if (LZ4F_isError(r)) {
        rc = lz4_header_truncated(src, src_len)
                 ? truncated("lz4", err)
                 : kk_error_set(err, KK_ERR_COMPRESSION, "lz4: bad frame header (%s)",
                                LZ4F_getErrorName(r));
    } else if (info.contentSize > max_out) {
        rc = cap_exceeded("lz4", max_out, err);
    } else {
        size_t guess =
            info.contentSize > 0 ? stated_guess(info.contentSize, src_len) : guess_size(src_len);
        rc = out_init(&o, "lz4", guess, max_out, err);
    }
    while (rc == 0) {
        if (o.len == o.cap && (rc = out_grow(&o, err)) != 0)
            break;
        size_t room = o.cap - o.len, in = src_len - pos;
        r = LZ4F_decompress(dctx, o.data + o.len, &room, src + pos, &in, NULL);
        if (LZ4F_isError(r)) {
            rc = kk_error_set(err, KK_ERR_COMPRESSION, "lz4: corrupt data (%s)",
                              LZ4F_getErrorName(r));
            break;
        }
        pos += in;
        o.len += room;
        if (o.len > max_out) {
            rc = cap_exceeded("lz4", max_out, err);
        } else if (r == 0) {
            if (pos == src_len)
                break; /* else another frame follows */
        } else if (o.len < o.cap && (pos == src_len || (in == 0 && room == 0))) {
            /* it has room to write and still wants input we do not have */
            rc = truncated("lz4", err);
        }
    }
    LZ4F_freeDecompressionContext(dctx);
    if (rc == 0)
        rc = out_finish(&o, out, out_len, err);
    free(o.data);
    return rc;
}

/* ---- zstd ------------------------------------------------------------------------------ */

static int zstd_compress_into(const uint8_t *src, size_t src_len, uint8_t *dst, size_t cap,
                              size_t *n, kk_error_t *err) {
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    if (cctx == NULL)
        return kk_error_set(err, KK_ERR_NO_MEMORY, "zstd: cannot create a compression context");
    /* The frame also records the content size (compress2 knows it). */
    size_t r = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, ZSTD_LEVEL);
    if (!ZSTD_isError(r))
        r = ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
    if (!ZSTD_isError(r))
        r = ZSTD_compress2(cctx, dst, cap, src != NULL ? (const void *)src : (const void *)dst,
                           src_len);
    ZSTD_freeCCtx(cctx);
    if (ZSTD_isError(r))
        return kk_error_set(err, KK_ERR_COMPRESSION, "zstd: compression failed (%s)",
                            ZSTD_getErrorName(r));
    *n = r;
    return 0;
}

static int zstd_decompress(const uint8_t *src, size_t src_len, size_t max_out, uint8_t **out,
                           size_t *out_len, kk_error_t *err) {
    if (src_len == 0)
        return truncated("zstd", err);
    /* Only the first frame's size is known up front; the loop caps the rest. */
    unsigned long long fcs = ZSTD_getFrameContentSize(src, src_len);
    size_t guess = guess_size(src_len);
    if (fcs != ZSTD_CONTENTSIZE_UNKNOWN && fcs != ZSTD_CONTENTSIZE_ERROR) {
        if (fcs > max_out)
            return cap_exceeded("zstd", max_out, err);
        guess = stated_guess(fcs, src_len);
    }
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    if (dctx == NULL)
        return kk_error_set(err, KK_ERR_NO_MEMORY, "zstd: cannot create a decompression context");
    /* The window a frame declares is allocated before any data is checked: allow none larger
     * than the cap (no output within the cap needs one), but at least 8 MiB, what encoders
     * up to level 19 declare for a stream of unknown size. */
    ZSTD_bounds bounds = ZSTD_dParam_getBounds(ZSTD_d_windowLogMax);
    int window_log = ZSTD_WINDOW_LOG_FLOOR;
    while (window_log < bounds.upperBound && window_log < 62 && ((size_t)1 << window_log) < max_out)
        window_log++;
    outbuf_t o = {0};
    int rc = 0;
    size_t set = ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, window_log);
    if (ZSTD_isError(set))
        rc = kk_error_set(err, KK_ERR_COMPRESSION, "zstd: %s", ZSTD_getErrorName(set));
    if (rc == 0)
        rc = out_init(&o, "zstd", guess, max_out, err);
    ZSTD_inBuffer in = {src, src_len, 0};
    while (rc == 0) {
        if (o.len == o.cap && (rc = out_grow(&o, err)) != 0)
            break;
        ZSTD_outBuffer ob = {o.data + o.len, o.cap - o.len, 0};
        size_t in_before = in.pos;
        size_t r = ZSTD_decompressStream(dctx, &ob, &in);
        if (ZSTD_isError(r)) {
            rc = kk_error_set(err, KK_ERR_COMPRESSION, "zstd: corrupt data (%s)",
                              ZSTD_getErrorName(r));
            break;
        }
        o.len += ob.pos;
        if (o.len > max_out) {
            rc = cap_exceeded("zstd", max_out, err);
        } else if (r == 0) {
            if (in.pos == in.size)
                break; /* else another frame follows */
        } else if (ob.pos < ob.size && (in.pos == in.size || in.pos == in_before)) {
            /* zstd flushes all it can when output room is left: it needs more input */
            rc = truncated("zstd", err);
        }
    }
    ZSTD_freeDCtx(dctx);
    if (rc == 0)
        rc = out_finish(&o, out, out_len, err);
    free(o.data);
    return rc;
}

/* ---- dispatch -------------------------------------------------------------------------- */

/* The most bytes snappy, lz4 or zstd write for src_len bytes, so that they can compress
 * straight into a buffer of that size; 0 for the codecs that grow their output instead. */
static int compress_bound(kk_codec_t codec, size_t src_len, size_t *bound, kk_error_t *err) {
    *bound = 0;
    switch (codec) {
    case KK_CODEC_SNAPPY:
        *bound = snappy_max_compressed_length(src_len);
        return 0;
    case KK_CODEC_LZ4: {
        LZ4F_preferences_t prefs = lz4_preferences(src_len);
        size_t cap = LZ4F_compressFrameBound(src_len, &prefs);
        if (LZ4F_isError(cap))
            return kk_error_set(err, KK_ERR_COMPRESSION, "lz4: %s", LZ4F_getErrorName(cap));
        *bound = cap;
        return 0;
    }
    case KK_CODEC_ZSTD: {
        size_t cap = ZSTD_compressBound(src_len);
        if (ZSTD_isError(cap) || cap == 0)
            return kk_error_set(err, KK_ERR_COMPRESSION, "zstd: %zu bytes is too large to compress",
                                src_len);
        *bound = cap;
        return 0;
    }
    default:
        return 0;
    }
}

static int compress_into(kk_codec_t codec, const uint8_t *src, size_t src_len, uint8_t *dst,
                         size_t cap, size_t *n, kk_error_t *err) {
    switch (codec) {
    case KK_CODEC_SNAPPY:
        return snappy_compress_into(src, src_len, dst, cap, n, err);
    case KK_CODEC_LZ4:
        return lz4_compress_into(src, src_len, dst, cap, n, err);
    default:
        return zstd_compress_into(src, src_len, dst, cap, n, err);
    }
}

int kk_compress(kk_codec_t codec, const uint8_t *src, size_t src_len, uint8_t **out,
                size_t *out_len, kk_error_t *err) {
    if (out == NULL || out_len == NULL || (src == NULL && src_len > 0))
        return kk_error_set(err, KK_ERR_INVALID_ARG, "kk_compress: NULL buffer");
    *out = NULL;
    *out_len = 0;
    switch (codec) {
    case KK_CODEC_NONE:
        return copy_bytes(src, src_len, out, out_len, err);
    case KK_CODEC_GZIP:
        return gzip_compress(src, src_len, out, out_len, err);
    case KK_CODEC_SNAPPY:
    case KK_CODEC_LZ4:
    case KK_CODEC_ZSTD: {
        size_t cap;
        int rc = compress_bound(codec, src_len, &cap, err);
        if (rc != 0)
            return rc;
        uint8_t *p = malloc(cap);
        if (p == NULL)
            return kk_error_set(err, KK_ERR_NO_MEMORY, "%s: cannot allocate %zu bytes",
                                kk_codec_name(codec), cap);
        size_t n = 0;
        rc = compress_into(codec, src, src_len, p, cap, &n, err);
        if (rc != 0) {
            free(p);
            return rc;
        }
        *out = p;
        *out_len = n;
        return 0;
    }
    }
    return kk_error_set(err, KK_ERR_INVALID_ARG, "unknown compression codec %d", (int)codec);
}

int kk_compress_append(kk_codec_t codec, const uint8_t *src, size_t src_len, kk_writer_t *w,
                       kk_error_t *err) {
    if (w == NULL || (src == NULL && src_len > 0))
        return kk_error_set(err, KK_ERR_INVALID_ARG, "kk_compress_append: NULL buffer");
    size_t cap;
    int rc = compress_bound(codec, src_len, &cap, err);
    if (rc != 0)
        return rc;
    if (cap == 0) { /* gzip, none, or an unknown codec: through a buffer of their own */
        uint8_t *out = NULL;
        size_t out_len = 0;
        rc = kk_compress(codec, src, src_len, &out, &out_len, err);
        if (rc != 0)
            return rc;
        kk_write_raw(w, out, out_len);
        free(out);
    } else if (kk_writer_reserve(w, cap)) {
        size_t n = 0;
        rc = compress_into(codec, src, src_len, w->data + w->len, cap, &n, err);
        if (rc != 0)
            return rc;
        w->len += n;
    }
    if (w->failed)
        return kk_error_set(err, KK_ERR_NO_MEMORY, "%s: cannot grow the output",
                            kk_codec_name(codec));
    return 0;
}

int kk_decompress(kk_codec_t codec, const uint8_t *src, size_t src_len, size_t max_out,
                  uint8_t **out, size_t *out_len, kk_error_t *err) {
    if (out == NULL || out_len == NULL || (src == NULL && src_len > 0))
        return kk_error_set(err, KK_ERR_INVALID_ARG, "kk_decompress: NULL buffer");
    *out = NULL;
    *out_len = 0;
    switch (codec) {
    case KK_CODEC_NONE:
        if (src_len > max_out)
            return cap_exceeded("none", max_out, err);
        return copy_bytes(src, src_len, out, out_len, err);
    case KK_CODEC_GZIP:
        return gzip_decompress(src, src_len, max_out, out, out_len, err);
    case KK_CODEC_SNAPPY:
        return snappy_decompress(src, src_len, max_out, out, out_len, err);
    case KK_CODEC_LZ4:
        return lz4_decompress(src, src_len, max_out, out, out_len, err);
    case KK_CODEC_ZSTD:
        return zstd_decompress(src, src_len, max_out, out, out_len, err);
    }
    /* The codec bits come off the wire, so an unknown value is bad data, not a bad call. */
    return kk_error_set(err, KK_ERR_COMPRESSION, "unknown compression codec %d in the data",
                        (int)codec);
}
