/* The seed corpus generator (make_seeds): golden bytes from the unit tests and vectors,
 * written as inputs of the harnesses (each harness's first bytes choose what to decode). */
#ifndef KK_FUZZ_SEEDS_H
#define KK_FUZZ_SEEDS_H

#include <stddef.h>
#include <stdint.h>

/* Writes <dir>/<harness>/<name>: the prefix bytes, then body. */
void seed_emit(const char *harness, const char *name, const uint8_t *prefix, size_t prefix_len,
               const uint8_t *body, size_t body_len);

void seeds_protocol(void);
void seeds_protocol_admin(void);
void seeds_protocol_fetch(void);
void seeds_protocol_group(void);
void seeds_protocol_produce(void);

/* SEED(harness, name, body, prefix bytes...) */
#define SEED(harness, name, body, ...)                                          \
    do {                                                                        \
        static const uint8_t prefix_[] = {__VA_ARGS__};                         \
        seed_emit(harness, name, prefix_, sizeof(prefix_), body, sizeof(body)); \
    } while (0)

#endif
