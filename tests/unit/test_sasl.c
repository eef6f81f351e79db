/*
 * SASL pieces that need no broker: SaslHandshake and SaslAuthenticate golden bytes (derived by
 * hand from the Kafka message schemas), every truncation of their responses, and the SCRAM
 * client against RFC 7677's SCRAM-SHA-256 example (and the same exchange for SHA-512, computed
 * independently with Python's hashlib), including a server that cannot prove itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"
#include "protocol.h"
#include "protocol_sasl.h"
#include "scram.h"

static void assert_bytes(const kk_writer_t *w, const uint8_t *expected, size_t len) {
    assert_false(w->failed);
    assert_int_equal(w->len, len);
    assert_memory_equal(w->data, expected, len);
}

static void test_versions_we_speak(void **state) {
    (void)state;
    int16_t lo, hi;
    assert_true(kk_protocol_supported(KK_API_SASL_HANDSHAKE, &lo, &hi));
    assert_int_equal(lo, 1); /* v0 sent the tokens without Kafka framing */
    assert_int_equal(hi, 1);
    assert_false(kk_protocol_is_flexible(KK_API_SASL_HANDSHAKE, 1));
    assert_true(kk_protocol_supported(KK_API_SASL_AUTHENTICATE, &lo, &hi));
    assert_int_equal(lo, 0);
    assert_int_equal(hi, 2);
    assert_false(kk_protocol_is_flexible(KK_API_SASL_AUTHENTICATE, 1));
    assert_true(kk_protocol_is_flexible(KK_API_SASL_AUTHENTICATE, 2));
    assert_int_equal(kk_protocol_response_header_version(KK_API_SASL_AUTHENTICATE, 2), 1);
    assert_int_equal(kk_protocol_response_header_version(KK_API_SASL_HANDSHAKE, 1), 0);
}

static void test_handshake_request(void **state) {
    (void)state;
    kk_writer_t w;
    kk_writer_init(&w);
    kk_encode_sasl_handshake_request(&w, 1, "SCRAM-SHA-512");
    const uint8_t expected[] = {0,   13,  'S', 'C', 'R', 'A', 'M', '-',
                                'S', 'H', 'A', '-', '5', '1', '2'};
    assert_bytes(&w, expected, sizeof(expected));
    kk_writer_free(&w);
}

static const uint8_t handshake_unsupported[] = {
    0, 33,         /* UNSUPPORTED_SASL_MECHANISM */
    0, 0,  0,   2, /* 2 mechanisms */
    0, 5,  'P', 'L', 'A', 'I', 'N', 0, 11, 'O', 'A', 'U', 'T', 'H', 'B', 'E', 'A', 'R', 'E', 'R',
};

static void test_handshake_response(void **state) {
    (void)state;
    kk_reader_t r;
    kk_reader_init(&r, handshake_unsupported, sizeof(handshake_unsupported));
    kk_sasl_handshake_response_t resp;
    kk_error_t err;
    assert_int_equal(kk_decode_sasl_handshake_response(&r, 1, &resp, &err), KK_OK);
    assert_int_equal(resp.error_code, 33);
    assert_int_equal(resp.mechanism_count, 2);
    assert_string_equal(resp.mechanisms[0], "PLAIN");
    assert_string_equal(resp.mechanisms[1], "OAUTHBEARER");
    kk_sasl_handshake_response_free(&resp);

    for (size_t cut = 0; cut < sizeof(handshake_unsupported); cut++) {
        kk_reader_init(&r, handshake_unsupported, cut);
        print_message("cut at %zu\n", cut);
        assert_int_equal(kk_decode_sasl_handshake_response(&r, 1, &resp, &err), KK_ERR_MALFORMED);
        assert_null(resp.mechanisms);
    }
}

static void test_authenticate_request(void **state) {
    (void)state;
    kk_writer_t w;
    kk_writer_init(&w);
    kk_encode_sasl_authenticate_request(&w, 1, "\0u\0p", 4);
    const uint8_t v1[] = {0, 0, 0, 4, 0, 'u', 0, 'p'};
    assert_bytes(&w, v1, sizeof(v1));
    kk_writer_reset(&w);
    kk_encode_sasl_authenticate_request(&w, 2, "\0u\0p", 4);
    const uint8_t v2[] = {5, 0, 'u', 0, 'p', 0 /* tags */};
    assert_bytes(&w, v2, sizeof(v2));
    kk_writer_reset(&w);
    kk_encode_sasl_authenticate_request(&w, 0, NULL, 0);
    const uint8_t empty[] = {0, 0, 0, 0}; /* empty, never null */
    assert_bytes(&w, empty, sizeof(empty));
    kk_writer_free(&w);
}

static const uint8_t authenticate_v1_failed[] = {
    0, 58,                         /* SASL_AUTHENTICATION_FAILED */
    0, 3,  'b', 'a', 'd',          /* error message */
    0, 0,  0,   0,                 /* no token */
    0, 0,  0,   0,   0,   0, 0, 0, /* session lifetime */
};

static const uint8_t authenticate_v2_ok[] = {
    0, 0,   0,                        /* null error message */
    3, 'v', '=',                      /* token "v=" */
    0, 0,   0,   0, 0, 0, 0x27, 0x10, /* session lifetime 10000 ms */
    0,                                /* tags */
};

static void test_authenticate_responses(void **state) {
    (void)state;
    kk_reader_t r;
    kk_sasl_authenticate_response_t resp;
    kk_error_t err;
    kk_reader_init(&r, authenticate_v1_failed, sizeof(authenticate_v1_failed));
    assert_int_equal(kk_decode_sasl_authenticate_response(&r, 1, &resp, &err), KK_OK);
    assert_int_equal(resp.error_code, 58);
    assert_string_equal(resp.error_message, "bad");
    assert_null(resp.auth_bytes);
    assert_int_equal(resp.session_lifetime_ms, 0);
    kk_sasl_authenticate_response_free(&resp);

    /* v0 is the same without the lifetime */
    kk_reader_init(&r, authenticate_v1_failed, sizeof(authenticate_v1_failed) - 8);
    assert_int_equal(kk_decode_sasl_authenticate_response(&r, 0, &resp, &err), KK_OK);
    assert_int_equal(kk_reader_remaining(&r), 0);
    kk_sasl_authenticate_response_free(&resp);

    kk_reader_init(&r, authenticate_v2_ok, sizeof(authenticate_v2_ok));
    assert_int_equal(kk_decode_sasl_authenticate_response(&r, 2, &resp, &err), KK_OK);
    assert_int_equal(resp.error_code, 0);
    assert_null(resp.error_message);
    assert_int_equal(resp.auth_len, 2);
    assert_memory_equal(resp.auth_bytes, "v=", 2);
    assert_int_equal(resp.session_lifetime_ms, 10000);
    kk_sasl_authenticate_response_free(&resp);

    for (size_t cut = 0; cut < sizeof(authenticate_v2_ok); cut++) {
        kk_reader_init(&r, authenticate_v2_ok, cut);
        assert_int_equal(kk_decode_sasl_authenticate_response(&r, 2, &resp, &err),
                         KK_ERR_MALFORMED);
        assert_null(resp.auth_bytes);
    }
    for (size_t cut = 0; cut < sizeof(authenticate_v1_failed); cut++) {
        kk_reader_init(&r, authenticate_v1_failed, cut);
        assert_int_equal(kk_decode_sasl_authenticate_response(&r, 1, &resp, &err),
                         KK_ERR_MALFORMED);
        assert_null(resp.error_message);
    }
}

/* ---- SCRAM ------------------------------------------------------------------------------- */

#define NONCE "rOprNGfwEbeRWgbNEkqO"
#define SERVER_FIRST "r=" NONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"

static const uint8_t *u8(const char *s) { return (const uint8_t *)s; }

static void run_exchange(int hash, const char *final_expected, const char *server_final) {
    kk_scram_t s;
    kk_error_t err;
    char *first, *final;
    assert_int_equal(kk_scram_client_first(&s, hash, "user", NONCE, &first, &err), KK_OK);
    assert_string_equal(first, "n,,n=user,r=" NONCE);
    assert_int_equal(
        kk_scram_client_final(&s, "pencil", u8(SERVER_FIRST), strlen(SERVER_FIRST), &final, &err),
        KK_OK);
    assert_string_equal(final, final_expected);
    assert_int_equal(kk_scram_verify_server_final(&s, u8(server_final), strlen(server_final), &err),
                     KK_OK);
    free(first);
    free(final);
    kk_scram_free(&s);
}

static void test_scram_sha256_rfc7677(void **state) {
    (void)state;
    run_exchange(256,
                 "c=biws,r=" NONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                 "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
                 "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
}

static void test_scram_sha512(void **state) {
    (void)state;
    run_exchange(512,
                 "c=biws,r=" NONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                 "p=gMGXRcevScNtxZ6/"
                 "8lQYpGtnsNAc3mGcmNomv+xnoOMw+3R2xNJdMNnzMlTN8PPC6wdp6dybEmDYXYTxwnYPJQ==",
                 "v=ZQnYEgWQMFmmsM8aQMF0nDDCy/"
                 "AgCzkwk8CmMZYcMg0vSVlKDanekLtifDSeVGT4+5ZxXnJq199RVG2rR7N7Zw==");
}

/* A server that does not know the password cannot produce the signature: refused. */
static void test_scram_refuses_a_server_without_the_password(void **state) {
    (void)state;
    static const char *const bad_finals[] = {
        "v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", /* wrong signature */
        "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4",  /* cut (not base64) */
        "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5n",             /* too short */
        "",                                               /* no signature at all */
        "e=other-error",                                  /* an error */
    };
    for (size_t i = 0; i < sizeof(bad_finals) / sizeof(bad_finals[0]); i++) {
        kk_scram_t s;
        kk_error_t err;
        char *first, *final;
        assert_int_equal(kk_scram_client_first(&s, 256, "user", NONCE, &first, &err), KK_OK);
        assert_int_equal(kk_scram_client_final(&s, "pencil", u8(SERVER_FIRST), strlen(SERVER_FIRST),
                                               &final, &err),
                         KK_OK);
        print_message("%s\n", bad_finals[i]);
        assert_int_equal(
            kk_scram_verify_server_final(&s, u8(bad_finals[i]), strlen(bad_finals[i]), &err),
            KK_ERR_AUTHENTICATION);
        assert_null(strstr(err.message, "pencil"));
        free(first);
        free(final);
        kk_scram_free(&s);
    }
}

static void test_scram_refuses_bad_server_first(void **state) {
    (void)state;
    static const char *const bad[] = {
        "r=someoneelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",      /* does not extend our nonce */
        "r=" NONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",        /* adds nothing to it */
        "r=" NONCE "x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1",          /* too few iterations */
        "r=" NONCE "x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999",   /* too many */
        "r=" NONCE "x,s=***,i=4096",                            /* salt not base64 */
        "r=" NONCE "x,i=4096",                                  /* no salt */
        "m=ext,r=" NONCE "x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", /* mandatory extension */
        "e=unknown-user",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        kk_scram_t s;
        kk_error_t err;
        char *first, *final = NULL;
        assert_int_equal(kk_scram_client_first(&s, 512, "user", NONCE, &first, &err), KK_OK);
        print_message("%s\n", bad[i]);
        assert_int_equal(
            kk_scram_client_final(&s, "pencil", u8(bad[i]), strlen(bad[i]), &final, &err),
            KK_ERR_AUTHENTICATION);
        assert_null(final);
        free(first);
        kk_scram_free(&s);
    }
}

static void test_scram_escapes_names_and_makes_nonces(void **state) {
    (void)state;
    kk_scram_t s;
    kk_error_t err;
    char *first, *second;
    assert_int_equal(kk_scram_client_first(&s, 256, "a=b,c", NULL, &first, &err), KK_OK);
    assert_memory_equal(first, "n,,n=a=3Db=2Cc,r=", 17);
    assert_true(strlen(first) >= 17 + 32);
    assert_null(strchr(first + 17, ','));
    kk_scram_free(&s);
    assert_int_equal(kk_scram_client_first(&s, 256, "a=b,c", NULL, &second, &err), KK_OK);
    assert_string_not_equal(first, second); /* a fresh nonce each time */
    kk_scram_free(&s);
    free(first);
    free(second);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_versions_we_speak),
        cmocka_unit_test(test_handshake_request),
        cmocka_unit_test(test_handshake_response),
        cmocka_unit_test(test_authenticate_request),
        cmocka_unit_test(test_authenticate_responses),
        cmocka_unit_test(test_scram_sha256_rfc7677),
        cmocka_unit_test(test_scram_sha512),
        cmocka_unit_test(test_scram_refuses_a_server_without_the_password),
        cmocka_unit_test(test_scram_refuses_bad_server_first),
        cmocka_unit_test(test_scram_escapes_names_and_makes_nonces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
