/* What the security tests need from the broker `script/kafka start --security` started. */
#ifndef KK_TEST_SECURITY_ENV_H
#define KK_TEST_SECURITY_ENV_H

#include "kafkette.h"

/* A value from the environment, else from the state dir's env file ($KAFKETTE_KAFKA_DIR/env,
 * default tests/.kafka-security/env). Aborts the program with a clear message when it is in
 * neither: a security test never passes without its broker. */
const char *kk_sec_env(const char *name);

/* A new config of `kind` with bootstrap_servers set from the env entry `bootstrap` and each
 * name/value pair of `pairs` (NULL-terminated: name, value, name, value, ..., NULL) set with
 * kk_config_set; a value starting with '$' is the env entry of that name. Aborts on an option
 * the table refuses. Short timeouts: 5 s to connect, 10 s per request. */
kk_config_t *kk_sec_config(kk_config_kind_t kind, const char *bootstrap, const char *const *pairs);

/* An unsecured JWS (alg none) for sub="kafkette" expiring in `valid_s` seconds (negative: already
 * expired), as the broker's unsecured OAUTHBEARER validator takes it. Static buffer. */
const char *kk_sec_unsecured_token(long valid_s);

#endif
