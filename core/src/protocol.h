/*
 * Pure encoders and decoders for Kafka requests and responses: no sockets here, so every
 * function is testable with byte vectors.
 */
#ifndef KK_PROTOCOL_H
#define KK_PROTOCOL_H

#include "buffer.h"
#include "kafkette.h"

/* The inclusive version range this library implements for an API; false if none. */
bool kk_protocol_supported(int api_key, int16_t *min_version, int16_t *max_version);
/* Whether (api_key, version) uses the flexible encoding (compact types, tagged fields). */
bool kk_protocol_is_flexible(int api_key, int16_t version);
/* Response header version: 1 for flexible versions, except ApiVersions, always 0. */
int kk_protocol_response_header_version(int api_key, int16_t version);

/* Request header v1 (client id as an int16 string) or v2 (v1 plus tagged fields), chosen
 * by the API's flexibility. The size prefix is not written here. */
void kk_encode_request_header(kk_writer_t *w, int api_key, int16_t version, int32_t correlation_id,
                              const char *client_id);
/* Reads a response header, checks the correlation id. Returns 0, KK_ERR_MALFORMED or
 * KK_ERR_CORRELATION (with a message in err). */
int kk_decode_response_header(kk_reader_t *r, int header_version, int32_t expected_correlation_id,
                              kk_error_t *err);
/* The common failure exit of the response decoders, naming the API and version: returns
 * KK_ERR_NO_MEMORY when oom, else KK_ERR_MALFORMED. */
/* Reads a response's int16 error code as a library code (kk_err_from_broker): every decoder
 * reads error codes through it, so a broker's code never reaches the caller as a client-side
 * condition. */
int16_t kk_read_error_code(kk_reader_t *r);

int kk_decode_failed(kk_error_t *err, bool oom, const char *api, int16_t version);

/* ---- ApiVersions ------------------------------------------------------------------------ */

typedef struct kk_api_version_range {
    int16_t api_key;
    int16_t min_version;
    int16_t max_version;
} kk_api_version_range_t;

typedef struct kk_api_versions_response {
    int16_t error_code;
    kk_api_version_range_t *ranges; /* owned; free with kk_api_versions_response_free */
    size_t range_count;
    int32_t throttle_time_ms;
} kk_api_versions_response_t;

void kk_encode_api_versions_request(kk_writer_t *w, int16_t version);
/* On UNSUPPORTED_VERSION the broker answers in the v0 layout whatever we asked for, so the
 * decoder falls back to v0 when the error code says so. */
int kk_decode_api_versions_response(kk_reader_t *r, int16_t version,
                                    kk_api_versions_response_t *out, kk_error_t *err);
void kk_api_versions_response_free(kk_api_versions_response_t *resp);

/* Picks, for every API the library knows, the highest version both sides support (-1 when
 * there is none), honouring per-API caps (negative = no cap). */
void kk_negotiate_versions(const kk_api_versions_response_t *resp, const int16_t *caps,
                           int16_t versions_out[KK_API__COUNT]);
/* The versions to assume for a broker that predates ApiVersions (Kafka 0.9 and older). */
void kk_legacy_versions(int16_t versions_out[KK_API__COUNT]);

/* ---- Metadata --------------------------------------------------------------------------- */

/* topic_count 0 asks for all topics. */
void kk_encode_metadata_request(kk_writer_t *w, int16_t version, const char *const *topics,
                                size_t topic_count, bool allow_auto_topic_creation);
/* Decodes into a new snapshot the caller frees with kk_metadata_free(). */
int kk_decode_metadata_response(kk_reader_t *r, int16_t version, kk_metadata_t **out,
                                kk_error_t *err);

#endif
