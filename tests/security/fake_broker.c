#include "fake_broker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct out {
    uint8_t data[1024];
    size_t len;
} out_t;

static void put(out_t *o, const void *p, size_t n) {
    memcpy(o->data + o->len, p, n);
    o->len += n;
}
static void put8(out_t *o, uint8_t v) { put(o, &v, 1); }
static void put16(out_t *o, int16_t v) {
    put8(o, (uint8_t)(v >> 8));
    put8(o, (uint8_t)v);
}
static void put32(out_t *o, int32_t v) {
    put16(o, (int16_t)(v >> 16));
    put16(o, (int16_t)v);
}
static void put_str(out_t *o, const char *s) {
    put16(o, (int16_t)strlen(s));
    put(o, s, strlen(s));
}

static int read_full(int fd, uint8_t *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, buf + got, n - got, 0);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

static void respond(int fd, out_t *body) {
    uint8_t size[4] = {(uint8_t)(body->len >> 24), (uint8_t)(body->len >> 16),
                       (uint8_t)(body->len >> 8), (uint8_t)body->len};
    if (send(fd, size, 4, MSG_NOSIGNAL) != 4 ||
        send(fd, body->data, body->len, MSG_NOSIGNAL) != (ssize_t)body->len)
        return;
}

/* The SASL token of a SaslAuthenticate v2 request body (compact bytes). */
static size_t compact_bytes(const uint8_t *p, size_t len, const uint8_t **out) {
    uint32_t v = 0;
    int shift = 0;
    size_t i = 0;
    while (i < len) {
        v |= (uint32_t)(p[i] & 0x7f) << shift;
        shift += 7;
        if (!(p[i++] & 0x80))
            break;
    }
    *out = p + i;
    return v ? v - 1 : 0;
}

static void serve(fake_broker_t *fb, int fd) {
    uint8_t buf[4096];
    int scram_step = 0;
    while (fb->mode == FAKE_SILENT) /* swallow the ClientHello and whatever follows */
        if (recv(fd, buf, sizeof(buf), 0) <= 0)
            return;
    for (;;) {
        uint8_t size_bytes[4];
        if (read_full(fd, size_bytes, 4) != 0)
            return;
        uint32_t size = (uint32_t)size_bytes[0] << 24 | (uint32_t)size_bytes[1] << 16 |
                        (uint32_t)size_bytes[2] << 8 | size_bytes[3];
        if (size > sizeof(buf) || read_full(fd, buf, size) != 0)
            return;
        int16_t api = (int16_t)(buf[0] << 8 | buf[1]);
        int16_t version = (int16_t)(buf[2] << 8 | buf[3]);
        int32_t corr = (int32_t)((uint32_t)buf[4] << 24 | (uint32_t)buf[5] << 16 |
                                 (uint32_t)buf[6] << 8 | buf[7]);
        size_t client_id_len = (size_t)(buf[8] << 8 | buf[9]);
        size_t body_at = 10 + client_id_len;
        out_t o = {.len = 0};
        put32(&o, corr);
        if (api == 18) { /* ApiVersions v3: header v0, flexible body */
            put16(&o, 0);
            static const int16_t ranges[][3] = {{18, 0, 3}, {17, 0, 1}, {36, 0, 2}, {3, 0, 12}};
            put8(&o, 4 + 1);
            for (int i = 0; i < 4; i++) {
                put16(&o, ranges[i][0]);
                put16(&o, ranges[i][1]);
                put16(&o, ranges[i][2]);
                put8(&o, 0);
            }
            put32(&o, 0);
            put8(&o, 0);
        } else if (api == 17) { /* SaslHandshake v1 */
            put16(&o, fb->mode == FAKE_NO_MECHANISM ? 33 : 0);
            put32(&o, 2);
            put_str(&o, "PLAIN");
            put_str(&o, fb->mode == FAKE_NO_MECHANISM ? "GSSAPI" : "SCRAM-SHA-512");
        } else if (api == 36 && version == 2) { /* SaslAuthenticate v2: header v1 */
            body_at += 1;                       /* request header tags */
            const uint8_t *token;
            size_t token_len = compact_bytes(buf + body_at, size - body_at, &token);
            char reply[300];
            if (scram_step++ == 0) {
                /* client-first "n,,n=user,r=NONCE": extend the client's nonce */
                const char *r = NULL;
                for (size_t i = 0; !r && i + 3 <= token_len; i++)
                    if (memcmp(token + i, ",r=", 3) == 0)
                        r = (const char *)token + i;
                int nonce_len = r ? (int)(token_len - (size_t)((const uint8_t *)r + 3 - token)) : 0;
                snprintf(reply, sizeof(reply), "r=%.*sFAKE,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
                         nonce_len, r ? r + 3 : "");
            } else {
                /* a signature only a server that knows the password could compute: zeros */
                memset(reply, 'A', 2 + 86);
                memcpy(reply, "v=", 2);
                memcpy(reply + 2 + 86, "==", 3); /* base64 of 64 zero bytes */
            }
            put8(&o, 0); /* response header tags */
            put16(&o, 0);
            put8(&o, 0); /* null error message */
            put8(&o, (uint8_t)(strlen(reply) + 1));
            put(&o, reply, strlen(reply));
            for (int i = 0; i < 8; i++)
                put8(&o, 0); /* no session lifetime */
            put8(&o, 0);
        } else {
            return; /* anything else: hang up */
        }
        respond(fd, &o);
    }
}

static void *run(void *arg) {
    fake_broker_t *fb = arg;
    struct pollfd p = {.fd = fb->listen_fd, .events = POLLIN};
    if (poll(&p, 1, 20000) != 1)
        return NULL;
    int fd = accept(fb->listen_fd, NULL, NULL);
    if (fd < 0)
        return NULL;
    serve(fb, fd);
    close(fd);
    return NULL;
}

void fake_broker_start(fake_broker_t *fb, fake_mode_t mode) {
    memset(fb, 0, sizeof(*fb));
    fb->mode = mode;
    fb->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fb->listen_fd < 0 || bind(fb->listen_fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(fb->listen_fd, 4) != 0 || getsockname(fb->listen_fd, (struct sockaddr *)&a, &len)) {
        perror("fake broker");
        abort();
    }
    fb->port = ntohs(a.sin_port);
    snprintf(fb->address, sizeof(fb->address), "127.0.0.1:%d", fb->port);
    pthread_create(&fb->thread, NULL, run, fb);
}

void fake_broker_stop(fake_broker_t *fb) {
    pthread_join(fb->thread, NULL);
    close(fb->listen_fd);
}
