/*
 * TLS through OpenSSL for the connection layer: a context per client (trusted CAs, the client
 * certificate, host name checking) and a session per connection on its non-blocking socket.
 * No function here waits: each step says which poll() events it needs, and connection.c waits
 * for them with its deadline and wake-up pipe.
 */
#ifndef KK_TLS_H
#define KK_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "kafkette.h"

typedef struct kk_tls_ctx kk_tls_ctx_t;
typedef struct kk_tls kk_tls_t;

/* Loads the CA file (or the system's store), the client certificate and key from cfg; the
 * key's password is used only here and never kept. KK_ERR_INVALID_ARG naming the option when a
 * file cannot be loaded; KK_ERR_SSL when OpenSSL cannot make a context. Free with
 * kk_tls_ctx_free. */
int kk_tls_ctx_new(const kk_client_config_t *cfg, kk_tls_ctx_t **out, kk_error_t *err);
void kk_tls_ctx_free(kk_tls_ctx_t *ctx);
/* Whether a client certificate was configured (for hints in messages). */
bool kk_tls_ctx_has_certificate(const kk_tls_ctx_t *ctx);

/* A session on a connected non-blocking socket to host (a name or an IP literal: SNI is sent
 * for names, and the certificate must name the host unless check_hostname is off). NULL and
 * err filled on failure. kk_tls_free never writes to the socket (no close_notify), so freeing
 * in a forked child leaves the parent's stream intact; it does not close fd. */
kk_tls_t *kk_tls_new(kk_tls_ctx_t *ctx, int fd, const char *host, kk_error_t *err);
void kk_tls_free(kk_tls_t *tls);

/* One step of the handshake. KK_OK when it is complete; KK_TLS_AGAIN with *events set to the
 * poll() events to wait for; otherwise an error code with err saying why: KK_ERR_CERTIFICATE
 * (verification failed), KK_ERR_AUTHENTICATION (the broker refused our certificate), KK_ERR_SSL
 * (anything else, including a peer that does not speak TLS). */
#define KK_TLS_AGAIN 1
int kk_tls_handshake(kk_tls_t *tls, short *events, kk_error_t *err);

/* Reads or writes up to len bytes. KK_OK with *done > 0; KK_TLS_AGAIN with *events set;
 * KK_ERR_CONNECTION_CLOSED when the peer closed; another error code with err filled. */
int kk_tls_read(kk_tls_t *tls, void *buf, size_t len, size_t *done, short *events, kk_error_t *err);
int kk_tls_write(kk_tls_t *tls, const void *buf, size_t len, size_t *done, short *events,
                 kk_error_t *err);

/* True when decrypted bytes wait in the session, which poll() on the socket cannot see. */
bool kk_tls_pending(const kk_tls_t *tls);

/* "TLSv1.3 TLS_AES_256_GCM_SHA384", for log lines. Static or session-owned string. */
const char *kk_tls_version(const kk_tls_t *tls);
const char *kk_tls_cipher(const kk_tls_t *tls);

#endif
