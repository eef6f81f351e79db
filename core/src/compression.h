/*
 * Record-batch compression codecs, in the exact wire formats Kafka uses.
 *
 * gzip:   a gzip stream (zlib-wrapped and concatenated members are accepted on decode).
 * snappy: a raw snappy block on encode; decode also takes the xerial framing that the Java
 *         client writes (magic "\x82SNAPPY\0", two int32 versions, then int32-length blocks).
 * lz4:    a standard LZ4 frame (KIP-57: correct header checksum), independent 64 KiB blocks,
 *         content size set, no content checksum (the batch's CRC-32C covers the bytes).
 * zstd:   a standard zstd frame (level 3, with content checksum).
 */
#ifndef KK_COMPRESSION_H
#define KK_COMPRESSION_H

#include <stddef.h>
#include <stdint.h>

#include "buffer.h"
#include "kafkette.h"

/* kk_codec_t, kk_codec_from_name and kk_codec_name are public (kafkette.h). */

/* Compresses src into a new buffer: on success *out (malloc'ed, never NULL, freed by the
 * caller) holds *out_len bytes. KK_CODEC_NONE copies. Fails with KK_ERR_INVALID_ARG for an
 * unknown codec or bad pointers, KK_ERR_NO_MEMORY, or KK_ERR_COMPRESSION. On failure *out
 * is NULL and *out_len 0. */
int kk_compress(kk_codec_t codec, const uint8_t *src, size_t src_len, uint8_t **out,
                size_t *out_len, kk_error_t *err);

/* Compresses src onto the end of w, as kk_compress would (snappy, lz4 and zstd straight into
 * w's buffer: no second buffer, no copy). On failure w's length is unchanged (w->failed set
 * when memory ran out). */
int kk_compress_append(kk_codec_t codec, const uint8_t *src, size_t src_len, kk_writer_t *w,
                       kk_error_t *err);

/* Decompresses src into a new buffer: on success *out (malloc'ed, never NULL even for empty
 * output, freed by the caller) holds *out_len bytes. Fails with KK_ERR_COMPRESSION when the
 * input is corrupt, truncated or followed by stray bytes, the codec value is unknown, or the
 * output would exceed max_out bytes: a decompression-bomb guard, checked before allocating
 * when the format states the size; otherwise the output buffer never grows past
 * max_out + 1 bytes (the codecs' own state stays within their format limits, e.g. zstd's
 * default 128 MiB window cap). KK_ERR_NO_MEMORY; KK_ERR_INVALID_ARG for bad pointers.
 * On failure *out is NULL and *out_len 0. */
int kk_decompress(kk_codec_t codec, const uint8_t *src, size_t src_len, size_t max_out,
                  uint8_t **out, size_t *out_len, kk_error_t *err);

#endif /* KK_COMPRESSION_H */
