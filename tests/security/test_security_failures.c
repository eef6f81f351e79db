/*
 * Every way a secured connection can fail gives its own code and a message that says what to
 * fix, within the connect timeout (5 s here) instead of hanging: wrong password, unknown user,
 * an expired token, an unknown CA, an expired certificate, a host name mismatch, a listener that
 * wants a client certificate, TLS spoken to a plaintext port and plaintext to a TLS port, SASL
 * to a listener without SASL and the reverse. A fake broker covers what a real one will not do
 * on demand: a mechanism the listener lacks, a SCRAM server that cannot prove it knows the
 * password, and silence during the handshake (the connect timeout, kk_client_interrupt and
 * interrupt_check all end the wait). No secret ever shows up in an error message or a log line.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "connection.h"
#include "fake_broker.h"
#include "kafkette.h"
#include "security_env.h"

#define CONNECT_TIMEOUT_MS 5000

/* Every log line of every client, to search for secrets. */
static char logged[1 << 16];
static size_t logged_len;

static void collect_log(void *opaque, kk_log_level_t level, const char *line) {
    (void)opaque, (void)level;
    size_t n = strlen(line);
    if (logged_len + n + 2 < sizeof(logged)) {
        memcpy(logged + logged_len, line, n);
        logged_len += n;
        logged[logged_len++] = '\n';
        logged[logged_len] = '\0';
    }
}

static void assert_no_secret(const char *text) {
    static const char *const names[] = {"KAFKETTE_SASL_PASSWORD", "KAFKETTE_CLIENT_KEY_PASSWORD"};
    for (size_t i = 0; i < 2; i++)
        if (strstr(text, kk_sec_env(names[i])))
            fail_msg("a secret (%s) leaked: %s", names[i], text);
    if (strstr(text, "wrong-Pa55word") || strstr(text, "eyJhbGciOiJub25lIn0"))
        fail_msg("a secret leaked: %s", text);
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Connects with the options and returns the result of a metadata request, with err filled and
 * the time it took in *ms. */
static int try_connect(const char *bootstrap, const char *const *pairs, kk_error_t *err,
                       int64_t *ms) {
    kk_config_t *cfg = kk_sec_config(KK_CONFIG_CLIENT, bootstrap, pairs);
    kk_client_config_t *cc = kk_config_client(cfg);
    cc->log_cb = collect_log;
    int64_t start = now_ms();
    kk_client_t *client = kk_client_new(cc, err);
    int rc = client ? KK_OK : err->code;
    if (client) {
        kk_metadata_t *md = NULL;
        rc = kk_client_metadata(client, NULL, 0, &md, err);
        kk_metadata_free(md);
        kk_client_free(client);
    }
    *ms = now_ms() - start;
    kk_config_free(cfg);
    return rc;
}

typedef struct failure_case {
    const char *name;
    const char *bootstrap;
    const char *pairs[16];
    int code;
    const char *says; /* a piece of the message */
} failure_case_t;

#define SASL(protocol, mech, user, password)                                                       \
    "security_protocol", protocol, "sasl_mechanism", mech, "sasl_username", user, "sasl_password", \
        password, "ssl_cafile", "$KAFKETTE_CA_FILE"
#define TLS(cafile) "security_protocol", "SSL", "ssl_cafile", cafile

static void test_failures_are_clear_and_quick(void **state) {
    (void)state;
    const failure_case_t cases[] = {
        {"wrong password (SCRAM-SHA-512)",
         "KAFKETTE_BOOTSTRAP_SASL_SSL",
         {SASL("SASL_SSL", "SCRAM-SHA-512", "$KAFKETTE_SASL_USERNAME", "wrong-Pa55word"), NULL},
         58,
         "invalid credentials"},
        {"wrong password (PLAIN)",
         "KAFKETTE_BOOTSTRAP_SASL_PLAINTEXT",
         {SASL("SASL_PLAINTEXT", "PLAIN", "$KAFKETTE_SASL_USERNAME", "wrong-Pa55word"), NULL},
         58,
         "Invalid username or password"},
        {"wrong password (SCRAM-SHA-256)",
         "KAFKETTE_BOOTSTRAP_SASL_PLAINTEXT",
         {SASL("SASL_PLAINTEXT", "SCRAM-SHA-256", "$KAFKETTE_SASL_USERNAME", "wrong-Pa55word"),
          NULL},
         58,
         "SASL_AUTHENTICATION_FAILED"},
        {"unknown user (SCRAM-SHA-256)",
         "KAFKETTE_BOOTSTRAP_SASL_SSL",
         {SASL("SASL_SSL", "SCRAM-SHA-256", "nobody-here", "$KAFKETTE_SASL_PASSWORD"), NULL},
         58,
         "as \"nobody-here\" failed"},
        {"unknown user (PLAIN)",
         "KAFKETTE_BOOTSTRAP_SASL_SSL",
         {SASL("SASL_SSL", "PLAIN", "nobody-here", "$KAFKETTE_SASL_PASSWORD"), NULL},
         58,
         "SASL_AUTHENTICATION_FAILED"},
        {"expired OAUTHBEARER token",
         "KAFKETTE_BOOTSTRAP_SASL_SSL",
         {"security_protocol", "SASL_SSL", "sasl_mechanism", "OAUTHBEARER", "sasl_oauth_token",
          kk_sec_unsecured_token(-3600), "ssl_cafile", "$KAFKETTE_CA_FILE", NULL},
         58,
         "invalid_token"},
        {"unknown CA",
         "KAFKETTE_BOOTSTRAP_SSL",
         {TLS("$KAFKETTE_OTHER_CA_FILE"), NULL},
         KK_ERR_CERTIFICATE,
         "unknown CA"},
        {"expired certificate",
         "KAFKETTE_BOOTSTRAP_SSL_EXPIRED",
         {TLS("$KAFKETTE_CA_FILE"), NULL},
         KK_ERR_CERTIFICATE,
         "certificate has expired"},
        {"host name mismatch",
         "KAFKETTE_BOOTSTRAP_SSL_WRONG_HOST",
         {TLS("$KAFKETTE_CA_FILE"), NULL},
         KK_ERR_CERTIFICATE,
         "IP address mismatch"},
        {"no client certificate for a listener that requires one",
         "KAFKETTE_BOOTSTRAP_MTLS",
         {TLS("$KAFKETTE_CA_FILE"), NULL},
         KK_ERR_AUTHENTICATION,
         "set ssl_certfile"},
        {"TLS spoken to the plaintext port",
         "KAFKETTE_BOOTSTRAP",
         {TLS("$KAFKETTE_CA_FILE"), NULL},
         KK_ERR_SSL,
         "is this a plaintext port?"},
        {"plaintext spoken to the TLS port",
         "KAFKETTE_BOOTSTRAP_SSL",
         {NULL},
         KK_ERR_SSL,
         "this is a TLS port"},
        {"SASL to a listener without SASL",
         "KAFKETTE_BOOTSTRAP_SSL",
         {SASL("SASL_SSL", "PLAIN", "$KAFKETTE_SASL_USERNAME", "$KAFKETTE_SASL_PASSWORD"), NULL},
         34,
         "is this a SASL listener?"},
        {"no SASL to a SASL listener",
         "KAFKETTE_BOOTSTRAP_SASL_PLAINTEXT",
         {NULL},
         KK_ERR_CONNECTION_CLOSED,
         "if this is a SASL listener"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kk_error_t err;
        int64_t ms;
        int rc = try_connect(cases[i].bootstrap, cases[i].pairs, &err, &ms);
        print_message("%-55s %5lld ms  %s: %s\n", cases[i].name, (long long)ms, kk_err_name(rc),
                      err.message);
        if (rc != cases[i].code)
            fail_msg("%s: expected %s, got %s: %s", cases[i].name, kk_err_name(cases[i].code),
                     kk_err_name(rc), err.message);
        assert_int_equal(err.code, rc);
        if (!strstr(err.message, cases[i].says))
            fail_msg("%s: the message does not say \"%s\": %s", cases[i].name, cases[i].says,
                     err.message);
        assert_true(ms < CONNECT_TIMEOUT_MS);
        assert_no_secret(err.message);
        assert_false(kk_err_is_retriable(rc) && rc != KK_ERR_CONNECTION_CLOSED);
    }
    assert_no_secret(logged);
}

/* The opt-out: the wrong host's certificate is accepted when asked to skip the name check
 * (the chain is still verified). */
static void test_check_hostname_opt_out(void **state) {
    (void)state;
    const char *pairs[] = {TLS("$KAFKETTE_CA_FILE"), "ssl_check_hostname", "false", NULL};
    kk_error_t err;
    int64_t ms;
    assert_int_equal(try_connect("KAFKETTE_BOOTSTRAP_SSL_WRONG_HOST", pairs, &err, &ms), KK_OK);
    const char *other[] = {TLS("$KAFKETTE_OTHER_CA_FILE"), "ssl_check_hostname", "false", NULL};
    assert_int_equal(try_connect("KAFKETTE_BOOTSTRAP_SSL_WRONG_HOST", other, &err, &ms),
                     KK_ERR_CERTIFICATE);
}

/* Bad files and missing credentials fail when the client is made, naming the option. */
static void test_configuration_errors(void **state) {
    (void)state;
    const failure_case_t cases[] = {
        {"missing CA file",
         "KAFKETTE_BOOTSTRAP_SSL",
         {TLS("/nonexistent/ca.pem"), NULL},
         KK_ERR_INVALID_ARG,
         "option 'ssl_cafile'"},
        {"wrong key password",
         "KAFKETTE_BOOTSTRAP_MTLS",
         {TLS("$KAFKETTE_CA_FILE"), "ssl_certfile", "$KAFKETTE_CLIENT_CERT", "ssl_keyfile",
          "$KAFKETTE_CLIENT_KEY_ENCRYPTED", "ssl_password", "wrong-Pa55word", NULL},
         KK_ERR_INVALID_ARG,
         "bad decrypt"},
        {"encrypted key without a password",
         "KAFKETTE_BOOTSTRAP_MTLS",
         {TLS("$KAFKETTE_CA_FILE"), "ssl_certfile", "$KAFKETTE_CLIENT_CERT", "ssl_keyfile",
          "$KAFKETTE_CLIENT_KEY_ENCRYPTED", NULL},
         KK_ERR_INVALID_ARG,
         "needs ssl_password"},
        {"key that is not the certificate's",
         "KAFKETTE_BOOTSTRAP_MTLS",
         {TLS("$KAFKETTE_CA_FILE"), "ssl_certfile", "$KAFKETTE_CA_FILE", "ssl_keyfile",
          "$KAFKETTE_CLIENT_KEY", NULL},
         KK_ERR_INVALID_ARG,
         "option 'ssl_keyfile'"},
        {"SCRAM without a user",
         "KAFKETTE_BOOTSTRAP_SASL_SSL",
         {"security_protocol", "SASL_SSL", "sasl_mechanism", "SCRAM-SHA-512", NULL},
         KK_ERR_INVALID_ARG,
         "needs the options sasl_username and sasl_password"},
        {"OAUTHBEARER without a token",
         "KAFKETTE_BOOTSTRAP_SASL_SSL",
         {"security_protocol", "SASL_SSL", "sasl_mechanism", "OAUTHBEARER", NULL},
         KK_ERR_INVALID_ARG,
         "sasl_oauth_token"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kk_error_t err;
        int64_t ms;
        int rc = try_connect(cases[i].bootstrap, cases[i].pairs, &err, &ms);
        print_message("%-40s %s: %s\n", cases[i].name, kk_err_name(rc), err.message);
        assert_int_equal(rc, cases[i].code);
        if (!strstr(err.message, cases[i].says))
            fail_msg("%s: the message does not say \"%s\": %s", cases[i].name, cases[i].says,
                     err.message);
        assert_no_secret(err.message);
    }
}

/* A successful SASL session with debug logging: the password is not in any log line. */
static void test_secrets_stay_out_of_logs(void **state) {
    (void)state;
    const char *pairs[] = {
        SASL("SASL_SSL", "PLAIN", "$KAFKETTE_SASL_USERNAME", "$KAFKETTE_SASL_PASSWORD"), NULL};
    kk_config_t *cfg = kk_sec_config(KK_CONFIG_PRODUCER, "KAFKETTE_BOOTSTRAP_SASL_SSL", pairs);
    char buf[256];
    assert_true(kk_config_get(cfg, "sasl_password", buf, sizeof(buf)) > 0);
    assert_string_equal(buf, "***");
    kk_producer_config_t *pc = kk_config_producer(cfg);
    pc->client.log_cb = collect_log;
    kk_error_t err;
    kk_producer_t *p = kk_producer_new(pc, &err);
    assert_non_null(p);
    kk_message_t m = {
        .topic = "kafkette-secret-check", .value = "x", .value_len = 1, .partition = -1};
    assert_int_equal(kk_producer_send(p, &m, 1, &err), KK_OK);
    kk_producer_free(p);
    kk_config_free(cfg);
    assert_true(logged_len > 0);
    assert_no_secret(logged);
}

static void test_unsupported_mechanism_lists_the_offer(void **state) {
    (void)state;
    fake_broker_t fb;
    fake_broker_start(&fb, FAKE_NO_MECHANISM);
    setenv("KAFKETTE_FAKE", fb.address, 1);
    const char *pairs[] = {"security_protocol", "SASL_PLAINTEXT", "sasl_mechanism",
                           "SCRAM-SHA-256",     "sasl_username",  "u",
                           "sasl_password",     "wrong-Pa55word", NULL};
    kk_error_t err;
    int64_t ms;
    int rc = try_connect("KAFKETTE_FAKE", pairs, &err, &ms);
    print_message("%s\n", err.message);
    assert_int_equal(rc, 33);
    assert_non_null(strstr(err.message, "SCRAM-SHA-256"));
    assert_non_null(strstr(err.message, "it offers: PLAIN, GSSAPI"));
    fake_broker_stop(&fb);
}

/* The server's signature is checked: a server that does not know the password is refused even
 * though it said the authentication succeeded. */
static void test_scram_server_must_prove_itself(void **state) {
    (void)state;
    fake_broker_t fb;
    fake_broker_start(&fb, FAKE_BAD_SCRAM);
    setenv("KAFKETTE_FAKE", fb.address, 1);
    const char *pairs[] = {"security_protocol", "SASL_PLAINTEXT", "sasl_mechanism",
                           "SCRAM-SHA-512",     "sasl_username",  "u",
                           "sasl_password",     "wrong-Pa55word", NULL};
    kk_error_t err;
    int64_t ms;
    int rc = try_connect("KAFKETTE_FAKE", pairs, &err, &ms);
    print_message("%s\n", err.message);
    assert_int_equal(rc, KK_ERR_AUTHENTICATION);
    assert_non_null(strstr(err.message, "could not prove that it knows the password"));
    fake_broker_stop(&fb);
}

static kk_client_t *silent_client(fake_broker_t *fb, int connect_timeout_ms, bool (*check)(void *),
                                  kk_error_t *err) {
    fake_broker_start(fb, FAKE_SILENT);
    kk_client_config_t cfg;
    kk_client_config_init(&cfg);
    cfg.bootstrap_servers = fb->address;
    cfg.security_protocol = KK_SECURITY_SSL;
    cfg.ssl_cafile = kk_sec_env("KAFKETTE_CA_FILE");
    cfg.connect_timeout_ms = connect_timeout_ms;
    cfg.interrupt_check = check;
    return kk_client_new(&cfg, err);
}

static void test_handshake_times_out(void **state) {
    (void)state;
    fake_broker_t fb;
    kk_error_t err;
    kk_client_t *client = silent_client(&fb, 700, NULL, &err);
    int64_t start = now_ms();
    assert_int_equal(kk_client_connect(client, &err), KK_ERR_TIMED_OUT);
    int64_t ms = now_ms() - start;
    print_message("%lld ms: %s\n", (long long)ms, err.message);
    assert_true(ms >= 650 && ms < 2000);
    assert_non_null(strstr(err.message, "TLS handshake timed out"));
    kk_client_free(client);
    fake_broker_stop(&fb);
}

static void *interrupt_later(void *client) {
    usleep(300 * 1000);
    kk_client_interrupt(client);
    return NULL;
}

static void test_handshake_is_interruptible(void **state) {
    (void)state;
    fake_broker_t fb;
    kk_error_t err;
    kk_client_t *client = silent_client(&fb, 20000, NULL, &err);
    pthread_t t;
    pthread_create(&t, NULL, interrupt_later, client);
    int64_t start = now_ms();
    assert_int_equal(kk_client_connect(client, &err), KK_ERR_INTERRUPTED);
    int64_t ms = now_ms() - start;
    pthread_join(t, NULL);
    print_message("%lld ms: %s\n", (long long)ms, err.message);
    assert_true(ms < 1500);
    kk_client_free(client);
    fake_broker_stop(&fb);
}

static int64_t check_deadline;
static bool past_deadline(void *opaque) {
    (void)opaque;
    return now_ms() >= check_deadline;
}

static void test_handshake_honours_interrupt_check(void **state) {
    (void)state;
    fake_broker_t fb;
    kk_error_t err;
    check_deadline = now_ms() + 300;
    kk_client_t *client = silent_client(&fb, 20000, past_deadline, &err);
    int64_t start = now_ms();
    assert_int_equal(kk_client_connect(client, &err), KK_ERR_INTERRUPTED);
    int64_t ms = now_ms() - start;
    print_message("%lld ms: %s\n", (long long)ms, err.message);
    assert_true(ms < 1500);
    kk_client_free(client);
    fake_broker_stop(&fb);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failures_are_clear_and_quick),
        cmocka_unit_test(test_check_hostname_opt_out),
        cmocka_unit_test(test_configuration_errors),
        cmocka_unit_test(test_secrets_stay_out_of_logs),
        cmocka_unit_test(test_unsupported_mechanism_lists_the_offer),
        cmocka_unit_test(test_scram_server_must_prove_itself),
        cmocka_unit_test(test_handshake_times_out),
        cmocka_unit_test(test_handshake_is_interruptible),
        cmocka_unit_test(test_handshake_honours_interrupt_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
