/*
 * SASL authentication of a connection (KIP-152): SaslHandshake v1 names the mechanism, then the
 * mechanism's tokens travel in SaslAuthenticate requests. PLAIN, SCRAM-SHA-256/512 (verifying
 * the server's signature) and OAUTHBEARER with a static token. When the broker gives the
 * session a lifetime (KIP-368), the connection authenticates again before it runs out.
 */
#ifndef KK_SASL_H
#define KK_SASL_H

#include "connection.h"
#include "kafkette.h"

/* OAUTHBEARER's token: a static one, or the last one a provider gave, with a lock because a
 * consumer group shares it between the caller's thread (which refreshes it) and the heartbeat
 * thread (which only reads it). Reference-counted; opaque outside sasl.c. */
typedef struct kk_oauth_source kk_oauth_source_t;

typedef struct kk_sasl_config {
    kk_sasl_mechanism_t mechanism;
    char *username; /* owned copies; the secrets are wiped when freed */
    char *password;
    kk_oauth_source_t *oauth; /* OAUTHBEARER; one reference */
    /* This client's connections may call the provider: they run on the caller's thread. False
     * for a client that only borrows tokens (kk_sasl_share_oauth). */
    bool oauth_may_call;
} kk_sasl_config_t;

/* "PLAIN", "SCRAM-SHA-256", ... as the broker spells them. Static string. */
const char *kk_sasl_mechanism_name(kk_sasl_mechanism_t mechanism);

/* Copies what cfg's mechanism needs; KK_ERR_INVALID_ARG naming the missing option (never its
 * value). */
int kk_sasl_config_init(kk_sasl_config_t *sasl, const kk_client_config_t *cfg, kk_error_t *err);
void kk_sasl_config_destroy(kk_sasl_config_t *sasl);

/* Makes `to` use `from`'s OAUTHBEARER tokens and never call a provider itself: for a client whose
 * connections a library thread drives (a group's heartbeat client). Call it before `to` connects.
 * Nothing happens unless both use OAUTHBEARER. */
void kk_sasl_share_oauth(kk_sasl_config_t *to, const kk_sasl_config_t *from);

/* On the caller's thread: asks the provider for a new token when the one held is due (80% of its
 * lifetime passed, or none held); authenticating also asks when the expiry is unknown. KK_OK
 * when there is no provider, the client may not call it, or nothing is due. */
int kk_sasl_oauth_refresh(const kk_sasl_config_t *sasl, bool authenticating, kk_error_t *err);

/* Whether kk_sasl_oauth_refresh would call the provider now (without calling it). */
bool kk_sasl_oauth_due(const kk_sasl_config_t *sasl, bool authenticating);

/* Authenticates the open, negotiated connection c with c->opts.sasl, and sets c->reauth_at_ms
 * from the session lifetime the broker gives. On failure the connection is closed and err
 * says why: SASL_AUTHENTICATION_FAILED (58) with the broker's message, UNSUPPORTED_SASL_MECHANISM
 * (33) listing what the broker offers, KK_ERR_AUTHENTICATION when the broker could not prove
 * itself (SCRAM), KK_ERR_UNSUPPORTED_VERSION for a broker without SaslAuthenticate. */
int kk_sasl_authenticate(kk_conn_t *c, kk_error_t *err);

#endif
