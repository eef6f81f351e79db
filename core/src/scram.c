#include "scram.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "error.h"

/* Kafka's own limits for the iteration count; fewer would make a stolen exchange cheap to
 * attack offline, more would let a server make us spin. */
#define MIN_ITERATIONS 4096
#define MAX_ITERATIONS 1000000

static const EVP_MD *digest(int hash) {
    return hash == 256 ? EVP_sha256() : hash == 512 ? EVP_sha512() : NULL;
}

/* Base64 of n bytes into a new string. */
static char *base64(const uint8_t *data, size_t n) {
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, data, (int)n);
    return out;
}

/* Decodes base64 text of length n into out (room for n bytes); -1 when it is not base64. */
static int unbase64(const char *text, size_t n, uint8_t *out) {
    if (n == 0 || n % 4 != 0 || n > INT_MAX)
        return -1;
    int len = EVP_DecodeBlock(out, (const unsigned char *)text, (int)n);
    if (len < 0)
        return -1;
    /* EVP_DecodeBlock counts the padding as zero bytes */
    if (text[n - 1] == '=')
        len--;
    if (text[n - 2] == '=')
        len--;
    return len;
}

static int no_memory(kk_error_t *err) {
    return kk_error_set(err, KK_ERR_NO_MEMORY, "SCRAM: out of memory");
}

int kk_scram_client_first(kk_scram_t *s, int hash, const char *username, const char *nonce,
                          char **out, kk_error_t *err) {
    memset(s, 0, sizeof(*s));
    *out = NULL;
    if (!digest(hash))
        return kk_error_set(err, KK_ERR_INVALID_ARG, "SCRAM: no SHA-%d", hash);
    s->hash = hash;
    s->hash_len = (size_t)EVP_MD_get_size(digest(hash));
    if (nonce) {
        s->client_nonce = strdup(nonce);
    } else {
        uint8_t random[24];
        if (RAND_bytes(random, sizeof(random)) != 1)
            return kk_error_set(err, KK_ERR_SSL, "SCRAM: no random bytes for the nonce");
        s->client_nonce = base64(random, sizeof(random));
    }
    /* saslname: '=' and ',' are escaped as =3D and =2C */
    size_t n = strlen(username);
    char *name = malloc(3 * n + 1);
    if (!s->client_nonce || !name) {
        free(name);
        kk_scram_free(s);
        return no_memory(err);
    }
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (username[i] == '=' || username[i] == ',') {
            memcpy(name + at, username[i] == '=' ? "=3D" : "=2C", 3);
            at += 3;
        } else {
            name[at++] = username[i];
        }
    }
    name[at] = '\0';
    size_t bare_len = at + strlen(s->client_nonce) + 6;
    s->client_first_bare = malloc(bare_len + 1);
    *out = malloc(bare_len + 4);
    if (!s->client_first_bare || !*out) {
        free(name);
        free(*out);
        *out = NULL;
        kk_scram_free(s);
        return no_memory(err);
    }
    snprintf(s->client_first_bare, bare_len + 1, "n=%s,r=%s", name, s->client_nonce);
    snprintf(*out, bare_len + 4, "n,,%s", s->client_first_bare);
    free(name);
    return KK_OK;
}

/* The value of attribute `key` ("r", "s", ...) in a comma-separated message, as a pointer and
 * length into msg; NULL when absent. */
static const char *attribute(const char *msg, size_t len, char key, size_t *value_len) {
    *value_len = 0;
    const char *p = msg, *end = msg + len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        if (stop - p >= 2 && p[0] == key && p[1] == '=') {
            *value_len = (size_t)(stop - p - 2);
            return p + 2;
        }
        p = stop + 1;
    }
    return NULL;
}

static int refuse(kk_error_t *err, const char *why) {
    return kk_error_set(err, KK_ERR_AUTHENTICATION, "SCRAM: %s", why);
}

int kk_scram_client_final(kk_scram_t *s, const char *password, const uint8_t *server_first,
                          size_t len, char **out, kk_error_t *err) {
    *out = NULL;
    const EVP_MD *md = digest(s->hash);
    const char *msg = (const char *)server_first;
    size_t nonce_len = 0, salt_len = 0, iter_len = 0, error_len = 0;
    const char *error = attribute(msg, len, 'e', &error_len);
    if (error)
        return kk_error_set(err, KK_ERR_AUTHENTICATION, "SCRAM: the broker says: %.*s",
                            (int)(error_len > 200 ? 200 : error_len), error);
    if (len > 0 && msg[0] == 'm')
        return refuse(err, "the broker asks for an extension this client does not know");
    const char *nonce = attribute(msg, len, 'r', &nonce_len);
    const char *salt64 = attribute(msg, len, 's', &salt_len);
    const char *iter = attribute(msg, len, 'i', &iter_len);
    if (!md || !nonce || !salt64 || !iter)
        return refuse(err, "the broker's first message lacks the nonce, salt or iteration count");
    size_t ours = strlen(s->client_nonce);
    if (nonce_len <= ours || memcmp(nonce, s->client_nonce, ours) != 0 ||
        memchr(nonce, ',', nonce_len))
        return refuse(err, "the broker's nonce does not extend ours");
    long iterations = 0;
    for (size_t i = 0; i < iter_len && iterations <= MAX_ITERATIONS; i++) {
        if (iter[i] < '0' || iter[i] > '9')
            return refuse(err, "the broker's iteration count is not a number");
        iterations = iterations * 10 + (iter[i] - '0');
    }
    if (iter_len == 0 || iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS)
        return refuse(err, "the broker's iteration count is outside 4096 to 1000000");
    uint8_t *salt = malloc(salt_len + 1);
    if (!salt)
        return no_memory(err);
    int salt_bytes = unbase64(salt64, salt_len, salt);
    if (salt_bytes <= 0) {
        free(salt);
        return refuse(err, "the broker's salt is not base64");
    }

    /* RFC 5802 section 3 */
    uint8_t salted[KK_SCRAM_MAX_HASH], client_key[KK_SCRAM_MAX_HASH], stored_key[KK_SCRAM_MAX_HASH];
    uint8_t server_key[KK_SCRAM_MAX_HASH], client_sig[KK_SCRAM_MAX_HASH];
    unsigned int hl = (unsigned int)s->hash_len, out_len;
    int rc = KK_OK;
    char *without_proof = NULL, *auth_message = NULL, *proof64 = NULL;
    if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, salt_bytes, (int)iterations, md,
                          (int)hl, salted) != 1 ||
        !HMAC(md, salted, (int)hl, (const uint8_t *)"Client Key", 10, client_key, &out_len) ||
        EVP_Digest(client_key, hl, stored_key, &out_len, md, NULL) != 1 ||
        !HMAC(md, salted, (int)hl, (const uint8_t *)"Server Key", 10, server_key, &out_len)) {
        rc = kk_error_set(err, KK_ERR_SSL, "SCRAM: OpenSSL could not compute the keys");
        goto done;
    }
    /* c=biws: base64 of "n,,", the GS2 header without channel binding */
    size_t wp_len = 9 + nonce_len;
    without_proof = malloc(wp_len + 1);
    size_t am_len = strlen(s->client_first_bare) + 1 + len + 1 + wp_len;
    auth_message = malloc(am_len + 1);
    if (!without_proof || !auth_message) {
        rc = no_memory(err);
        goto done;
    }
    snprintf(without_proof, wp_len + 1, "c=biws,r=%.*s", (int)nonce_len, nonce);
    snprintf(auth_message, am_len + 1, "%s,%.*s,%s", s->client_first_bare, (int)len, msg,
             without_proof);
    if (!HMAC(md, stored_key, (int)hl, (const uint8_t *)auth_message, am_len, client_sig,
              &out_len) ||
        !HMAC(md, server_key, (int)hl, (const uint8_t *)auth_message, am_len, s->server_signature,
              &out_len)) {
        rc = kk_error_set(err, KK_ERR_SSL, "SCRAM: OpenSSL could not compute the signatures");
        goto done;
    }
    s->have_signature = true;
    for (unsigned int i = 0; i < hl; i++)
        client_key[i] ^= client_sig[i]; /* the proof */
    proof64 = base64(client_key, hl);
    size_t final_len = wp_len + 3 + (proof64 ? strlen(proof64) : 0);
    *out = proof64 ? malloc(final_len + 1) : NULL;
    if (!*out) {
        rc = no_memory(err);
        goto done;
    }
    snprintf(*out, final_len + 1, "%s,p=%s", without_proof, proof64);
done:
    OPENSSL_cleanse(salted, sizeof(salted));
    OPENSSL_cleanse(client_key, sizeof(client_key));
    OPENSSL_cleanse(stored_key, sizeof(stored_key));
    OPENSSL_cleanse(server_key, sizeof(server_key));
    OPENSSL_cleanse(client_sig, sizeof(client_sig));
    free(salt);
    free(without_proof);
    free(auth_message);
    free(proof64);
    return rc;
}

int kk_scram_verify_server_final(kk_scram_t *s, const uint8_t *server_final, size_t len,
                                 kk_error_t *err) {
    const char *msg = (const char *)server_final;
    size_t v_len = 0, e_len = 0;
    const char *error = attribute(msg, len, 'e', &e_len);
    if (error)
        return kk_error_set(err, KK_ERR_AUTHENTICATION, "SCRAM: the broker says: %.*s",
                            (int)(e_len > 200 ? 200 : e_len), error);
    const char *v = attribute(msg, len, 'v', &v_len);
    uint8_t got[KK_SCRAM_MAX_HASH * 2];
    int n = v && v_len <= 2 * 4 * KK_SCRAM_MAX_HASH / 3 ? unbase64(v, v_len, got) : -1;
    if (!s->have_signature || n != (int)s->hash_len ||
        CRYPTO_memcmp(got, s->server_signature, s->hash_len) != 0)
        return refuse(err, "the broker could not prove that it knows the password (its server "
                           "signature is missing or wrong); refusing to talk to it");
    return KK_OK;
}

void kk_scram_free(kk_scram_t *s) {
    free(s->client_first_bare);
    free(s->client_nonce);
    OPENSSL_cleanse(s->server_signature, sizeof(s->server_signature));
    memset(s, 0, sizeof(*s));
}
