/*
 * Private header of the Python binding (kafkette._kafkette): module state, the per-call
 * context the core's callbacks write into, the head every Producer, PartitionConsumer and
 * ConsumerGroup starts with, and helpers shared by the type files.
 *
 * Files: py_module.c (module init and state, argument helpers), py_errors.c (the exception
 * tree, built from the core's taxonomy), py_callbacks.c (the core's callbacks: interrupt
 * check, partitioner, log lines), py_object.c (the object head: lock, close, interrupt; and
 * options through kk_config_t), py_admin.c (create_topic, delete_topic and the Admin type), and
 * one file per type.
 *
 * Threads: each object serialises its core calls with its own PyThread lock, always acquired
 * with the GIL released; the core runs with the GIL released and calls back (interrupt check,
 * partitioner, rebalance) through PyGILState_Ensure. Log lines are buffered in C while the GIL
 * is released and handed to `logging` afterwards.
 */
#ifndef KKPY_H
#define KKPY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "kafkette.h"

#if PY_VERSION_HEX < 0x030A0000
static inline PyObject *kkpy_new_ref(PyObject *o) {
    Py_INCREF(o);
    return o;
}
#define Py_NewRef(o) kkpy_new_ref((PyObject *)(o))
#endif

typedef struct kkpy_state {
    PyTypeObject *producer_type;
    PyTypeObject *consumer_type;
    PyTypeObject *message_type;  /* MessageToSend */
    PyTypeObject *fetched_type;  /* FetchedMessage */
    PyTypeObject *failure_type;  /* SendFailure (a struct sequence) */
    PyTypeObject *group_type;    /* ConsumerGroup */
    PyTypeObject *topic_partition_type; /* TopicPartition (a struct sequence) */
    PyTypeObject *admin_type;    /* Admin */
    PyTypeObject *produced_type; /* ProducedMessage (Producer.produce's on_delivery) */

    PyObject *error_classes;     /* dict: class name (and alias) -> exception class */
    PyObject *Error;             /* the few the binding raises by name (also in the dict) */
    PyObject *ProducerShutdownError;
    PyObject *ConsumerClosedError;
    PyObject *FailedToSendMessages;
    PyObject *closed_error;      /* ClosedError, raised by a closed Admin */

    PyObject *logger;        /* logging.getLogger("kafkette") */
    unsigned long main_thread; /* only the main thread runs signal handlers */
    PyObject *empty_tuple;
    PyObject *str_code;      /* interned "code" */
    PyObject *str_retriable; /* interned "retriable" */
} kkpy_state;

/* One buffered log line from the core. */
typedef struct kkpy_log_line {
    struct kkpy_log_line *next;
    int level; /* a logging module level */
    char text[];
} kkpy_log_line;

/* What the core's callbacks need during one blocking call; the opaque of every callback.
 * Lives inside the Python object (or on the stack for module functions), so its address
 * is stable for the core's lifetime. Only the thread holding the object's lock touches it. */
typedef struct kkpy_call {
    kkpy_state *st;
    PyObject *exc;          /* first exception raised in a callback (owned), or NULL */
    bool abort;             /* a signal handler raised: stop the call at the next check */
    PyObject *partitioner;  /* borrowed from the producer; NULL when none */
    PyObject *oauth_provider; /* sasl_oauth_token_provider (owned); NULL when none */
    unsigned long thread;   /* the thread of the current call (the only one that may run Python) */
    bool check_signals;     /* this call runs on the main thread */
    kkpy_log_line *log_head, *log_tail;
    size_t log_count, log_dropped;
} kkpy_call;

/* ---- module (py_module.c) ------------------------------------------------------------- */
static inline kkpy_state *kkpy_state_of_module(PyObject *module) { return (kkpy_state *)PyModule_GetState(module); }
/* The state of the kafkette module that defines type (or one of its bases). */
kkpy_state *kkpy_state_of_type(PyTypeObject *type);

/* Whether the str name (a keyword of a vectorcall: exact str, usually interned ASCII) spells
 * ascii; cheaper than PyUnicode_CompareWithASCIIString on a per-message path. */
static inline bool kkpy_name_is(PyObject *name, const char *ascii) {
    if (!PyUnicode_IS_ASCII(name))
        return false;
    size_t n = strlen(ascii);
    return (size_t)PyUnicode_GET_LENGTH(name) == n && memcmp(PyUnicode_1BYTE_DATA(name), ascii, n) == 0;
}

/* A UTF-8 view of a str (no NUL bytes); TypeError/ValueError naming it. */
const char *kkpy_str_arg(PyObject *value, const char *owner, const char *name, bool allow_empty);
/* An int argument (not an option) within [lo, hi]; TypeError/ValueError naming it. */
int kkpy_int_arg(PyObject *value, const char *owner, const char *name, long long lo, long long hi,
                 long long *out);
/* Splits a call's (args, kwargs) into n named parameters (new references in out[]; NULL for a
 * missing optional one) and a new dict of the remaining keywords (the options). The first
 * npos may be given by position, the first nreq are required. -1 with TypeError. */
int kkpy_split_args(const char *fname, PyObject *args, PyObject *kwargs, const char *const *names, int n,
                    int npos, int nreq, PyObject **out, PyObject **rest);
/* __exit__ for every context manager of the module: calls self.close(), never swallows the
 * exception being propagated. */
PyObject *kkpy_exit_calls_close(PyObject *self, PyObject *args);

/* ---- errors (py_errors.c) ----------------------------------------------------------------- */
/* Builds every exception class from the core's taxonomy and adds it to the module. */
int kkpy_errors_init(PyObject *module, kkpy_state *st);
/* The class the core names for code (borrowed). */
PyObject *kkpy_error_class(kkpy_state *st, int code);
/* A new exception instance for code with the given message, `code` and `retriable` set. */
PyObject *kkpy_error_new(kkpy_state *st, int code, const char *message);
/* Sets the Python error for a core error. */
void kkpy_raise(kkpy_state *st, const kk_error_t *err);
/* A Python exception raised inside a callback, kept until the core returns. */
PyObject *kkpy_exc_take(void);
void kkpy_exc_restore(PyObject *exc);
extern PyMethodDef kkpy_error_methods[]; /* error_class, _error_taxonomy, _error_code_info */

/* ---- the core's callbacks (py_callbacks.c) ---------------------------------------------- */
void kkpy_call_init(kkpy_call *call, kkpy_state *st);
/* Frees buffered lines and any stored exception. */
void kkpy_call_clear(kkpy_call *call);
/* Installs the callbacks on a client config; the call context must outlive the client. */
void kkpy_call_attach(kkpy_call *call, kk_client_config_t *cfg);
/* Before releasing the GIL for a core call. */
void kkpy_call_begin(kkpy_call *call);
/* Detaches the buffered log lines (emit them with kkpy_log_emit once the object's lock is
 * released) and returns the stored exception (owned) or NULL. */
PyObject *kkpy_call_end(kkpy_call *call, kkpy_log_line **lines);
void kkpy_log_emit(kkpy_state *st, kkpy_log_line *lines);
/* Keeps the exception being raised in a callback as call->exc (the first one wins). */
void kkpy_call_keep_exc(kkpy_call *call);
/* The C partitioner that calls call->partitioner. */
kk_partitioner_cb kkpy_partitioner_cb(void);
/* Takes the option sasl_oauth_token_provider (a callable, or None) for the config's call
 * context: 0, or -1 with an exception. */
int kkpy_oauth_option(kkpy_state *st, kk_config_t *cfg, const char *name, PyObject *value);
/* For tp_traverse of an object whose head holds a provider. */
int kkpy_call_traverse(kkpy_call *call, visitproc visit, void *arg);

/* ---- the object head (py_object.c) -------------------------------------------------------- */
typedef struct kkpy_head kkpy_head;
/* Frees (group: leaves, then frees) the core object; runs with the lock held and the GIL
 * held on entry. Returns a core error code (err filled) or KK_OK. */
typedef int (*kkpy_shutdown_fn)(kkpy_head *h, kk_error_t *err);

struct kkpy_head {
    PyObject_HEAD
    PyThread_type_lock lock;  /* serialises core calls; taken with the GIL released */
    unsigned long owner;      /* thread holding lock, 0 = none */
    bool closing;             /* close() began: a call it interrupts raises closed_class */
    bool closed;              /* close() released the core object */
    bool in_callback;         /* the owner thread runs a rebalance callback */
    kk_client_t *client;      /* the core object's client; NULL before setup and once closed */
    kkpy_call call;
    PyObject *closed_class;   /* borrowed from the module state */
    const char *what;         /* "producer", "consumer", "group" for messages */
    kkpy_shutdown_fn shutdown;
};

int kkpy_head_init(kkpy_head *h, kkpy_state *st, PyObject *closed_class, const char *what,
                   kkpy_shutdown_fn shutdown);
/* In tp_dealloc, after the core object is freed. */
void kkpy_head_free(kkpy_head *h);
/* Before a call: raises closed_class when closed (or never set up), RuntimeError when called
 * from this object's own callback, else takes the lock. 0 with the lock held. */
int kkpy_enter(kkpy_head *h, const char *fname);
/* After a core call, with the lock still held: collects log lines and callback exceptions,
 * unlocks, logs, and raises (a callback's exception; closed_class when close() interrupted a
 * failed call; else the core error when err is given). 0 when nothing was raised; 1 when rc
 * failed and err was NULL (the caller raises). */
int kkpy_leave(kkpy_head *h, int rc, const kk_error_t *err);
/* close(): interrupts a waiting call, waits for it to let go, shuts the core object down. */
PyObject *kkpy_close(kkpy_head *h);
PyObject *kkpy_closed_error(kkpy_head *h, const char *fname);
PyObject *kkpy_get_closed(kkpy_head *h, void *closure);

/* Runs expr (a core call) with the GIL released, between kkpy_enter and kkpy_leave. */
#define KKPY_CALL(h, rc, expr)                                                                     \
    do {                                                                                           \
        kkpy_call_begin(&(h)->call);                                                               \
        Py_BEGIN_ALLOW_THREADS                                                                     \
        rc = (expr);                                                                               \
        Py_END_ALLOW_THREADS                                                                       \
    } while (0)

/* Sets a callback option (value: a callable, or NULL for None) on the object; 0 when taken,
 * 1 when the object has no such callback. -1 with an exception. */
typedef int (*kkpy_callback_fn)(void *self, const char *name, PyObject *value);
/* Passes value to the option `name` of cfg as docs/BINDINGS.md says; raises the core's error. */
int kkpy_option_set(kkpy_state *st, kk_config_t *cfg, const char *name, PyObject *value,
                    kkpy_callback_fn callback, void *self);
/* Every option of a dict (str -> value) through kkpy_option_set. */
int kkpy_options_apply(kkpy_state *st, kk_config_t *cfg, PyObject *options, kkpy_callback_fn callback,
                       void *self);
/* A new config of kind with the callbacks of call attached; MemoryError on failure. */
kk_config_t *kkpy_config_new(kk_config_kind_t kind, kkpy_call *call);
/* The option's current value as a new str. */
PyObject *kkpy_config_str(kk_config_t *cfg, const char *name);

/* stats(): the core's statistics (fill calls kk_*_stats on the object h heads) as the dict of
 * docs/STATISTICS.md, read under the object's lock. */
typedef void (*kkpy_stats_fn)(kkpy_head *h, kk_stats_t *out);
PyObject *kkpy_stats(kkpy_head *h, kkpy_stats_fn fill);
#define KKPY_STATS_DOC                                                                             \
    "stats($self, /)\n--\n\nThe client's statistics as a dict (docs/STATISTICS.md): messages and bytes sent "   \
    "and received, requests, retries, errors by code, reconnects, in-flight requests, queued bytes, round-trip "  \
    "p50/p99 per broker and each partition's position, high watermark and lag. Cheap: call it every second."

/* ---- types --------------------------------------------------------------------------- */
extern PyType_Spec kkpy_message_spec;
extern PyType_Spec kkpy_fetched_spec;
extern PyType_Spec kkpy_producer_spec;
extern PyType_Spec kkpy_consumer_spec;
extern PyType_Spec kkpy_group_spec;
extern PyStructSequence_Desc kkpy_topic_partition_desc;
extern PyType_Spec kkpy_admin_spec;
extern PyType_Spec kkpy_produced_spec;
extern PyMethodDef kkpy_admin_methods[]; /* create_topic, delete_topic */
extern PyMethodDef kkpy_cli_methods[];   /* _cli_main (py_cli.c) */

/* MessageToSend: what send_messages reads and fills. */
typedef struct {
    PyObject_HEAD
    PyObject *topic;   /* str */
    PyObject *value;   /* bytes, another bytes-like object, or None */
    PyObject *key;     /* bytes, another bytes-like object, or None */
    PyObject *headers; /* tuple of (str, bytes | None) */
    int32_t partition; /* requested; -1 = let the partitioner choose */
    int32_t result_partition; /* where the last send put it; -1 = not yet */
    int64_t offset;    /* from the last send; -1 = none */
    int64_t timestamp; /* ms since the epoch; 0 = the send time */
} kkpy_message;

/* FetchedMessage: immutable, built in bulk by fetch. */
typedef struct {
    PyObject_HEAD
    PyObject *topic;     /* str, shared with the consumer */
    PyObject *partition; /* int, shared with the consumer */
    PyObject *key;       /* bytes or None */
    PyObject *value;     /* bytes or None */
    PyObject *headers;   /* tuple of (str, bytes | None) */
    int64_t offset;
    int64_t timestamp;   /* ms; -1 = none */
    int timestamp_type;  /* 0 create time, 1 log-append time, -1 none */
} kkpy_fetched;

/* headers: None, a dict, or an iterable of (str, value) pairs -> a new tuple of (str, bytes | None)
 * (empty: a new reference to empty). */
PyObject *kkpy_convert_headers(PyObject *obj, PyObject *empty);

/* Builds a FetchedMessage; steals nothing. */
PyObject *kkpy_fetched_new(kkpy_state *st, PyObject *topic, PyObject *partition,
                           const kk_fetched_message_t *m);

#endif
