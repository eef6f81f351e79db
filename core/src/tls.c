/*
 * TLS sessions over the connection's non-blocking socket, through OpenSSL. The socket is
 * reached through a small BIO of our own that sends with MSG_NOSIGNAL, so a broker that hangs
 * up mid-write gives an error instead of SIGPIPE (OpenSSL's socket BIO uses write()).
 */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "error.h"

struct kk_tls_ctx {
    SSL_CTX *ssl_ctx;
    BIO_METHOD *bio_method;
    bool check_hostname;
    bool has_certificate;
};

struct kk_tls {
    SSL *ssl;
    const kk_tls_ctx_t *ctx;
    char host[256];
    bool handshake_done;
};

/* ---- the socket BIO ----------------------------------------------------------------------- */

static int bio_write(BIO *b, const char *data, int len) {
    int fd = (int)(intptr_t)BIO_get_data(b);
    BIO_clear_retry_flags(b);
    for (;;) {
        ssize_t n = send(fd, data, (size_t)len, MSG_NOSIGNAL);
        if (n >= 0)
            return (int)n;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            BIO_set_retry_write(b);
        return -1;
    }
}

static int bio_read(BIO *b, char *buf, int len) {
    int fd = (int)(intptr_t)BIO_get_data(b);
    BIO_clear_retry_flags(b);
    for (;;) {
        ssize_t n = recv(fd, buf, (size_t)len, 0);
        if (n >= 0) {
            if (n == 0)
                errno = 0; /* a clean EOF: SSL_ERROR_SYSCALL then carries no errno */
            return (int)n;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            BIO_set_retry_read(b);
        return -1;
    }
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
    (void)b, (void)num, (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b) {
    BIO_set_init(b, 1);
    return 1;
}

/* ---- messages ------------------------------------------------------------------------------ */

/* The reason of the newest error in OpenSSL's queue ("certificate verify failed"), or of the
 * oldest (the root cause, "bad decrypt" under "PEM lib" when a key does not load), and empties
 * the queue (it is per thread, and a stale entry would confuse the next call). */
static unsigned long queue_error(char *buf, size_t size, bool oldest) {
    unsigned long e = oldest ? ERR_peek_error() : ERR_peek_last_error();
    const char *reason = e ? ERR_reason_error_string(e) : NULL;
    if (e && ERR_SYSTEM_ERROR(e))
        snprintf(buf, size, "%s", strerror(ERR_GET_REASON(e)));
    else if (reason)
        snprintf(buf, size, "%s", reason);
    else if (e)
        ERR_error_string_n(e, buf, size);
    else
        snprintf(buf, size, "unknown TLS error");
    ERR_clear_error();
    return e;
}

static unsigned long last_error(char *buf, size_t size) { return queue_error(buf, size, false); }

/* Alerts a broker sends when it does not accept (or did not get) our certificate. */
static bool refuses_our_certificate(unsigned long e) {
    if (!e || ERR_GET_LIB(e) != ERR_LIB_SSL)
        return false;
    switch (ERR_GET_REASON(e)) {
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
        return true;
    default:
        return false;
    }
}

/* Record-layer errors that mean the peer is not speaking TLS at all. */
static bool not_tls(unsigned long e) {
    if (!e || ERR_GET_LIB(e) != ERR_LIB_SSL)
        return false;
    switch (ERR_GET_REASON(e)) {
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_UNKNOWN_PROTOCOL:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_RECORD_LENGTH_MISMATCH:
    case SSL_R_UNEXPECTED_EOF_WHILE_READING:
        return true;
    default:
        return false;
    }
}

static int certificate_failed(kk_tls_t *tls, long result, kk_error_t *err) {
    const char *why = X509_verify_cert_error_string(result);
    const char *hint = "";
    switch (result) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        hint = " (unknown CA: set ssl_cafile to the CA that signed the broker's certificate)";
        break;
    case X509_V_ERR_CERT_HAS_EXPIRED:
        hint = " (the broker's certificate has expired)";
        break;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        hint = " (the broker's certificate is not valid yet; check the clocks)";
        break;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        return kk_error_set(err, KK_ERR_CERTIFICATE,
                            "TLS: the broker's certificate failed verification: %s (it does not "
                            "name \"%s\"; connect by a name it lists, or set "
                            "ssl_check_hostname=false)",
                            why, tls->host);
    default:
        break;
    }
    return kk_error_set(err, KK_ERR_CERTIFICATE,
                        "TLS: the broker's certificate failed verification: %s%s", why, hint);
}

/* Maps a failed SSL_connect/read/write (SSL_get_error gave code) to an error. */
static int failure(kk_tls_t *tls, int ret, int code, short *events, kk_error_t *err) {
    (void)ret;
    if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE) {
        ERR_clear_error();
        *events = code == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
        return KK_TLS_AGAIN;
    }
    const char *during = tls->handshake_done ? "" : " during the TLS handshake";
    const char *plain_hint = tls->handshake_done
                                 ? ""
                                 : " (is this a plaintext port? security_protocol SSL and "
                                   "SASL_SSL need a TLS listener)";
    if (code == SSL_ERROR_ZERO_RETURN) {
        ERR_clear_error();
        return kk_error_set(err, KK_ERR_CONNECTION_CLOSED, "TLS: the broker closed the session");
    }
    if (code == SSL_ERROR_SYSCALL) {
        int saved = errno;
        char reason[160];
        unsigned long e = last_error(reason, sizeof(reason));
        if (e == 0 && (saved == 0 || saved == ECONNRESET || saved == EPIPE)) {
            int rc = tls->handshake_done ? KK_ERR_CONNECTION_CLOSED : KK_ERR_SSL;
            return kk_error_set(err, rc, "the broker closed the connection%s%s", during,
                                plain_hint);
        }
        return kk_error_set(err, KK_ERR_IO, "TLS socket error%s: %s", during,
                            e ? reason : strerror(saved));
    }
    char reason[160];
    unsigned long e = last_error(reason, sizeof(reason));
    if (!tls->handshake_done) {
        long result = SSL_get_verify_result(tls->ssl);
        if (result != X509_V_OK)
            return certificate_failed(tls, result, err);
    }
    if (refuses_our_certificate(e))
        return kk_error_set(err, KK_ERR_AUTHENTICATION,
                            "TLS: the broker refused the client certificate (%s)%s", reason,
                            tls->ctx->has_certificate
                                ? ""
                                : "; this listener wants one: set ssl_certfile and ssl_keyfile");
    if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        int rc = tls->handshake_done ? KK_ERR_CONNECTION_CLOSED : KK_ERR_SSL;
        return kk_error_set(err, rc, "the broker closed the connection%s%s", during, plain_hint);
    }
    if (not_tls(e) && !tls->handshake_done)
        return kk_error_set(err, KK_ERR_SSL, "the broker does not speak TLS on this port (%s)%s",
                            reason, plain_hint);
    return kk_error_set(err, KK_ERR_SSL, "TLS%s: %s", during[0] ? " handshake failed" : "", reason);
}

/* ---- context ------------------------------------------------------------------------------- */

typedef struct password {
    const char *text;
} password_t;

/* Never lets OpenSSL prompt on a terminal: no password means none. */
static int password_cb(char *buf, int size, int rwflag, void *opaque) {
    (void)rwflag;
    const password_t *pw = opaque;
    if (!pw || !pw->text || size <= 0)
        return 0;
    size_t n = strlen(pw->text);
    if (n > (size_t)size)
        return 0;
    memcpy(buf, pw->text, n);
    return (int)n;
}

static bool empty(const char *s) { return !s || !s[0]; }

static int load_failed(kk_tls_ctx_t *ctx, int code, kk_error_t *err, const char *what,
                       const char *option, const char *path) {
    char reason[160];
    queue_error(reason, sizeof(reason), true);
    kk_tls_ctx_free(ctx);
    return kk_error_set(err, code, "option '%s': cannot load %s from \"%s\": %s", option, what,
                        path, reason);
}

int kk_tls_ctx_new(const kk_client_config_t *cfg, kk_tls_ctx_t **out, kk_error_t *err) {
    *out = NULL;
    ERR_clear_error();
    if (!empty(cfg->ssl_keyfile) && empty(cfg->ssl_certfile))
        return kk_error_set(err, KK_ERR_INVALID_ARG,
                            "option 'ssl_keyfile' needs ssl_certfile (the certificate it is for)");
    kk_tls_ctx_t *ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
    ctx->check_hostname = cfg->ssl_check_hostname;
    ctx->ssl_ctx = SSL_CTX_new(TLS_client_method());
    ctx->bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "kafkette socket");
    if (!ctx->ssl_ctx || !ctx->bio_method || !BIO_meth_set_write(ctx->bio_method, bio_write) ||
        !BIO_meth_set_read(ctx->bio_method, bio_read) ||
        !BIO_meth_set_ctrl(ctx->bio_method, bio_ctrl) ||
        !BIO_meth_set_create(ctx->bio_method, bio_create)) {
        char reason[160];
        last_error(reason, sizeof(reason));
        kk_tls_ctx_free(ctx);
        return kk_error_set(err, KK_ERR_SSL, "TLS: cannot create a context: %s", reason);
    }
    SSL_CTX_set_min_proto_version(ctx->ssl_ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx->ssl_ctx, SSL_VERIFY_PEER, NULL);
    /* no SSL_MODE_RELEASE_BUFFERS: freeing the record buffers after every read costs more
     * CPU than their memory is worth on a busy connection */
    SSL_CTX_set_mode(ctx->ssl_ctx,
                     SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (!empty(cfg->ssl_cafile)) {
        if (SSL_CTX_load_verify_locations(ctx->ssl_ctx, cfg->ssl_cafile, NULL) != 1)
            return load_failed(ctx, KK_ERR_INVALID_ARG, err, "CA certificates", "ssl_cafile",
                               cfg->ssl_cafile);
    } else if (SSL_CTX_set_default_verify_paths(ctx->ssl_ctx) != 1) {
        char reason[160];
        last_error(reason, sizeof(reason));
        kk_tls_ctx_free(ctx);
        return kk_error_set(err, KK_ERR_SSL,
                            "TLS: cannot load the system's CA certificates (%s); set ssl_cafile",
                            reason);
    }
    password_t pw = {cfg->ssl_password};
    SSL_CTX_set_default_passwd_cb(ctx->ssl_ctx, password_cb);
    SSL_CTX_set_default_passwd_cb_userdata(ctx->ssl_ctx, &pw);
    int rc = KK_OK;
    if (!empty(cfg->ssl_certfile)) {
        const char *keyfile = empty(cfg->ssl_keyfile) ? cfg->ssl_certfile : cfg->ssl_keyfile;
        if (SSL_CTX_use_certificate_chain_file(ctx->ssl_ctx, cfg->ssl_certfile) != 1) {
            rc = load_failed(ctx, KK_ERR_INVALID_ARG, err, "a certificate", "ssl_certfile",
                             cfg->ssl_certfile);
        } else if (SSL_CTX_use_PrivateKey_file(ctx->ssl_ctx, keyfile, SSL_FILETYPE_PEM) != 1) {
            char reason[160];
            queue_error(reason, sizeof(reason), true);
            kk_tls_ctx_free(ctx);
            rc = kk_error_set(
                err, KK_ERR_INVALID_ARG, "option '%s': cannot load a private key from \"%s\": %s%s",
                empty(cfg->ssl_keyfile) ? "ssl_certfile" : "ssl_keyfile", keyfile, reason,
                !strstr(reason, "decrypt") && !strstr(reason, "password") ? ""
                : empty(cfg->ssl_password) ? " (an encrypted key needs ssl_password)"
                                           : " (is ssl_password right?)");
        } else if (SSL_CTX_check_private_key(ctx->ssl_ctx) != 1) {
            rc = load_failed(ctx, KK_ERR_INVALID_ARG, err, "a key that matches the certificate",
                             "ssl_keyfile", keyfile);
        } else {
            ctx->has_certificate = true;
        }
    }
    if (rc != KK_OK)
        return rc; /* ctx is freed */
    /* the password was needed only to decrypt the key */
    SSL_CTX_set_default_passwd_cb_userdata(ctx->ssl_ctx, NULL);
    *out = ctx;
    return KK_OK;
}

void kk_tls_ctx_free(kk_tls_ctx_t *ctx) {
    if (!ctx)
        return;
    SSL_CTX_free(ctx->ssl_ctx);
    BIO_meth_free(ctx->bio_method);
    free(ctx);
}

bool kk_tls_ctx_has_certificate(const kk_tls_ctx_t *ctx) { return ctx && ctx->has_certificate; }

/* ---- sessions ------------------------------------------------------------------------------ */

kk_tls_t *kk_tls_new(kk_tls_ctx_t *ctx, int fd, const char *host, kk_error_t *err) {
    ERR_clear_error();
    kk_tls_t *tls = calloc(1, sizeof(*tls));
    if (!tls) {
        kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
        return NULL;
    }
    tls->ctx = ctx;
    snprintf(tls->host, sizeof(tls->host), "%s", host);
    tls->ssl = SSL_new(ctx->ssl_ctx);
    BIO *bio = tls->ssl ? BIO_new(ctx->bio_method) : NULL;
    if (!bio) {
        char reason[160];
        last_error(reason, sizeof(reason));
        kk_tls_free(tls);
        kk_error_set(err, KK_ERR_SSL, "TLS: cannot create a session: %s", reason);
        return NULL;
    }
    BIO_set_data(bio, (void *)(intptr_t)fd);
    SSL_set_bio(tls->ssl, bio, bio);
    unsigned char ip[16];
    bool is_ip = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
    bool ok = true;
    if (!is_ip) /* RFC 6066: SNI carries host names, never addresses */
        ok = SSL_set_tlsext_host_name(tls->ssl, host) == 1;
    if (ok && ctx->check_hostname) {
        X509_VERIFY_PARAM *param = SSL_get0_param(tls->ssl);
        if (is_ip) {
            ok = X509_VERIFY_PARAM_set1_ip_asc(param, host) == 1;
        } else {
            X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            ok = SSL_set1_host(tls->ssl, host) == 1;
        }
    }
    if (!ok) {
        char reason[160];
        last_error(reason, sizeof(reason));
        kk_tls_free(tls);
        kk_error_set(err, KK_ERR_SSL, "TLS: cannot set the host name \"%s\": %s", host, reason);
        return NULL;
    }
    SSL_set_connect_state(tls->ssl);
    return tls;
}

void kk_tls_free(kk_tls_t *tls) {
    if (!tls)
        return;
    SSL_free(tls->ssl); /* frees the BIO; sends nothing */
    free(tls);
}

int kk_tls_handshake(kk_tls_t *tls, short *events, kk_error_t *err) {
    ERR_clear_error();
    int ret = SSL_connect(tls->ssl);
    if (ret == 1) {
        tls->handshake_done = true;
        return KK_OK;
    }
    return failure(tls, ret, SSL_get_error(tls->ssl, ret), events, err);
}

int kk_tls_read(kk_tls_t *tls, void *buf, size_t len, size_t *done, short *events,
                kk_error_t *err) {
    ERR_clear_error();
    *done = 0;
    int ret = SSL_read_ex(tls->ssl, buf, len, done);
    if (ret == 1)
        return KK_OK;
    return failure(tls, ret, SSL_get_error(tls->ssl, ret), events, err);
}

int kk_tls_write(kk_tls_t *tls, const void *buf, size_t len, size_t *done, short *events,
                 kk_error_t *err) {
    ERR_clear_error();
    *done = 0;
    int ret = SSL_write_ex(tls->ssl, buf, len, done);
    if (ret == 1)
        return KK_OK;
    return failure(tls, ret, SSL_get_error(tls->ssl, ret), events, err);
}

bool kk_tls_pending(const kk_tls_t *tls) { return tls && tls->ssl && SSL_pending(tls->ssl) > 0; }

const char *kk_tls_version(const kk_tls_t *tls) { return SSL_get_version(tls->ssl); }

const char *kk_tls_cipher(const kk_tls_t *tls) {
    const char *name = SSL_get_cipher_name(tls->ssl);
    return name ? name : "?";
}
