/*
 * Filling a kk_error_t: the code plus a human message, formatted into the struct's own
 * buffer so that reporting an error never allocates. Messages that do not fit are cut and
 * end in "...".
 */
#ifndef KK_ERROR_H
#define KK_ERROR_H

#include <stddef.h>
#include <stdint.h>

#include "kafkette.h"

#if defined(__GNUC__)
#define KK_PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#else
#define KK_PRINTF(fmt_index, first_arg)
#endif

/* Sets err->code to code and err->message to the formatted text, and returns code, so a
 * caller can write `return kk_error_set(err, KK_ERR_IO, "...")`. err may be NULL (then only
 * code is returned). The arguments may point into err->message itself. A NULL fmt uses
 * kk_err_description(code). */
int kk_error_set(kk_error_t *err, int code, const char *fmt, ...) KK_PRINTF(3, 4);

/* A broker error code from a response: sets err->code to code and the message to
 * "<context>: NAME (code): description" ("NAME (code): description" when context is NULL
 * or empty). Returns code. err may be NULL. */
int kk_error_set_broker(kk_error_t *err, int16_t code, const char *context);

/* A broker's error code as the library's: known codes (and -1) as they are; a negative code
 * (which would read as one of the library's own client-side codes, -100 and below) or one
 * this library does not know becomes KK_ERR_UNKNOWN_SERVER_ERROR (-1). */
int16_t kk_err_from_broker(int16_t code);

/* Prepends the formatted text to err->message as is (include any ": " separator in fmt),
 * keeps err->code and returns it. The arguments may point into err->message. With a NULL
 * err the code is unknown, so it returns KK_ERR_INVALID_ARG: a caller whose err may be NULL
 * should return its own rc instead of this function's result. */
int kk_error_prefix(kk_error_t *err, const char *fmt, ...) KK_PRINTF(2, 3);

#endif
