/* A one-connection fake broker on loopback for the failures a real broker will not produce on
 * demand: silence during the TLS handshake, a listener without our SASL mechanism, and a
 * SCRAM server that does not know the password. */
#ifndef KK_TEST_FAKE_BROKER_H
#define KK_TEST_FAKE_BROKER_H

#include <pthread.h>

typedef enum fake_mode {
    FAKE_SILENT,       /* accepts, reads, never answers */
    FAKE_NO_MECHANISM, /* SaslHandshake: UNSUPPORTED_SASL_MECHANISM, offering PLAIN and GSSAPI */
    FAKE_BAD_SCRAM,    /* SCRAM with a made-up salt and a server signature of zeros */
} fake_mode_t;

typedef struct fake_broker {
    int listen_fd;
    int port;
    fake_mode_t mode;
    pthread_t thread;
    char address[32]; /* "127.0.0.1:port" */
} fake_broker_t;

void fake_broker_start(fake_broker_t *fb, fake_mode_t mode);
/* Waits for the connection to end (the client closing it) and frees the listener. */
void fake_broker_stop(fake_broker_t *fb);

#endif
