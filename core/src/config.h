/*
 * The option table's checks, for the kk_*_new() functions: every range and choice an option has
 * is declared once in config.c, and a typed config struct filled by hand in C is checked
 * against the same entries as one filled through kk_config_set().
 */
#ifndef KK_CONFIG_H
#define KK_CONFIG_H

#include "kafkette.h"

/* Checks every option of `kind` in the typed struct (a kk_client_config_t, kk_producer_config_t,
 * kk_consumer_config_t or kk_group_config_t as kind says). KK_OK, or KK_ERR_INVALID_ARG with
 * the same message kk_config_set() gives for that value. */
int kk_config_check(kk_config_kind_t kind, const void *typed, kk_error_t *err);

/* The heartbeat interval a group uses when heartbeat_interval_ms is 0: a third of the session
 * timeout, at most 3000 ms, at least 1. */
int kk_config_default_heartbeat_ms(int session_timeout_ms);

#endif
