#include "connection.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bytes.h"
#include "error.h"
#include "protocol.h"
#include "stats.h"

/* ---- waker ------------------------------------------------------------------------------ */

static int set_nonblocking_cloexec(int fd) {
    int flags = fcntl(fd, F_GETFL, 0);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return -1;
    return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

int kk_waker_init(kk_waker_t *waker, kk_error_t *err) {
    int fds[2];
    atomic_init(&waker->interrupted, false);
    waker->read_fd = waker->write_fd = -1;
    if (pipe(fds) != 0)
        return kk_error_set(err, KK_ERR_IO, "cannot create wake-up pipe: %s", strerror(errno));
    if (set_nonblocking_cloexec(fds[0]) != 0 || set_nonblocking_cloexec(fds[1]) != 0) {
        int saved = errno;
        close(fds[0]);
        close(fds[1]);
        return kk_error_set(err, KK_ERR_IO, "cannot configure wake-up pipe: %s", strerror(saved));
    }
    waker->read_fd = fds[0];
    waker->write_fd = fds[1];
    return KK_OK;
}

void kk_waker_destroy(kk_waker_t *waker) {
    if (waker->read_fd >= 0)
        close(waker->read_fd);
    if (waker->write_fd >= 0)
        close(waker->write_fd);
    waker->read_fd = waker->write_fd = -1;
}

void kk_waker_wake(kk_waker_t *waker) {
    atomic_store(&waker->interrupted, true);
    /* A full pipe already wakes every poller, so a failed write loses nothing. */
    ssize_t ignored = write(waker->write_fd, "x", 1);
    (void)ignored;
}

void kk_waker_clear(kk_waker_t *waker) {
    char drain[64];
    atomic_store(&waker->interrupted, false);
    while (read(waker->read_fd, drain, sizeof(drain)) > 0) {
    }
}

int64_t kk_monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd (or only for the deadline when fd < 0). Returns 0 when ready,
 * KK_ERR_TIMED_OUT or KK_ERR_INTERRUPTED. */
static int wait_until(const kk_conn_options_t *opts, int fd, short events, int64_t deadline) {
    kk_waker_t *waker = opts->waker;
    for (;;) {
        if (waker && atomic_load(&waker->interrupted))
            return KK_ERR_INTERRUPTED;
        if (opts->interrupt_check && opts->interrupt_check(opts->interrupt_opaque))
            return KK_ERR_INTERRUPTED;
        int64_t left = deadline - kk_monotonic_ms();
        if (left <= 0)
            return KK_ERR_TIMED_OUT;
        if (opts->interrupt_check && left > KK_INTERRUPT_CHECK_MS)
            left = KK_INTERRUPT_CHECK_MS;
        struct pollfd pfds[2];
        nfds_t n = 0;
        if (fd >= 0)
            pfds[n++] = (struct pollfd){.fd = fd, .events = events};
        if (waker)
            pfds[n++] = (struct pollfd){.fd = waker->read_fd, .events = POLLIN};
        int rc = poll(pfds, n, left > 1000000 ? 1000000 : (int)left);
        if (rc < 0 && errno != EINTR)
            return KK_ERR_IO;
        if (rc > 0 && fd >= 0 && pfds[0].revents)
            return KK_OK;
        /* woken, timed out or EINTR: loop re-checks the flag and the deadline */
    }
}

int kk_conn_sleep(const kk_conn_options_t *opts, int ms) {
    int rc = wait_until(opts, -1, 0, kk_monotonic_ms() + ms);
    return rc == KK_ERR_TIMED_OUT ? KK_OK : rc;
}

/* ---- addresses --------------------------------------------------------------------------- */

int kk_parse_host_port(const char *text, size_t text_len, char *host, size_t host_size, int *port,
                       kk_error_t *err) {
    const char *end = text + text_len;
    while (text < end && (*text == ' ' || *text == '\t'))
        text++;
    while (end > text && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    const char *host_start = text, *host_end, *colon;
    if (text < end && *text == '[') {
        host_start = text + 1;
        host_end = memchr(host_start, ']', (size_t)(end - host_start));
        if (!host_end || host_end + 1 >= end || host_end[1] != ':')
            return kk_error_set(err, KK_ERR_INVALID_ARG, "bad broker address \"%.*s\"",
                                (int)(end - text), text);
        colon = host_end + 1;
    } else {
        colon = NULL;
        for (const char *p = text; p < end; p++)
            if (*p == ':')
                colon = p;
        host_end = colon;
    }
    if (!colon || host_end == host_start)
        return kk_error_set(err, KK_ERR_INVALID_ARG,
                            "bad broker address \"%.*s\": expected host:port", (int)(end - text),
                            text);
    size_t host_len = (size_t)(host_end - host_start);
    if (host_len >= host_size)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "broker host name is too long");
    long value = 0;
    const char *p = colon + 1;
    if (p == end)
        value = -1;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9' || value > 65535) {
            value = -1;
            break;
        }
        value = value * 10 + (*p - '0');
    }
    if (value < 1 || value > 65535)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "bad port in broker address \"%.*s\"",
                            (int)(end - text), text);
    memcpy(host, host_start, host_len);
    host[host_len] = '\0';
    *port = (int)value;
    return KK_OK;
}

/* ---- connection -------------------------------------------------------------------------- */

void kk_conn_init(kk_conn_t *c, const char *host, int port, const kk_conn_options_t *opts) {
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    snprintf(c->host, sizeof(c->host), "%s", host);
    c->port = port;
    if (strchr(c->host, ':'))
        snprintf(c->label, sizeof(c->label), "[%s]:%d", c->host, port);
    else
        snprintf(c->label, sizeof(c->label), "%s:%d", c->host, port);
    c->opts = *opts;
    c->next_correlation_id = 1;
    for (int i = 0; i < KK_API__COUNT; i++)
        c->versions[i] = -1;
    kk_writer_init(&c->request);
}

void kk_conn_close(kk_conn_t *c) {
    if (c->opts.metrics && c->in_flight > 0)
        atomic_fetch_sub_explicit(&c->opts.metrics->in_flight, c->in_flight, memory_order_relaxed);
    kk_tls_free(c->tls); /* sends nothing: safe in a forked child */
    c->tls = NULL;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->in_flight = 0;
    c->sent_first = c->sent_count = 0;
    c->reauth_at_ms = 0;
    c->answered = false;
}

void kk_conn_destroy(kk_conn_t *c) {
    kk_conn_close(c);
    kk_writer_free(&c->request);
    free(c->response);
    c->response = NULL;
    c->response_cap = c->response_len = 0;
}

/* Closes the connection and returns the error, prefixed with the broker's address. */
static int fail(kk_conn_t *c, kk_error_t *err, int code, const char *what) {
    kk_conn_close(c);
    switch (code) {
    case KK_ERR_TIMED_OUT:
        return kk_error_set(err, code, "%s: %s timed out", c->label, what);
    case KK_ERR_INTERRUPTED:
        return kk_error_set(err, code, "%s: %s interrupted", c->label, what);
    default:
        return kk_error_set(err, code, "%s: %s failed", c->label, what);
    }
}

static int connect_one(kk_conn_t *c, const struct addrinfo *ai, int64_t deadline, int *sock_errno) {
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) {
        *sock_errno = errno;
        return KK_ERR_IO;
    }
    if (set_nonblocking_cloexec(fd) != 0) {
        *sock_errno = errno;
        close(fd);
        return KK_ERR_IO;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        if (errno != EINPROGRESS) {
            *sock_errno = errno;
            close(fd);
            return errno == ECONNREFUSED ? KK_ERR_CONNECTION_REFUSED : KK_ERR_IO;
        }
        int rc = wait_until(&c->opts, fd, POLLOUT, deadline);
        if (rc != KK_OK) {
            *sock_errno = 0;
            close(fd);
            return rc;
        }
        int so_error = 0;
        socklen_t len = sizeof(so_error);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
        if (so_error != 0) {
            *sock_errno = so_error;
            close(fd);
            return so_error == ECONNREFUSED ? KK_ERR_CONNECTION_REFUSED : KK_ERR_IO;
        }
    }
    c->fd = fd;
    return KK_OK;
}

/* The TLS handshake on the connected socket, within the connect deadline. */
static int tls_handshake(kk_conn_t *c, int64_t deadline, kk_error_t *err) {
    c->tls = kk_tls_new(c->opts.tls, c->fd, c->host, err);
    if (!c->tls) {
        int code = err ? err->code : KK_ERR_SSL;
        kk_conn_close(c);
        kk_error_prefix(err, "%s: ", c->label);
        return code;
    }
    for (;;) {
        short events = 0;
        int rc = kk_tls_handshake(c->tls, &events, err);
        if (rc == KK_OK)
            return KK_OK;
        if (rc != KK_TLS_AGAIN) {
            kk_conn_close(c);
            kk_error_prefix(err, "%s: ", c->label);
            return rc;
        }
        rc = wait_until(&c->opts, c->fd, events, deadline);
        if (rc == KK_ERR_TIMED_OUT) {
            kk_conn_close(c);
            return kk_error_set(err, rc,
                                "%s: TLS handshake timed out (connect_timeout_ms %d covers the "
                                "connect and the handshake; is this a TLS port?)",
                                c->label, c->opts.connect_timeout_ms);
        }
        if (rc != KK_OK)
            return fail(c, err, rc, "TLS handshake");
    }
}

static int connect_socket(kk_conn_t *c, kk_error_t *err) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *addrs = NULL;
    char port_text[16];
    snprintf(port_text, sizeof(port_text), "%d", c->port);
    int gai = getaddrinfo(c->host, port_text, &hints, &addrs);
    if (gai != 0)
        return kk_error_set(err, KK_ERR_RESOLVE, "%s: cannot resolve host \"%s\": %s", c->label,
                            c->host, gai_strerror(gai));
    int64_t deadline = kk_monotonic_ms() + c->opts.connect_timeout_ms;
    int rc = KK_ERR_IO, sock_errno = 0;
    for (struct addrinfo *ai = addrs; ai; ai = ai->ai_next) {
        rc = connect_one(c, ai, deadline, &sock_errno);
        if (rc == KK_OK || rc == KK_ERR_INTERRUPTED || rc == KK_ERR_TIMED_OUT)
            break;
    }
    freeaddrinfo(addrs);
    switch (rc) {
    case KK_OK:
        return c->opts.tls ? tls_handshake(c, deadline, err) : KK_OK;
    case KK_ERR_TIMED_OUT:
        return kk_error_set(err, rc, "%s: connect timed out after %d ms", c->label,
                            c->opts.connect_timeout_ms);
    case KK_ERR_INTERRUPTED:
        return kk_error_set(err, rc, "%s: connect interrupted", c->label);
    case KK_ERR_CONNECTION_REFUSED:
        return kk_error_set(err, rc, "%s: connection refused (is the broker running?)", c->label);
    default:
        return kk_error_set(err, rc, "%s: connect failed: %s", c->label,
                            sock_errno ? strerror(sock_errno) : "unknown error");
    }
}

kk_writer_t *kk_conn_begin(kk_conn_t *c, int api_key, int16_t version) {
    kk_writer_reset(&c->request);
    (void)kk_writer_slot_i32(&c->request);
    kk_encode_request_header(&c->request, api_key, version, c->next_correlation_id, c->opts.client_id);
    return &c->request;
}

static int send_all(kk_conn_t *c, const uint8_t *data, size_t len, int64_t deadline,
                    kk_error_t *err) {
    size_t sent = 0;
    while (sent < len && c->tls) {
        size_t done;
        short events;
        int rc = kk_tls_write(c->tls, data + sent, len - sent, &done, &events, err);
        if (rc == KK_OK) {
            sent += done;
            continue;
        }
        if (rc == KK_TLS_AGAIN) {
            rc = wait_until(&c->opts, c->fd, events, deadline);
            if (rc != KK_OK)
                return fail(c, err, rc, "sending request");
            continue;
        }
        kk_conn_close(c);
        kk_error_prefix(err, "%s: sending request failed: ", c->label);
        return rc;
    }
    while (sent < len) {
        ssize_t n = send(c->fd, data + sent, len - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int rc = wait_until(&c->opts, c->fd, POLLOUT, deadline);
            if (rc != KK_OK)
                return fail(c, err, rc, "sending request");
            continue;
        }
        int code = (errno == EPIPE || errno == ECONNRESET) ? KK_ERR_CONNECTION_CLOSED : KK_ERR_IO;
        int saved = errno;
        kk_conn_close(c);
        return kk_error_set(err, code, "%s: sending request failed: %s", c->label, strerror(saved));
    }
    return KK_OK;
}

static int recv_all(kk_conn_t *c, uint8_t *data, size_t len, int64_t deadline, kk_error_t *err) {
    size_t got = 0;
    while (got < len && c->tls) {
        size_t done;
        short events;
        int rc = kk_tls_read(c->tls, data + got, len - got, &done, &events, err);
        if (rc == KK_OK) {
            got += done;
            continue;
        }
        if (rc == KK_TLS_AGAIN) {
            rc = wait_until(&c->opts, c->fd, events, deadline);
            if (rc != KK_OK)
                return fail(c, err, rc, "waiting for response");
            continue;
        }
        kk_conn_close(c);
        if (rc == KK_ERR_CONNECTION_CLOSED)
            return kk_error_set(err, rc, "%s: broker closed the connection %s", c->label,
                                got == 0 && data != c->response ? "before responding"
                                                                : "in the middle of a response");
        if (rc == KK_ERR_AUTHENTICATION || rc == KK_ERR_SSL || rc == KK_ERR_CERTIFICATE)
            kk_error_prefix(err, "%s: ", c->label);
        else
            kk_error_prefix(err, "%s: receiving response failed: ", c->label);
        return rc;
    }
    while (got < len) {
        ssize_t n = recv(c->fd, data + got, len - got, 0);
        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        if (n == 0) {
            /* A SASL listener answers ApiVersions, then closes on any request that comes
             * before authentication. */
            bool sasl_hint = !c->answered && !c->opts.sasl && c->versions[KK_API_API_VERSIONS] >= 0;
            kk_conn_close(c);
            return kk_error_set(err, KK_ERR_CONNECTION_CLOSED,
                                "%s: broker closed the connection %s%s", c->label,
                                got == 0 && data != c->response ? "before responding"
                                                                : "in the middle of a response",
                                sasl_hint ? " (if this is a SASL listener, set security_protocol "
                                            "SASL_PLAINTEXT or SASL_SSL and the SASL options)"
                                          : "");
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int rc = wait_until(&c->opts, c->fd, POLLIN, deadline);
            if (rc != KK_OK)
                return fail(c, err, rc, "waiting for response");
            continue;
        }
        int code = errno == ECONNRESET ? KK_ERR_CONNECTION_CLOSED : KK_ERR_IO;
        int saved = errno;
        kk_conn_close(c);
        return kk_error_set(err, code, "%s: receiving response failed: %s", c->label,
                            strerror(saved));
    }
    return KK_OK;
}

/* KIP-368: before the broker's SASL session runs out, authenticate again on the same
 * connection, between requests. The request already begun is set aside meanwhile. */
static int reauthenticate_if_due(kk_conn_t *c, kk_error_t *err) {
    if (!c->opts.sasl || c->reauth_at_ms == 0 || c->in_flight > 0 ||
        kk_monotonic_ms() < c->reauth_at_ms)
        return KK_OK;
    c->reauth_at_ms = 0; /* the exchange's own requests must not come back here */
    kk_writer_t saved = c->request;
    kk_writer_init(&c->request);
    int rc = c->opts.authenticate(c, err);
    kk_writer_free(&c->request);
    c->request = saved;
    if (rc != KK_OK) {
        kk_conn_close(c);
        return rc;
    }
    c->reauth_count++;
    /* the set-aside request gets the next correlation id (header: size, key, version, id) */
    kk_writer_patch_i32(&c->request, 8, c->next_correlation_id);
    return KK_OK;
}

bool kk_conn_reauth_due(const kk_conn_t *c, int64_t within_ms) {
    return c->fd >= 0 && c->opts.sasl && c->reauth_at_ms != 0 && c->in_flight == 0 &&
           kk_monotonic_ms() + within_ms >= c->reauth_at_ms;
}

int kk_conn_reauthenticate(kk_conn_t *c, kk_error_t *err) {
    if (!kk_conn_reauth_due(c, INT32_MAX))
        return KK_OK;
    c->reauth_at_ms = kk_monotonic_ms(); /* due now */
    return reauthenticate_if_due(c, err);
}

static int send_request(kk_conn_t *c, int64_t deadline, kk_error_t *err) {
    if (c->fd < 0)
        return kk_error_set(err, KK_ERR_NOT_CONNECTED, "%s: not connected", c->label);
    int rc = reauthenticate_if_due(c, err);
    if (rc != KK_OK)
        return rc;
    if (c->request.failed)
        return kk_error_set(err, KK_ERR_NO_MEMORY, "%s: could not encode request (out of memory "
                                                   "or a field over its size limit)", c->label);
    kk_writer_patch_i32(&c->request, 0, (int32_t)(c->request.len - 4));
    return send_all(c, c->request.data, c->request.len, deadline, err);
}

/* What every request and response adds to the statistics (stats.h). */
static void count_sent(kk_conn_t *c, int rc, size_t bytes) {
    kk_metrics_t *m = c->opts.metrics;
    if (!m)
        return;
    if (rc == KK_OK)
        kk_metrics_request(m, bytes);
    else if (rc != KK_ERR_INTERRUPTED)
        kk_metrics_error(m, rc);
}

static void count_received(kk_conn_t *c, int rc) {
    kk_metrics_t *m = c->opts.metrics;
    if (!m)
        return;
    if (rc != KK_OK) {
        if (rc != KK_ERR_INTERRUPTED)
            kk_metrics_error(m, rc);
        return;
    }
    if (c->slot_of != m) {
        c->metrics_slot = kk_metrics_broker_slot(m, c->label);
        c->slot_of = m;
    }
    atomic_fetch_sub_explicit(&m->in_flight, 1, memory_order_relaxed);
    int64_t rtt = -1;
    if (c->sent_count > 0) {
        rtt = kk_monotonic_us() - c->sent_us[c->sent_first];
        c->sent_first = (c->sent_first + 1) % 16;
        c->sent_count--;
    }
    kk_metrics_response(m, rtt >= 0 ? c->metrics_slot : -1, c->response_len + 4, rtt);
}

int kk_conn_send_only(kk_conn_t *c, kk_error_t *err) {
    int rc = send_request(c, kk_monotonic_ms() + c->opts.request_timeout_ms, err);
    count_sent(c, rc, c->request.len);
    c->next_correlation_id++;
    return rc;
}

int kk_conn_roundtrip(kk_conn_t *c, kk_reader_t *r, kk_error_t *err) {
    return kk_conn_roundtrip_within(c, c->opts.request_timeout_ms, r, err);
}

int kk_conn_roundtrip_within(kk_conn_t *c, int timeout_ms, kk_reader_t *r, kk_error_t *err) {
    kk_pending_t pending;
    int rc = kk_conn_send(c, &pending, err);
    if (rc != KK_OK)
        return rc;
    return kk_conn_receive(c, &pending, timeout_ms, r, err);
}

int kk_conn_send(kk_conn_t *c, kk_pending_t *pending, kk_error_t *err) {
    int64_t now_us = kk_monotonic_us();
    int rc = send_request(c, kk_monotonic_ms() + c->opts.request_timeout_ms, err);
    count_sent(c, rc, c->request.len);
    /* The header written by kk_conn_begin: api key, version, correlation id; read after
     * sending, since a re-authentication renumbers the request it set aside. */
    kk_reader_t header;
    kk_reader_init(&header, c->request.data + 4, c->request.len >= 12 ? 8 : 0);
    pending->api_key = kk_read_i16(&header);
    pending->version = kk_read_i16(&header);
    pending->correlation_id = kk_read_i32(&header);
    c->next_correlation_id++;
    if (rc == KK_OK) {
        c->in_flight++;
        if (c->opts.metrics)
            atomic_fetch_add_explicit(&c->opts.metrics->in_flight, 1, memory_order_relaxed);
        if (c->sent_count < 16)
            c->sent_us[(c->sent_first + c->sent_count++) % 16] = now_us;
    }
    return rc;
}

static int receive(kk_conn_t *c, const kk_pending_t *pending, int timeout_ms, kk_reader_t *r,
                   kk_error_t *err);

int kk_conn_receive(kk_conn_t *c, const kk_pending_t *pending, int timeout_ms, kk_reader_t *r,
                    kk_error_t *err) {
    int rc = receive(c, pending, timeout_ms, r, err);
    count_received(c, rc);
    return rc;
}

static int receive(kk_conn_t *c, const kk_pending_t *pending, int timeout_ms, kk_reader_t *r,
                   kk_error_t *err) {
    if (c->fd < 0)
        return kk_error_set(err, KK_ERR_NOT_CONNECTED, "%s: not connected", c->label);
    int64_t deadline = kk_monotonic_ms() + timeout_ms;
    uint8_t size_bytes[4];
    int rc = recv_all(c, size_bytes, sizeof(size_bytes), deadline, err);
    if (rc != KK_OK)
        return rc;
    int32_t size = (int32_t)get_be32(size_bytes);
    /* A TLS record (alert 21 or handshake 22, version 3.x) where a length should be: no Kafka
     * response is 350 MB or more, so this is a TLS listener answering plaintext. */
    if (!c->tls && (size_bytes[0] == 21 || size_bytes[0] == 22) && size_bytes[1] == 3 &&
        size_bytes[2] <= 4) {
        kk_conn_close(c);
        return kk_error_set(err, KK_ERR_SSL,
                            "%s: the broker answered in TLS: this is a TLS port (use "
                            "security_protocol SSL or SASL_SSL for it)",
                            c->label);
    }
    if (size < 4) {
        kk_conn_close(c);
        return kk_error_set(err, KK_ERR_MALFORMED, "%s: response length %d is too short",
                            c->label, (int)size);
    }
    if (size > c->opts.max_response_bytes) {
        kk_conn_close(c);
        return kk_error_set(err, KK_ERR_RESPONSE_TOO_LARGE,
                            "%s: response length %d is over the limit of %d bytes", c->label,
                            (int)size, (int)c->opts.max_response_bytes);
    }
    /* The length prefix is the broker's word only: the buffer grows (doubling, from 64 KiB)
     * as the bytes arrive, so a prefix followed by little or nothing costs little. */
    size_t got = 0;
    while (got < (size_t)size) {
        size_t step = got < 65536 ? 65536 : got;
        size_t want = (size_t)size - got < step ? (size_t)size : got + step;
        if (want > c->response_cap) {
            uint8_t *grown = realloc(c->response, want);
            if (!grown) {
                kk_conn_close(c);
                return kk_error_set(err, KK_ERR_NO_MEMORY, "%s: no memory for a %d-byte response",
                                    c->label, (int)size);
            }
            c->response = grown;
            c->response_cap = want;
        }
        rc = recv_all(c, c->response + got, want - got, deadline, err);
        if (rc != KK_OK)
            return rc;
        got = want;
    }
    c->response_len = (size_t)size;
    if (c->in_flight > 0)
        c->in_flight--;
    if (pending->api_key != KK_API_API_VERSIONS)
        c->answered = true;

    kk_reader_init(r, c->response, c->response_len);
    rc = kk_decode_response_header(
        r, kk_protocol_response_header_version(pending->api_key, pending->version),
        pending->correlation_id, err);
    if (rc != KK_OK) {
        kk_conn_close(c);
        kk_error_prefix(err, "%s: ", c->label);
        return rc;
    }
    return KK_OK;
}

uint8_t *kk_conn_take_response(kk_conn_t *c) {
    uint8_t *buf = c->response;
    c->response = NULL;
    c->response_cap = c->response_len = 0;
    return buf;
}

/* One ApiVersions exchange; resp is filled on success. */
static int api_versions_exchange(kk_conn_t *c, int16_t version, kk_api_versions_response_t *resp,
                                 kk_error_t *err) {
    kk_writer_t *w = kk_conn_begin(c, KK_API_API_VERSIONS, version);
    kk_encode_api_versions_request(w, version);
    kk_reader_t r;
    int rc = kk_conn_roundtrip(c, &r, err);
    if (rc != KK_OK)
        return rc;
    rc = kk_decode_api_versions_response(&r, version, resp, err);
    if (rc != KK_OK) {
        kk_conn_close(c);
        kk_error_prefix(err, "%s: ", c->label);
        return rc;
    }
    return KK_OK;
}

static int negotiate(kk_conn_t *c, kk_error_t *err) {
    int16_t min_v, version;
    kk_protocol_supported(KK_API_API_VERSIONS, &min_v, &version);
    const int16_t *caps = c->opts.version_caps;
    if (caps && caps[KK_API_API_VERSIONS] >= 0 && caps[KK_API_API_VERSIONS] < version)
        version = caps[KK_API_API_VERSIONS];

    kk_api_versions_response_t resp;
    for (int attempt = 0; attempt < 2; attempt++) {
        int rc = api_versions_exchange(c, version, &resp, err);
        if (rc == KK_ERR_CONNECTION_CLOSED && version > 0) {
            /* Some brokers drop a connection on an ApiVersions version they do not know, and
             * brokers older than 0.10 on ApiVersions itself: retry with v0, then assume. */
            rc = connect_socket(c, err);
            if (rc != KK_OK)
                return rc;
            version = 0;
            continue;
        }
        if (rc == KK_ERR_CONNECTION_CLOSED) {
            rc = connect_socket(c, err);
            if (rc != KK_OK)
                return rc;
            kk_legacy_versions(c->versions);
            c->legacy_broker = true;
            return KK_OK;
        }
        if (rc != KK_OK)
            return rc;
        if (resp.error_code == 35 && attempt == 0) {
            /* UNSUPPORTED_VERSION: the response lists the broker's own ApiVersions range. */
            int16_t broker_max = 0; /* v0 when the response does not say */
            for (size_t i = 0; i < resp.range_count; i++)
                if (resp.ranges[i].api_key == KK_API_API_VERSIONS)
                    broker_max = resp.ranges[i].max_version;
            kk_api_versions_response_free(&resp);
            version = broker_max >= 0 && broker_max < version ? broker_max : 0;
            continue;
        }
        if (resp.error_code != 0) {
            int16_t code = resp.error_code;
            kk_api_versions_response_free(&resp);
            kk_conn_close(c);
            return kk_error_set(err, code, "%s: ApiVersions failed: %s (%d)", c->label,
                                kk_err_name(code), code);
        }
        kk_negotiate_versions(&resp, caps, c->versions);
        kk_api_versions_response_free(&resp);
        return KK_OK;
    }
    kk_conn_close(c);
    return kk_error_set(err, KK_ERR_UNSUPPORTED_VERSION,
                        "%s: the broker accepts no ApiVersions version we speak", c->label);
}

int kk_conn_open(kk_conn_t *c, kk_error_t *err) {
    kk_conn_close(c);
    c->legacy_broker = false;
    int rc = connect_socket(c, err);
    if (rc != KK_OK && c->opts.metrics && rc != KK_ERR_INTERRUPTED)
        kk_metrics_error(c->opts.metrics, rc); /* later failures count where requests fail */
    if (rc == KK_OK)
        rc = negotiate(c, err);
    if (rc == KK_OK && c->opts.sasl)
        rc = c->opts.authenticate(c, err);
    if (rc != KK_OK) {
        kk_conn_close(c);
        return rc;
    }
    if (c->opts.metrics && c->opened_before)
        kk_metrics_add(&c->opts.metrics->reconnects, 1);
    c->opened_before = true;
    return rc;
}
