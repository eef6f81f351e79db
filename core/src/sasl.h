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

typedef struct kk_sasl_config {
    kk_sasl_mechanism_t mechanism;
    char *username;    /* owned copies; the secrets are wiped when freed */
    char *password;
    char *oauth_token;
} kk_sasl_config_t;

/* "PLAIN", "SCRAM-SHA-256", ... as the broker spells them. Static string. */
const char *kk_sasl_mechanism_name(kk_sasl_mechanism_t mechanism);

/* Copies what cfg's mechanism needs; KK_ERR_INVALID_ARG naming the missing option (never its
 * value). */
int kk_sasl_config_init(kk_sasl_config_t *sasl, const kk_client_config_t *cfg, kk_error_t *err);
void kk_sasl_config_destroy(kk_sasl_config_t *sasl);

/* Authenticates the open, negotiated connection c with c->opts.sasl, and sets c->reauth_at_ms
 * from the session lifetime the broker gives. On failure the connection is closed and err
 * says why: SASL_AUTHENTICATION_FAILED (58) with the broker's message, UNSUPPORTED_SASL_MECHANISM
 * (33) listing what the broker offers, KK_ERR_AUTHENTICATION when the broker could not prove
 * itself (SCRAM), KK_ERR_UNSUPPORTED_VERSION for a broker without SaslAuthenticate. */
int kk_sasl_authenticate(kk_conn_t *c, kk_error_t *err);

#endif
