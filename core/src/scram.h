/*
 * The client side of SCRAM (RFC 5802, with SHA-256 and SHA-512 as RFC 7677 and Kafka use them):
 * builds the client's two messages and checks the server's signature, so that a server that
 * does not know the password is refused. No I/O here; sasl.c carries the messages.
 */
#ifndef KK_SCRAM_H
#define KK_SCRAM_H

#include <stddef.h>
#include <stdint.h>

#include "kafkette.h"

#define KK_SCRAM_MAX_HASH 64

typedef struct kk_scram {
    int hash;                /* 256 or 512 */
    char *client_first_bare; /* "n=user,r=nonce" */
    char *client_nonce;
    uint8_t server_signature[KK_SCRAM_MAX_HASH];
    size_t hash_len;
    bool have_signature;
} kk_scram_t;

/* Starts an exchange: *out gets the client-first message (caller frees). nonce may be NULL for a
 * fresh random one (tests pass RFC 7677's). KK_ERR_INVALID_ARG for a bad hash; KK_ERR_NO_MEMORY. */
int kk_scram_client_first(kk_scram_t *s, int hash, const char *username, const char *nonce,
                          char **out, kk_error_t *err);
/* From the server-first message, computes the proof: *out gets the client-final message
 * (caller frees). KK_ERR_AUTHENTICATION when the server's message is not acceptable (a nonce
 * that does not extend ours, too few iterations, an error attribute). */
int kk_scram_client_final(kk_scram_t *s, const char *password, const uint8_t *server_first,
                          size_t len, char **out, kk_error_t *err);
/* Checks the server-final message: KK_OK only when it carries the signature only a server that
 * knows the password can compute; KK_ERR_AUTHENTICATION otherwise. */
int kk_scram_verify_server_final(kk_scram_t *s, const uint8_t *server_final, size_t len,
                                 kk_error_t *err);
/* Wipes and frees everything the exchange holds; s can start again. */
void kk_scram_free(kk_scram_t *s);

#endif
