/* How `kafkette consume` prints a message. */
#ifndef KK_CLI_OUTPUT_H
#define KK_CLI_OUTPUT_H

#include <stdint.h>

#include "kafkette.h"

typedef enum cli_out_mode {
    CLI_OUT_VALUE = 0, /* the value and a newline */
    CLI_OUT_KEY_VALUE, /* key, key_sep, value, newline */
    CLI_OUT_FORMAT,
    CLI_OUT_JSON,
} cli_out_mode_t;

typedef struct cli_output {
    cli_out_mode_t mode;
    const char *format;
    const char *key_sep;
} cli_output_t;

/* 0 when every %-directive of format is known. */
int cli_output_check_format(const char *format);
void cli_output_init(cli_output_t *out);
void cli_output_message(cli_output_t *out, const char *topic, int32_t partition,
                        const kk_fetched_message_t *m);
void cli_output_flush(cli_output_t *out);
void cli_output_free(cli_output_t *out);

#endif
