/*
 * The Ruby glue around the kafkette core: what the extension's files share. The contract they
 * implement is docs/BINDINGS.md.
 *
 * Rules every file here follows:
 *  - no protocol logic and no option rules: convert arguments, pass options to a kk_config_t,
 *    call the core, convert results and errors;
 *  - every call that may wait on the network runs through kke_blocking() (GVL released, with an
 *    unblocking function that interrupts the object's client);
 *  - Ruby may raise only while the function holds no C resource: collect results or free them
 *    first, keep error messages on the stack, then raise;
 *  - a core callback reaches Ruby only through kke_callback(), which keeps what it raised for
 *    the call to raise once the core has returned;
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

/* Created in Init_kafkette_ext (kafkette_init.c); referenced for the process lifetime. */
extern VALUE kke_mKafkette;
extern VALUE kke_mErrors;
extern VALUE kke_cMessageToSend;
extern VALUE kke_cFetchedMessage;
extern ID kke_id_failed_messages; /* @failed_messages of a send's exception */
extern ID kke_id_call;

/* ---- log lines (kafkette_ext.c) -----------------------------------------------------------
 * The core logs from inside GVL-free calls, where Ruby must not be touched: lines are kept in
 * this buffer (owned by the Ruby object, so its address is stable) and handed to
 * Kafkette.logger once the GVL is back. */
typedef struct kke_log {
    char *buf;      /* records: one level byte, the text, a NUL */
    size_t len, cap;
    size_t dropped; /* lines over the cap */
} kke_log_t;

void kke_log_cb(void *opaque, kk_log_level_t level, const char *message);
/* Emits the buffered lines to Kafkette.logger and empties the buffer. May raise (a logger may):
 * call it only when no C resource is held. */
void kke_log_flush(kke_log_t *log);
void kke_log_free(kke_log_t *log);

/* ---- blocking calls ------------------------------------------------------------------------
 * Runs fn(arg) without the GVL. While it runs, a Ruby interrupt (Ctrl-C, Thread#raise,
 * Timeout) calls kk_client_interrupt(client), which makes the core return KK_ERR_INTERRUPTED.
 * Returns false when fn did not run because an interrupt was already pending. In both cases
 * the client's interrupt flag is cleared on return, and no Ruby exception is raised here. */
bool kke_blocking(kk_client_t *client, void *(*fn)(void *), void *arg);
/* Lets Ruby act on a pending interrupt under rb_protect: 0 when nothing was raised (the caller
 * may retry), else the protect state for rb_jump_tag() once the caller released what it holds. */
int kke_check_interrupt(void);

/* ---- errors --------------------------------------------------------------------------------- */
/* The Kafkette::Errors exception for a core error code (Kafkette::Errors.build). */
VALUE kke_error_new(int code, const char *message);
/* Raises it. `message` may point into the caller's stack: it is copied before raising. */
NORETURN(void kke_raise(int code, const char *message));

/* ---- arguments that are not options (they raise: use them before acquiring C resources) --- */
/* An Integer in [min, max], else TypeError / ArgumentError naming `what`. */
long long kke_int_in_range(VALUE v, long long min, long long max, const char *what);
/* A String argument as a C string: ArgumentError for nil or NUL bytes, TypeError otherwise. */
const char *kke_cstr_arg(VALUE v, const char *what);

/* ---- options (docs/BINDINGS.md, "Options") -------------------------------------------------
 * A kk_config_t of `kind` owned by a Ruby object, so that whatever raises, the GC frees it;
 * kke_config_done() frees it at once. */
VALUE kke_config_new(kk_config_kind_t kind, kk_config_t **out);
void kke_config_done(VALUE holder);
/* Passes value to the core as option `name`: nil, true/false, Integer, String or Symbol (its
 * text), Array of Strings, Hash of Integers; a callable for a callback option (and the
 * producer's partitioner) is stored in `callbacks` (a Hash, name => callable) instead. Raises
 * Kafkette::Errors::InvalidArgumentError with the core's message. */
void kke_config_set(kk_config_t *cfg, const char *name, VALUE value, VALUE callbacks);
/* Every entry of opts (nil or a Hash with Symbol or String keys) through kke_config_set. */
void kke_config_apply(kk_config_t *cfg, VALUE opts, VALUE callbacks);
struct kke_head;
/* The config of a new object: bootstrap_servers, client_id (unless Qundef), opts, and the log
 * callback writing into h's buffer. RuntimeError when h is already set up. */
VALUE kke_config_setup(struct kke_head *h, kk_config_kind_t kind, VALUE brokers, VALUE client_id, VALUE opts,
                       VALUE callbacks, kk_config_t **out);

/* ---- the part every wrapped core object shares ---------------------------------------------
 * Calls on one object are serialised by a Ruby Mutex (a second thread waits for the first, the
 * GVL released). close() from another thread while a call waits must not free the core object
 * under that call: close() then only interrupts, and the busy thread frees it on its way out. */
typedef struct kke_head {
    VALUE lock;         /* Mutex held for the whole of a call */
    VALUE owner;        /* the Fiber inside a call, or Qnil */
    VALUE callback_error; /* what a callback raised during the current core call, or Qnil */
    VALUE oauth_provider; /* sasl_oauth_token_provider (a callable), or Qnil */
    bool busy;          /* a call holds the lock (the GVL may be released) */
    bool in_callback;   /* a callback of this object runs Ruby code now */
    bool close_pending; /* close() came while busy */
    bool closed;
    kke_log_t log;
    kk_client_t *client;               /* the core object's client; NULL once released */
    void (*release)(struct kke_head *); /* frees the core object; never calls Ruby */
    void (*leaving)(struct kke_head *); /* optional: runs before release when a close came during a call */
    const char *closed_class;           /* raised when used after close */
    const char *what;                   /* "producer", "consumer", ... for messages */
} kke_head_t;

/* For alloc functions and dmark. */
void kke_head_init(kke_head_t *h, void (*release)(kke_head_t *), const char *closed_class, const char *what);
void kke_head_mark(const kke_head_t *h);
size_t kke_head_memsize(const kke_head_t *h);
/* True when the current fiber is inside a call on h (so h's callbacks run on it now). */
bool kke_reentered(const kke_head_t *h);
/* Takes the object's lock (waiting for another thread's call); raises instead when it is
 * closed, or RuntimeError when called from inside one of its own calls (a callback). */
void kke_enter(kke_head_t *h);
/* Releases the lock; releases the core object if close() came meanwhile (returns true then). */
bool kke_leave(kke_head_t *h);
/* close(): releases now, or interrupts the busy call and lets it release. Idempotent. */
void kke_close(kke_head_t *h);
/* Runs fn(arg) without the GVL between kke_enter() and kke_leave(); fn stores the core's
 * result in *rc. Retries after an interrupt Ruby lets pass. Raises (after leaving) on an
 * interrupt Ruby turns into an exception, the closed class when close() stopped the call, or
 * what a callback raised. Otherwise returns *rc with the object left. */
int kke_run(kke_head_t *h, void *(*fn)(void *), void *arg, int *rc);
/* From a core callback (no GVL): runs fn(arg) with the GVL; an exception it raises (or an
 * interrupt) is kept in h->callback_error and Qundef returned, as it is for every later
 * callback of the same call. */
VALUE kke_callback(kke_head_t *h, VALUE (*fn)(VALUE), VALUE arg);
/* Raises h->callback_error, if any, and clears it. */
void kke_raise_callback_error(kke_head_t *h);

/* { topic => [error_code, partition_count] } through a Metadata request on h's client. */
VALUE kke_partition_counts(kke_head_t *h, VALUE topics);

/* The Hash of docs/STATISTICS.md: fill calls kk_*_stats on h's object, under h's lock. */
VALUE kke_stats(kke_head_t *h, void (*fill)(kke_head_t *h, kk_stats_t *out));

/* ---- messages (ext_messages.c) ------------------------------------------------------------ */
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
void kke_init_cli(void);

#endif /* KAFKETTE_EXT_H */
