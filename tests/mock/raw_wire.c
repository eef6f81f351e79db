#include "raw_wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define CLIENT_ID "kk-raw-test"
#define MAX_RESPONSE (16 * 1024 * 1024)

/* ---- encoding ---------------------------------------------------------------------- */

typedef struct wbuf {
    uint8_t data[1024];
    size_t len;
    bool overflow;
} wbuf_t;

static void put_bytes(wbuf_t *w, const void *p, size_t n) {
    if (n == 0) /* p may be NULL then, which memcpy does not allow */
        return;
    if (w->overflow || n > sizeof(w->data) - w->len) {
        w->overflow = true;
        return;
    }
    memcpy(w->data + w->len, p, n);
    w->len += n;
}

static void put_i16(wbuf_t *w, int16_t v) {
    uint8_t b[2] = {(uint8_t)((uint16_t)v >> 8), (uint8_t)v};
    put_bytes(w, b, 2);
}

static void put_i32(wbuf_t *w, int32_t v) {
    uint32_t u = (uint32_t)v;
    uint8_t b[4] = {(uint8_t)(u >> 24), (uint8_t)(u >> 16), (uint8_t)(u >> 8), (uint8_t)u};
    put_bytes(w, b, 4);
}

static void put_str(wbuf_t *w, const char *s) {
    size_t n = strlen(s);
    put_i16(w, (int16_t)n);
    put_bytes(w, s, n);
}

/* ---- decoding: a cursor with a sticky error flag ------------------------------------ */

typedef struct rbuf {
    const uint8_t *p;
    size_t len, pos;
    bool bad;
} rbuf_t;

static const uint8_t *take(rbuf_t *r, size_t n) {
    if (r->bad || n > r->len - r->pos) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p + r->pos;
    r->pos += n;
    return p;
}

static int8_t get_i8(rbuf_t *r) {
    const uint8_t *p = take(r, 1);
    return p ? (int8_t)p[0] : 0;
}

static int16_t get_i16(rbuf_t *r) {
    const uint8_t *p = take(r, 2);
    return p ? (int16_t)(uint16_t)((p[0] << 8) | p[1]) : 0;
}

static int32_t get_i32(rbuf_t *r) {
    const uint8_t *p = take(r, 4);
    if (!p)
        return 0;
    return (int32_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) |
                     (uint32_t)p[3]);
}

/* Nullable string into a fixed buffer; null reads as "". Too long marks the reader bad. */
static void get_str(rbuf_t *r, char *out, size_t cap) {
    int16_t n = get_i16(r);
    out[0] = '\0';
    if (n < 0)
        return;
    const uint8_t *p = take(r, (size_t)n);
    if (!p)
        return;
    if ((size_t)n >= cap) {
        r->bad = true;
        return;
    }
    memcpy(out, p, (size_t)n);
    out[n] = '\0';
}

/* An array count that must fit `cap` entries. */
static int get_count(rbuf_t *r, int cap) {
    int32_t n = get_i32(r);
    if (n < 0 || n > cap) {
        r->bad = true;
        return 0;
    }
    return n;
}

/* ---- sockets ------------------------------------------------------------------------ */

int raw_port(const char *hostport) {
    const char *colon = strrchr(hostport, ':');
    if (!colon)
        return -1;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    return (*end == '\0' && port > 0 && port < 65536) ? (int)port : -1;
}

int raw_connect(const char *hostport) {
    const char *colon = strrchr(hostport, ':');
    int port = raw_port(hostport);
    if (!colon || port < 0 || (size_t)(colon - hostport) >= 64)
        return RAW_ERR_CONNECT;
    char host[64];
    memcpy(host, hostport, (size_t)(colon - hostport));
    host[colon - hostport] = '\0';

    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
        return RAW_ERR_CONNECT;

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return RAW_ERR_CONNECT;
    /* A test that waits for a response the mock never sends should fail, not hang. */
    struct timeval tv = {.tv_sec = 10, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return RAW_ERR_CONNECT;
    }
    return fd;
}

static int send_all(int fd, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return (errno == EPIPE || errno == ECONNRESET) ? RAW_ERR_CLOSED : RAW_ERR_IO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int recv_all(int fd, uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t r = recv(fd, p, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0 || (r < 0 && errno == ECONNRESET))
            return RAW_ERR_CLOSED;
        if (r < 0)
            return RAW_ERR_IO;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Differs between consecutive calls without any shared counter, so a stale response
 * (say, one held back by an RTT) is caught by the correlation check. */
static int32_t next_correlation_id(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int32_t)(((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) & 0x7fffffff);
}

int raw_call(int fd, int16_t api_key, int16_t api_version, const uint8_t *body, size_t body_len,
             uint8_t **resp, size_t *resp_len) {
    *resp = NULL;
    *resp_len = 0;
    int32_t correlation_id = next_correlation_id();

    wbuf_t w = {.len = 0};
    put_i32(&w, 0); /* size, filled below */
    put_i16(&w, api_key);
    put_i16(&w, api_version);
    put_i32(&w, correlation_id);
    put_str(&w, CLIENT_ID);
    put_bytes(&w, body, body_len);
    if (w.overflow)
        return RAW_ERR_TOO_LARGE;
    uint32_t size = (uint32_t)(w.len - 4);
    w.data[0] = (uint8_t)(size >> 24);
    w.data[1] = (uint8_t)(size >> 16);
    w.data[2] = (uint8_t)(size >> 8);
    w.data[3] = (uint8_t)size;

    int rc = send_all(fd, w.data, w.len);
    if (rc)
        return rc;

    uint8_t hdr[8];
    if ((rc = recv_all(fd, hdr, 4)) != 0)
        return rc;
    uint32_t len =
        ((uint32_t)hdr[0] << 24) | ((uint32_t)hdr[1] << 16) | ((uint32_t)hdr[2] << 8) | hdr[3];
    if (len < 4 || len > MAX_RESPONSE)
        return RAW_ERR_TOO_LARGE;
    if ((rc = recv_all(fd, hdr + 4, 4)) != 0)
        return rc;
    uint32_t got =
        ((uint32_t)hdr[4] << 24) | ((uint32_t)hdr[5] << 16) | ((uint32_t)hdr[6] << 8) | hdr[7];
    uint8_t *buf = malloc(len - 4 > 0 ? len - 4 : 1);
    if (!buf)
        return RAW_ERR_IO;
    if ((rc = recv_all(fd, buf, len - 4)) != 0) {
        free(buf);
        return rc;
    }
    if ((int32_t)got != correlation_id) {
        free(buf);
        return RAW_ERR_CORRELATION;
    }
    *resp = buf;
    *resp_len = len - 4;
    return 0;
}

/* ---- the three requests the tests speak ------------------------------------------- */

int raw_api_versions_v0(int fd, raw_api_versions_t *out) {
    uint8_t *resp;
    size_t len;
    memset(out, 0, sizeof(*out));
    int rc = raw_call(fd, RAW_API_API_VERSIONS, 0, NULL, 0, &resp, &len);
    if (rc)
        return rc;
    rbuf_t r = {.p = resp, .len = len};
    out->error_code = get_i16(&r);
    out->count = get_count(&r, 128);
    for (int i = 0; i < out->count; i++) {
        out->apis[i].key = get_i16(&r);
        out->apis[i].min = get_i16(&r);
        out->apis[i].max = get_i16(&r);
    }
    out->malformed = r.bad || r.pos != r.len;
    free(resp);
    return 0;
}

bool raw_api_versions_find(const raw_api_versions_t *v, int16_t api_key, int16_t *min,
                           int16_t *max) {
    for (int i = 0; i < v->count; i++) {
        if (v->apis[i].key == api_key) {
            *min = v->apis[i].min;
            *max = v->apis[i].max;
            return true;
        }
    }
    return false;
}

int raw_metadata_v1(int fd, const char *topic, raw_metadata_t *out) {
    wbuf_t w = {.len = 0};
    if (topic) {
        put_i32(&w, 1);
        put_str(&w, topic);
    } else {
        put_i32(&w, -1); /* v1: null array = all topics */
    }
    if (w.overflow)
        return RAW_ERR_TOO_LARGE;

    uint8_t *resp;
    size_t len;
    memset(out, 0, sizeof(*out));
    int rc = raw_call(fd, RAW_API_METADATA, 1, w.data, w.len, &resp, &len);
    if (rc)
        return rc;
    rbuf_t r = {.p = resp, .len = len};
    out->broker_count = get_count(&r, 32);
    for (int i = 0; i < out->broker_count; i++) {
        char rack[64];
        out->brokers[i].node_id = get_i32(&r);
        get_str(&r, out->brokers[i].host, sizeof(out->brokers[i].host));
        out->brokers[i].port = get_i32(&r);
        get_str(&r, rack, sizeof(rack));
    }
    out->controller_id = get_i32(&r);
    out->topic_count = get_count(&r, 4);
    for (int t = 0; t < out->topic_count; t++) {
        raw_topic_t *tp = &out->topics[t];
        tp->error_code = get_i16(&r);
        get_str(&r, tp->name, sizeof(tp->name));
        tp->is_internal = get_i8(&r) != 0;
        tp->partition_count = get_count(&r, 64);
        for (int p = 0; p < tp->partition_count; p++) {
            raw_partition_t *pp = &tp->partitions[p];
            pp->error_code = get_i16(&r);
            pp->id = get_i32(&r);
            pp->leader = get_i32(&r);
            pp->replica_count = get_count(&r, 64);
            for (int i = 0; i < pp->replica_count; i++)
                (void)get_i32(&r);
            pp->isr_count = get_count(&r, 64);
            for (int i = 0; i < pp->isr_count; i++)
                (void)get_i32(&r);
        }
    }
    out->malformed = r.bad || r.pos != r.len;
    free(resp);
    return 0;
}

int raw_find_coordinator_v0(int fd, const char *group, raw_coordinator_t *out) {
    wbuf_t w = {.len = 0};
    put_str(&w, group);
    if (w.overflow)
        return RAW_ERR_TOO_LARGE;

    uint8_t *resp;
    size_t len;
    memset(out, 0, sizeof(*out));
    int rc = raw_call(fd, RAW_API_FIND_COORDINATOR, 0, w.data, w.len, &resp, &len);
    if (rc)
        return rc;
    rbuf_t r = {.p = resp, .len = len};
    out->error_code = get_i16(&r);
    out->node_id = get_i32(&r);
    get_str(&r, out->host, sizeof(out->host));
    out->port = get_i32(&r);
    out->malformed = r.bad || r.pos != r.len;
    free(resp);
    return 0;
}
