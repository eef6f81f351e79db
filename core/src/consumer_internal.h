/* The partition consumer's private parts, for the modules built on it (the consumer group). */
#ifndef KK_CONSUMER_INTERNAL_H
#define KK_CONSUMER_INTERNAL_H

#include "kafkette.h"

/* Moves the consumer: its next fetch starts at offset (>= 0). */
void kk_consumer_set_position(kk_consumer_t *consumer, int64_t offset);

#endif
