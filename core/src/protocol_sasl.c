#include "protocol_sasl.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "protocol.h"

/* ---- SaslHandshake (17) ------------------------------------------------------------------ */

void kk_encode_sasl_handshake_request(kk_writer_t *w, int16_t version, const char *mechanism) {
    (void)version; /* v0 and v1 share the layout; v1 only changes what follows */
    kk_write_string(w, mechanism);
}

int kk_decode_sasl_handshake_response(kk_reader_t *r, int16_t version,
                                      kk_sasl_handshake_response_t *out, kk_error_t *err) {
    memset(out, 0, sizeof(*out));
    out->error_code = kk_read_i16(r);
    int32_t n = kk_read_array_len(r, 2);
    bool oom = false;
    if (!r->failed && n > 0) {
        out->mechanisms = calloc((size_t)n, sizeof(*out->mechanisms));
        oom = !out->mechanisms;
    }
    for (int32_t i = 0; !oom && !r->failed && i < n; i++) {
        kk_slice_t s = kk_read_string(r);
        if (s.len < 0) {
            kk_reader_fail(r);
            break;
        }
        out->mechanisms[i] = kk_slice_strdup(s, &oom);
        out->mechanism_count = (size_t)i + 1;
    }
    if (oom || r->failed) {
        kk_sasl_handshake_response_free(out);
        return kk_decode_failed(err, oom, "SaslHandshake", version);
    }
    return KK_OK;
}

void kk_sasl_handshake_response_free(kk_sasl_handshake_response_t *resp) {
    for (size_t i = 0; i < resp->mechanism_count; i++)
        free(resp->mechanisms[i]);
    free(resp->mechanisms);
    resp->mechanisms = NULL;
    resp->mechanism_count = 0;
}

/* ---- SaslAuthenticate (36) --------------------------------------------------------------- */

void kk_encode_sasl_authenticate_request(kk_writer_t *w, int16_t version, const void *auth_bytes,
                                         size_t len) {
    bool flexible = kk_protocol_is_flexible(KK_API_SASL_AUTHENTICATE, version);
    /* the token is never null: an empty one is a zero-length byte string */
    kk_write_bytes_v(w, auth_bytes ? auth_bytes : "", len, flexible);
    if (flexible)
        kk_write_empty_tags(w);
}

int kk_decode_sasl_authenticate_response(kk_reader_t *r, int16_t version,
                                         kk_sasl_authenticate_response_t *out, kk_error_t *err) {
    memset(out, 0, sizeof(*out));
    bool flexible = kk_protocol_is_flexible(KK_API_SASL_AUTHENTICATE, version);
    bool oom = false;
    out->error_code = kk_read_i16(r);
    kk_slice_t message = kk_read_str_v(r, flexible);
    kk_slice_t token = kk_read_bytes_v(r, flexible);
    if (version >= 1)
        out->session_lifetime_ms = kk_read_i64(r);
    if (flexible)
        kk_read_skip_tags(r);
    if (!r->failed) {
        out->error_message = kk_slice_strdup(message, &oom);
        if (!oom)
            out->auth_bytes = kk_slice_memdup(token, &out->auth_len, &oom);
    }
    if (oom || r->failed) {
        kk_sasl_authenticate_response_free(out);
        return kk_decode_failed(err, oom, "SaslAuthenticate", version);
    }
    return KK_OK;
}

void kk_sasl_authenticate_response_free(kk_sasl_authenticate_response_t *resp) {
    free(resp->error_message);
    free(resp->auth_bytes);
    resp->error_message = NULL;
    resp->auth_bytes = NULL;
    resp->auth_len = 0;
}
