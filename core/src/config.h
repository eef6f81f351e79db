/*
 * The option table's checks, for the kk_*_new() functions: every range and choice an option has
 * is declared once in config.c, and a typed config struct filled by hand in C is checked
 * against the same entries as one filled through kk_config_set().
 */
#ifndef KK_CONFIG_H
#define KK_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "kafkette.h"

/* Where and how an option's value is kept in the typed struct. */
typedef enum storage {
    STORE_INT,         /* int */
    STORE_I16,         /* int16_t */
    STORE_I32,         /* int32_t */
    STORE_BOOL,        /* bool */
    STORE_ENUM,        /* an int-sized enum: the value of the chosen name */
    STORE_ENUM_NAME,   /* const char *: the chosen name (a static string) */
    STORE_STRING,      /* const char *, owned by the kk_config_t */
    STORE_JOINED,      /* a list kept as one comma-separated const char * (bootstrap servers) */
    STORE_STRING_LIST, /* const char *const * plus a size_t count at count_offset */
    STORE_API_CAPS,    /* kk_client_config_t.max_api_version */
    STORE_TRAIL,       /* a bool that picks KK_RESET_LATEST or KK_RESET_EARLIEST */
    STORE_CALLBACK,    /* a function pointer, set through a binding or the struct */
} storage_t;

typedef struct option {
    kk_option_info_t info;
    storage_t storage;
    size_t offset;         /* in the kind's struct; client options in kk_client_config_t */
    size_t count_offset;   /* STORE_STRING_LIST */
    const int64_t *values; /* the value of each of info.names (ENUM, and INT names) */
} option_t;

/* The table's entries (config_table.c); at most KK_CONFIG_MAX_OPTIONS of them. */
#define KK_CONFIG_MAX_OPTIONS 128
const option_t *kk_config_option(size_t index); /* NULL past the end */
size_t kk_config_option_index(const option_t *option);
/* The entry `kind` uses for `name`, or NULL. */
const option_t *kk_config_find_option(kk_config_kind_t kind, const char *name);

/* Checks every option of `kind` in the typed struct (a kk_client_config_t, kk_producer_config_t,
 * kk_consumer_config_t or kk_group_config_t as kind says). KK_OK, or KK_ERR_INVALID_ARG with
 * the same message kk_config_set() gives for that value. */
int kk_config_check(kk_config_kind_t kind, const void *typed, kk_error_t *err);

/* Fills a typed config struct of `kind` with every option's default from the table; the
 * kk_*_config_init() functions are this. */
void kk_config_defaults(kk_config_kind_t kind, void *typed);

/* The heartbeat interval a group uses when heartbeat_interval_ms is 0: a third of the session
 * timeout, at most 3000 ms, at least 1. */
int kk_config_default_heartbeat_ms(int session_timeout_ms);

#endif
