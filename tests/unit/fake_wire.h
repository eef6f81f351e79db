/*
 * Wire helpers for the unit tests' fake brokers (test_connection.c, test_hostile_broker.c): a
 * response frame written in one send, and a read of exactly n bytes that gives up when the test
 * asks its broker to stop.
 */
#ifndef KK_TEST_FAKE_WIRE_H
#define KK_TEST_FAKE_WIRE_H

#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "buffer.h"

/* [size][correlation id][body] */
static inline void fake_send_frame(int fd, const kk_writer_t *body, int32_t correlation_id) {
    kk_writer_t w;
    kk_writer_init(&w);
    kk_write_i32(&w, (int32_t)(body->len + 4));
    kk_write_i32(&w, correlation_id);
    kk_write_raw(&w, body->data, body->len);
    ssize_t ignored = send(fd, w.data, w.len, MSG_NOSIGNAL);
    (void)ignored;
    kk_writer_free(&w);
}

static inline bool fake_read_exact(atomic_bool *stop, int fd, uint8_t *buf, size_t len) {
    size_t got = 0;
    while (got < len) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (atomic_load(stop))
            return false;
        if (poll(&p, 1, 50) <= 0)
            continue;
        ssize_t n = recv(fd, buf + got, len - got, 0);
        if (n <= 0)
            return false;
        got += (size_t)n;
    }
    return true;
}

#endif
