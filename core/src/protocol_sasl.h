/* SASL over the Kafka protocol (KIP-152): SaslHandshake v1 names the mechanism, then the SASL
 * tokens travel in SaslAuthenticate (v0..v2) requests. */
#ifndef KK_PROTOCOL_SASL_H
#define KK_PROTOCOL_SASL_H

#include "buffer.h"
#include "kafkette.h"

void kk_encode_sasl_handshake_request(kk_writer_t *w, int16_t version, const char *mechanism);

typedef struct kk_sasl_handshake_response {
    int16_t error_code;
    char **mechanisms; /* what the broker enables on this listener; owned */
    size_t mechanism_count;
} kk_sasl_handshake_response_t;

int kk_decode_sasl_handshake_response(kk_reader_t *r, int16_t version,
                                      kk_sasl_handshake_response_t *out, kk_error_t *err);
void kk_sasl_handshake_response_free(kk_sasl_handshake_response_t *resp);

void kk_encode_sasl_authenticate_request(kk_writer_t *w, int16_t version, const void *auth_bytes,
                                         size_t len);

typedef struct kk_sasl_authenticate_response {
    int16_t error_code;
    char *error_message; /* NULL when absent; owned */
    uint8_t *auth_bytes; /* the server's SASL token (NULL when empty); owned */
    size_t auth_len;
    int64_t session_lifetime_ms; /* v1+: 0 means the session does not expire */
} kk_sasl_authenticate_response_t;

int kk_decode_sasl_authenticate_response(kk_reader_t *r, int16_t version,
                                         kk_sasl_authenticate_response_t *out, kk_error_t *err);
void kk_sasl_authenticate_response_free(kk_sasl_authenticate_response_t *resp);

#endif
