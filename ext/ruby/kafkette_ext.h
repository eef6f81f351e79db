/*
 * The Ruby glue around the kafkette core: shared helpers of the extension.
 *
 * Rules every file here follows:
 *  - no protocol logic: convert arguments, call the core, convert results and errors;
 *  - every call that may wait on the network runs through kke_blocking() (GVL released, with an
 *    unblocking function that interrupts the object's client);
 *  - Ruby may raise only while the function holds no C resource: collect results or free them
 *    first, keep error messages on the stack, then raise;
 *  - dfree never calls Ruby and never blocks.
 */
#ifndef KAFKETTE_EXT_H
#define KAFKETTE_EXT_H

#include <ruby.h>
#include <ruby/thread.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kafkette.h"

/* Classes and modules, created in Init_kafkette_ext; referenced for the process lifetime. */
extern VALUE kke_mKafkette;
extern VALUE kke_mErrors;
extern VALUE kke_cMessageToSend;
extern VALUE kke_cFetchedMessage;

/* @failed_messages of a send's exception; interned once at load time. */
extern ID kke_id_failed_messages;

/* ---- log lines ---------------------------------------------------------------------------
 * The core logs from inside GVL-free calls, where Ruby must not be touched: lines are kept in
 * this buffer (owned by the Ruby object, so its address is stable) and handed to
 * Kafkette.logger once the GVL is back. */
typedef struct kke_log {
    char *buf;      /* records: one level byte, the text, a NUL */
    size_t len, cap;
    size_t dropped; /* lines over the cap */
} kke_log_t;

void kke_log_cb(void *opaque, kk_log_level_t level, const char *message);
/* Emits the buffered lines to Kafkette.logger (or drops them when no logger is set) and
 * empties the buffer. May raise (a logger may): call it only when no C resource is held. */
void kke_log_flush(kke_log_t *log);
void kke_log_free(kke_log_t *log);

/* ---- blocking calls ------------------------------------------------------------------------
 * Runs fn(arg) without the GVL. While it runs, a Ruby interrupt (Ctrl-C, Thread#raise,
 * Timeout) calls kk_client_interrupt(client), which makes the core return KK_ERR_INTERRUPTED.
 * Returns false when fn did not run because an interrupt was already pending. In both cases
 * the client's interrupt flag is cleared on return, and no Ruby exception is raised here:
 * the caller frees what it holds and then calls kke_check_interrupt(). */
bool kke_blocking(kk_client_t *client, void *(*fn)(void *), void *arg);
/* Lets Ruby act on a pending interrupt under rb_protect: returns 0 when nothing was raised (a
 * trap handler ran, Thread#wakeup, ...: the caller may retry), else the protect state, which
 * the caller passes to rb_jump_tag() once it has released what it holds. */
int kke_check_interrupt(void);

/* ---- errors ------------------------------------------------------------------------------ */
/* Builds the Kafkette::Errors exception for a core error code (Kafkette::Errors.build). */
VALUE kke_error_new(int code, const char *message);
/* Raises it. `message` may point into the caller's stack: it is copied before raising. */
NORETURN(void kke_raise(int code, const char *message));

/* ---- argument helpers (they raise: use them before acquiring C resources) ---------------- */
/* An Integer in [min, max], else TypeError / ArgumentError naming `what`. */
long long kke_int_in_range(VALUE v, long long min, long long max, const char *what);
/* hash[:name] as an Integer in [min, max]; `fallback` when absent or nil. */
long long kke_opt_int(VALUE hash, const char *name, long long fallback, long long min, long long max);
/* hash[:name] as a String without NUL bytes (NULL when absent or nil); the Ruby string stays
 * referenced by the hash, which the caller keeps alive. */
const char *kke_opt_cstr(VALUE hash, const char *name);
/* A String argument as a C string: ArgumentError for nil or NUL bytes, TypeError otherwise. */
const char *kke_cstr_arg(VALUE v, const char *what);
bool kke_opt_bool(VALUE hash, const char *name, bool fallback);
/* Fills cfg->max_api_version from hash[:max_api_versions] ({api_key Integer => version}). */
void kke_opt_api_versions(VALUE hash, kk_client_config_t *cfg);

/* ---- the part every wrapped core object shares ---------------------------------------------
 * A core object is used by one thread at a time, and close() from another thread while a call
 * waits must not free it under that call: close() then only interrupts, and the busy thread
 * frees the object on its way out. */
typedef struct kke_head {
    bool busy;          /* a thread is inside a core call (the GVL may be released) */
    bool close_pending; /* close() came while busy */
    bool closed;
    kke_log_t log;
    kk_client_t *client;               /* the core object's client; NULL once released */
    void (*release)(struct kke_head *); /* frees the core object; never calls Ruby */
    const char *closed_class;           /* raised when used after close, e.g. "Kafkette::Errors::ClosedError" */
    const char *what;                   /* "producer", "consumer", ... for messages */
} kke_head_t;

/* Marks the object busy; raises instead when it is closed (or was never set up) or already busy
 * in another call (ThreadError). */
void kke_enter(kke_head_t *h);
/* Clears busy; releases the core object if close() came meanwhile (returns true then). */
bool kke_leave(kke_head_t *h);
/* close(): releases now, or interrupts the busy call and lets it release. Idempotent. */
void kke_close(kke_head_t *h);
/* Runs fn(arg) without the GVL between kke_enter() and kke_leave(); fn stores the core's
 * result in *rc. Retries after an interrupt Ruby lets pass (a trap handler, Thread#wakeup).
 * Raises (after leaving) on an interrupt Ruby turns into an exception, or the closed class when
 * close() stopped the call. Otherwise returns *rc with the object left. */
int kke_run(kke_head_t *h, void *(*fn)(void *), void *arg, int *rc);
/* dsize helper */
size_t kke_head_memsize(const kke_head_t *h);

/* { topic => [error_code, partition_count] } through a Metadata request on h's client. */
VALUE kke_partition_counts(kke_head_t *h, VALUE topics);

/* ---- messages (ext_messages.c) ----------------------------------------------------------- */
/* A MessageToSend: what the constructor checked, and what the last send did with it. */
typedef struct kke_outmsg {
    VALUE topic, value, key, headers; /* String; String or nil; String or nil; Hash or nil */
    int64_t timestamp;                /* ms; -1: none (the send uses the current time) */
    int64_t offset;                   /* -1: none */
    int32_t partition;                /* requested; -1: the partitioner chooses */
    int32_t result_partition;         /* -1: not sent (yet) */
    int error;                        /* 0, or why the last send did not deliver it */
} kke_outmsg_t;

/* The struct of a MessageToSend, or NULL when obj is something else. */
kke_outmsg_t *kke_outmsg_get(VALUE obj);
/* Raises TypeError unless headers is a Hash of String => String/nil. */
void kke_check_headers(VALUE headers);
/* Array of FetchedMessage for a fetched batch (copies what it needs from it). May raise. */
VALUE kke_fetched_list(const kk_fetch_batch_t *batch, VALUE topic, int32_t partition);

void kke_init_messages(void);
void kke_init_producer(void);
void kke_init_consumer(void);
void kke_init_client(void);
void kke_init_group(void);

#endif /* KAFKETTE_EXT_H */
