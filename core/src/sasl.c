#include "sasl.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "error.h"
#include "protocol_sasl.h"
#include "scram.h"

/* Of the session lifetime the broker grants, the part used before authenticating again. */
#define REAUTH_PERCENT 85

const char *kk_sasl_mechanism_name(kk_sasl_mechanism_t mechanism) {
    switch (mechanism) {
    case KK_SASL_PLAIN:
        return "PLAIN";
    case KK_SASL_SCRAM_SHA_256:
        return "SCRAM-SHA-256";
    case KK_SASL_SCRAM_SHA_512:
        return "SCRAM-SHA-512";
    case KK_SASL_OAUTHBEARER:
        return "OAUTHBEARER";
    }
    return "?";
}

static void wipe_free(char *s) {
    if (s)
        OPENSSL_cleanse(s, strlen(s));
    free(s);
}

static bool empty(const char *s) { return !s || !s[0]; }

/* ---- OAUTHBEARER tokens -------------------------------------------------------------------
 *
 * Where a token comes from, and on which thread. A provider (kk_client_config_t's
 * sasl_oauth_token_provider) is the application's code, and a binding's provider calls Python or
 * Ruby, which must never happen on a library thread. So a provider is only called through a
 * client whose connections the caller's thread drives (oauth_may_call): as one of them
 * authenticates, and from kk_group_poll(). A consumer group's heartbeat thread has a client of its
 * own that shares the group client's source (kk_sasl_share_oauth) without the right to call: it
 * authenticates with the last token the caller's thread obtained, read under the source's lock.
 * The provider itself is called without the lock, so a slow provider never holds up a
 * heartbeat; only the caller's thread calls it, so two calls never overlap for one source. */

/* Of a token's lifetime, the part used before asking for a new one (KIP-255's refresh window). */
#define REFRESH_PERCENT 80

struct kk_oauth_source {
    atomic_int refs;
    pthread_mutex_t lock;
    char *token;           /* the static token, or the provider's last one; NULL: none yet */
    int64_t expires_at_ms; /* ms since the epoch; 0: unknown (a static token never expires) */
    int64_t refresh_at_ms; /* when the provider's token is due again */
    kk_oauth_token_cb provider;
    void *opaque;
};

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static kk_oauth_source_t *oauth_source_new(const kk_client_config_t *cfg) {
    kk_oauth_source_t *src = calloc(1, sizeof(*src));
    if (!src)
        return NULL;
    atomic_init(&src->refs, 1);
    pthread_mutex_init(&src->lock, NULL);
    src->provider = cfg->sasl_oauth_token_provider;
    src->opaque = cfg->sasl_oauth_token_opaque;
    if (!src->provider && !(src->token = strdup(cfg->sasl_oauth_token))) {
        pthread_mutex_destroy(&src->lock);
        free(src);
        return NULL;
    }
    return src;
}

static void oauth_source_release(kk_oauth_source_t *src) {
    if (!src || atomic_fetch_sub(&src->refs, 1) != 1)
        return;
    wipe_free(src->token);
    pthread_mutex_destroy(&src->lock);
    free(src);
}

void kk_sasl_share_oauth(kk_sasl_config_t *to, const kk_sasl_config_t *from) {
    if (!to->oauth || !from->oauth)
        return;
    atomic_fetch_add(&from->oauth->refs, 1);
    oauth_source_release(to->oauth);
    to->oauth = from->oauth;
    to->oauth_may_call = false;
}

bool kk_sasl_oauth_due(const kk_sasl_config_t *sasl, bool authenticating) {
    kk_oauth_source_t *src = sasl->oauth;
    if (!src || !src->provider || !sasl->oauth_may_call)
        return false;
    int64_t now = wall_ms();
    pthread_mutex_lock(&src->lock);
    bool due = !src->token || (src->expires_at_ms ? now >= src->refresh_at_ms : authenticating);
    pthread_mutex_unlock(&src->lock);
    return due;
}

int kk_sasl_oauth_refresh(const kk_sasl_config_t *sasl, bool authenticating, kk_error_t *err) {
    if (!kk_sasl_oauth_due(sasl, authenticating))
        return KK_OK;
    kk_oauth_source_t *src = sasl->oauth;
    int64_t now = wall_ms();
    char *token = malloc(KK_OAUTH_TOKEN_MAX);
    if (!token)
        return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
    token[0] = '\0';
    int64_t expires_at = 0;
    kk_error_t perr;
    kk_error_clear(&perr);
    int rc = src->provider(src->opaque, token, KK_OAUTH_TOKEN_MAX, &expires_at, &perr);
    token[KK_OAUTH_TOKEN_MAX - 1] = '\0';
    bool given = token[0] != '\0';
    char *copy = rc == KK_OK && given ? strdup(token) : NULL;
    OPENSSL_cleanse(token, KK_OAUTH_TOKEN_MAX);
    free(token);
    if (rc != KK_OK)
        return kk_error_set(err, KK_ERR_AUTHENTICATION,
                            "SASL OAUTHBEARER: the token provider failed: %s",
                            perr.message[0] ? perr.message : kk_err_name(rc));
    if (!given)
        return kk_error_set(err, KK_ERR_AUTHENTICATION,
                            "SASL OAUTHBEARER: the token provider gave an empty token");
    if (!copy)
        return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
    pthread_mutex_lock(&src->lock);
    wipe_free(src->token);
    src->token = copy;
    src->expires_at_ms = expires_at > 0 ? expires_at : 0;
    src->refresh_at_ms = expires_at > now ? now + (expires_at - now) * REFRESH_PERCENT / 100 : now;
    pthread_mutex_unlock(&src->lock);
    return KK_OK;
}

/* A copy of the token to send (wipe_free it), after a refresh when one is due. */
static int oauth_token(const kk_sasl_config_t *sasl, char **out, kk_error_t *err) {
    *out = NULL;
    int rc = kk_sasl_oauth_refresh(sasl, true, err);
    if (rc != KK_OK)
        return rc;
    pthread_mutex_lock(&sasl->oauth->lock);
    if (sasl->oauth->token)
        *out = strdup(sasl->oauth->token);
    bool none = !sasl->oauth->token;
    pthread_mutex_unlock(&sasl->oauth->lock);
    if (none)
        return kk_error_set(err, KK_ERR_AUTHENTICATION,
                            "SASL OAUTHBEARER: no token yet (the token provider is called on the "
                            "caller's thread only, and has not been)");
    return *out ? KK_OK : kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
}

int kk_sasl_config_init(kk_sasl_config_t *sasl, const kk_client_config_t *cfg, kk_error_t *err) {
    memset(sasl, 0, sizeof(*sasl));
    sasl->mechanism = cfg->sasl_mechanism;
    const char *mech = kk_sasl_mechanism_name(cfg->sasl_mechanism);
    if (cfg->sasl_mechanism == KK_SASL_OAUTHBEARER) {
        if (empty(cfg->sasl_oauth_token) && !cfg->sasl_oauth_token_provider)
            return kk_error_set(err, KK_ERR_INVALID_ARG,
                                "sasl_mechanism OAUTHBEARER needs the option sasl_oauth_token or "
                                "sasl_oauth_token_provider");
        sasl->oauth = oauth_source_new(cfg);
        sasl->oauth_may_call = true;
        if (!sasl->oauth)
            return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
        return KK_OK;
    }
    if (empty(cfg->sasl_username) || !cfg->sasl_password)
        return kk_error_set(err, KK_ERR_INVALID_ARG,
                            "sasl_mechanism %s needs the options sasl_username and sasl_password%s",
                            mech,
                            empty(cfg->sasl_username) ? " (sasl_username is not set)"
                                                      : " (sasl_password is not set)");
    sasl->username = strdup(cfg->sasl_username);
    sasl->password = strdup(cfg->sasl_password);
    if (!sasl->username || !sasl->password) {
        kk_sasl_config_destroy(sasl);
        return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
    }
    return KK_OK;
}

void kk_sasl_config_destroy(kk_sasl_config_t *sasl) {
    free(sasl->username);
    wipe_free(sasl->password);
    oauth_source_release(sasl->oauth);
    memset(sasl, 0, sizeof(*sasl));
}

/* The broker's failure answer, with its own message when it sent one. Closes c. */
static int refused(kk_conn_t *c, const kk_sasl_config_t *sasl, int16_t code, const char *message,
                   kk_error_t *err) {
    kk_conn_close(c);
    char who[300] = "";
    if (sasl->username)
        snprintf(who, sizeof(who), " as \"%.200s\"", sasl->username);
    return kk_error_set(err, code, "%s: SASL %s authentication%s failed: %s (%s)", c->label,
                        kk_sasl_mechanism_name(sasl->mechanism), who,
                        message && message[0] ? message : kk_err_description(code),
                        kk_err_name(code));
}

/* One SaslAuthenticate round trip. The request (which may hold the password) is wiped from the
 * connection's buffer as soon as it is sent. */
static int exchange(kk_conn_t *c, int16_t version, const void *token, size_t len,
                    kk_sasl_authenticate_response_t *resp, kk_error_t *err) {
    memset(resp, 0, sizeof(*resp));
    kk_writer_t *w = kk_conn_begin(c, KK_API_SASL_AUTHENTICATE, version);
    kk_encode_sasl_authenticate_request(w, version, token, len);
    kk_reader_t r;
    int rc = kk_conn_roundtrip(c, &r, err);
    if (c->request.data)
        OPENSSL_cleanse(c->request.data, c->request.len);
    if (rc != KK_OK)
        return rc;
    rc = kk_decode_sasl_authenticate_response(&r, version, resp, err);
    if (rc != KK_OK) {
        kk_conn_close(c);
        kk_error_prefix(err, "%s: ", c->label);
        return rc;
    }
    if (resp->error_code != 0) {
        int16_t code = resp->error_code;
        rc = refused(c, c->opts.sasl, code, resp->error_message, err);
        kk_sasl_authenticate_response_free(resp);
        return rc;
    }
    return KK_OK;
}

static int handshake(kk_conn_t *c, int16_t version, const char *mech, kk_error_t *err) {
    kk_writer_t *w = kk_conn_begin(c, KK_API_SASL_HANDSHAKE, version);
    kk_encode_sasl_handshake_request(w, version, mech);
    kk_reader_t r;
    int rc = kk_conn_roundtrip(c, &r, err);
    if (rc != KK_OK)
        return rc;
    kk_sasl_handshake_response_t hs;
    rc = kk_decode_sasl_handshake_response(&r, version, &hs, err);
    if (rc != KK_OK) {
        kk_conn_close(c);
        kk_error_prefix(err, "%s: ", c->label);
        return rc;
    }
    int16_t code = hs.error_code;
    if (code != 0) {
        char offered[256] = "";
        size_t used = 0;
        for (size_t i = 0; i < hs.mechanism_count && used < sizeof(offered); i++) {
            int n = snprintf(offered + used, sizeof(offered) - used, "%s%s", i ? ", " : "",
                             hs.mechanisms[i]);
            used += n > 0 ? (size_t)n : 0;
        }
        kk_sasl_handshake_response_free(&hs);
        kk_conn_close(c);
        if (code == 33 /* UNSUPPORTED_SASL_MECHANISM */)
            return kk_error_set(err, code,
                                "%s: the broker does not enable SASL mechanism %s on this "
                                "listener; it offers: %s (UNSUPPORTED_SASL_MECHANISM)",
                                c->label, mech, offered[0] ? offered : "none");
        return kk_error_set(err, code, "%s: SaslHandshake for %s failed: %s (%d): %s%s", c->label,
                            mech, kk_err_name(code), code, kk_err_description(code),
                            code == 34 ? " (is this a SASL listener? security_protocol SSL and "
                                         "PLAINTEXT do not authenticate)"
                                       : "");
    }
    kk_sasl_handshake_response_free(&hs);
    return KK_OK;
}

static int plain(kk_conn_t *c, int16_t version, const kk_sasl_config_t *sasl, int64_t *lifetime,
                 kk_error_t *err) {
    /* RFC 4616: authzid (empty) NUL authcid NUL password */
    size_t ul = strlen(sasl->username), pl = strlen(sasl->password);
    char *token = malloc(ul + pl + 2);
    if (!token)
        return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
    token[0] = '\0';
    memcpy(token + 1, sasl->username, ul);
    token[1 + ul] = '\0';
    memcpy(token + 2 + ul, sasl->password, pl);
    kk_sasl_authenticate_response_t resp;
    int rc = exchange(c, version, token, ul + pl + 2, &resp, err);
    OPENSSL_cleanse(token, ul + pl + 2);
    free(token);
    if (rc == KK_OK) {
        *lifetime = resp.session_lifetime_ms;
        kk_sasl_authenticate_response_free(&resp);
    }
    return rc;
}

static int scram(kk_conn_t *c, int16_t version, const kk_sasl_config_t *sasl, int64_t *lifetime,
                 kk_error_t *err) {
    kk_scram_t s;
    char *first = NULL, *final = NULL;
    int hash = sasl->mechanism == KK_SASL_SCRAM_SHA_256 ? 256 : 512;
    int rc = kk_scram_client_first(&s, hash, sasl->username, NULL, &first, err);
    if (rc != KK_OK) {
        kk_conn_close(c);
        return rc;
    }
    kk_sasl_authenticate_response_t resp;
    rc = exchange(c, version, first, strlen(first), &resp, err);
    free(first);
    if (rc != KK_OK) {
        kk_scram_free(&s);
        return rc;
    }
    rc = kk_scram_client_final(&s, sasl->password, resp.auth_bytes, resp.auth_len, &final, err);
    kk_sasl_authenticate_response_free(&resp);
    if (rc == KK_OK) {
        size_t n = strlen(final);
        rc = exchange(c, version, final, n, &resp, err);
        OPENSSL_cleanse(final, n);
        free(final);
        if (rc == KK_OK) {
            rc = kk_scram_verify_server_final(&s, resp.auth_bytes, resp.auth_len, err);
            *lifetime = resp.session_lifetime_ms;
            kk_sasl_authenticate_response_free(&resp);
        }
    }
    kk_scram_free(&s);
    if (rc != KK_OK && kk_conn_is_open(c)) {
        kk_conn_close(c);
        kk_error_prefix(err, "%s: ", c->label);
    }
    return rc;
}

static int oauthbearer(kk_conn_t *c, int16_t version, const kk_sasl_config_t *sasl,
                       int64_t *lifetime, kk_error_t *err) {
    char *bearer = NULL;
    int rc = oauth_token(sasl, &bearer, err);
    if (rc != KK_OK) {
        kk_conn_close(c);
        kk_error_prefix(err, "%s: ", c->label);
        return rc;
    }
    /* RFC 7628: gs2 header, then kvpairs separated by 0x01 */
    size_t n = strlen(bearer) + 32;
    char *token = malloc(n);
    if (!token) {
        wipe_free(bearer);
        return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
    }
    int len = snprintf(token, n,
                       "n,,\x01"
                       "auth=Bearer %s\x01\x01",
                       bearer);
    wipe_free(bearer);
    kk_sasl_authenticate_response_t resp;
    rc = exchange(c, version, token, (size_t)len, &resp, err);
    OPENSSL_cleanse(token, n);
    free(token);
    if (rc != KK_OK)
        return rc;
    if (resp.auth_len == 0) {
        *lifetime = resp.session_lifetime_ms;
        kk_sasl_authenticate_response_free(&resp);
        return KK_OK;
    }
    /* The server's error (a JSON status) comes as a challenge; the client answers with a lone
     * 0x01 and the broker then fails the exchange. */
    char status[200];
    snprintf(status, sizeof(status), "%.*s", (int)(resp.auth_len < 199 ? resp.auth_len : 199),
             (const char *)resp.auth_bytes);
    kk_sasl_authenticate_response_free(&resp);
    kk_error_t ignored;
    if (exchange(c, version, "\x01", 1, &resp, &ignored) == KK_OK)
        kk_sasl_authenticate_response_free(&resp);
    kk_conn_close(c);
    return kk_error_set(err, 58,
                        "%s: SASL OAUTHBEARER authentication failed: the broker refused "
                        "the token: %s (SASL_AUTHENTICATION_FAILED)",
                        c->label, status);
}

int kk_sasl_authenticate(kk_conn_t *c, kk_error_t *err) {
    const kk_sasl_config_t *sasl = c->opts.sasl;
    const char *mech = kk_sasl_mechanism_name(sasl->mechanism);
    int16_t hv = kk_conn_version(c, KK_API_SASL_HANDSHAKE);
    int16_t av = kk_conn_version(c, KK_API_SASL_AUTHENTICATE);
    if (hv < 1 || av < 0) {
        kk_conn_close(c);
        return kk_error_set(err, KK_ERR_UNSUPPORTED_VERSION,
                            "%s: the broker offers no SaslHandshake v1 and SaslAuthenticate "
                            "(SASL needs Kafka 1.0 or newer)",
                            c->label);
    }
    int rc = handshake(c, hv, mech, err);
    if (rc != KK_OK)
        return rc;
    int64_t lifetime = 0;
    switch (sasl->mechanism) {
    case KK_SASL_PLAIN:
        rc = plain(c, av, sasl, &lifetime, err);
        break;
    case KK_SASL_SCRAM_SHA_256:
    case KK_SASL_SCRAM_SHA_512:
        rc = scram(c, av, sasl, &lifetime, err);
        break;
    case KK_SASL_OAUTHBEARER:
        rc = oauthbearer(c, av, sasl, &lifetime, err);
        break;
    default:
        kk_conn_close(c);
        rc = kk_error_set(err, KK_ERR_INVALID_ARG, "unknown SASL mechanism %d",
                          (int)sasl->mechanism);
    }
    if (rc != KK_OK)
        return rc;
    c->reauth_at_ms = lifetime > 0 ? kk_monotonic_ms() + lifetime * REAUTH_PERCENT / 100 : 0;
    return KK_OK;
}
