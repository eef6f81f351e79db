/*
 * Private header of the Python binding (kafkette._kafkette): module state, the per-call
 * context the core's callbacks write into, and helpers shared by the type files.
 *
 * Threads: every Producer, PartitionConsumer and ConsumerGroup serialises its core calls with its own
 * PyThread lock, always acquired with the GIL released; the core runs with the GIL released
 * and calls back (interrupt check, partitioner) through PyGILState_Ensure. Log lines are
 * buffered in C while the GIL is released and handed to `logging` afterwards.
 */
#ifndef KKPY_H
#define KKPY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <stdbool.h>
#include <stdint.h>

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

    PyObject *Error;
    PyObject *ProtocolError;
    PyObject *ConnectionFailedError;
    PyObject *UnableToFetchMetadata;
    PyObject *TimedOutError;
    PyObject *ChecksumError;
    PyObject *CompressionError;
    PyObject *MalformedResponseError;
    PyObject *UnsupportedVersionError;
    PyObject *InvalidArgumentError;
    PyObject *InvalidPartitionError;
    PyObject *ProducerShutdownError;
    PyObject *ConsumerClosedError;
    PyObject *NotAssignedError;
    PyObject *FailedToSendMessages;
    PyObject *broker_errors; /* dict: broker code (int) -> ProtocolError subclass */

    PyObject *logger;        /* logging.getLogger("kafkette") */
    unsigned long main_thread; /* only the main thread runs signal handlers */
    PyObject *empty_tuple;
    PyObject *str_code;      /* interned "code" */
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
    bool check_signals;     /* this call runs on the main thread */
    kkpy_log_line *log_head, *log_tail;
    size_t log_count, log_dropped;
} kkpy_call;

/* ---- module-wide helpers (py_module.c) ---------------------------------------------- */
kkpy_state *kkpy_state_of_module(PyObject *module);
/* The state of the kafkette module that defines type (or one of its bases). */
kkpy_state *kkpy_state_of_type(PyTypeObject *type);

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
/* The C partitioner that calls call->partitioner. */
kk_partitioner_cb kkpy_partitioner_cb(void);

/* A Python exception raised inside a callback, kept until the core returns. */
PyObject *kkpy_exc_take(void);
void kkpy_exc_restore(PyObject *exc);

/* Sets the Python error for a core error (the class for err->code, err->message, .code). */
void kkpy_raise(kkpy_state *st, const kk_error_t *err);
/* A new exception instance for code with the given message (NULL on failure). */
PyObject *kkpy_error_new(kkpy_state *st, int code, const char *message);
PyObject *kkpy_error_class(kkpy_state *st, int code); /* borrowed */

/* Locks an object's mutex with the GIL released, checking signals every 100 ms.
 * owner is the object's owner field (re-entry from a callback raises RuntimeError). */
int kkpy_lock(PyThread_type_lock lock, unsigned long *owner);
void kkpy_unlock(PyThread_type_lock lock, unsigned long *owner);

/* Brokers as a list of "host:port" strings or one comma-separated string -> a new
 * PyMem string "h:p,h:p". NULL with an exception on bad input. */
char *kkpy_brokers_string(PyObject *brokers, const char *what);

/* Reads an int option into *out within [lo, hi]; TypeError/ValueError naming it. */
int kkpy_int_option(PyObject *value, const char *owner, const char *name, long long lo,
                    long long hi, long long *out);
/* In an option function with `name` and `value` in scope: when name is opt, stores the int
 * option (within [lo, hi]) in field and returns 0, or -1 with the exception set. */
#define KKPY_INT_OPTION(owner, opt, lo, hi, field)                                                 \
    if (strcmp(name, opt) == 0) {                                                                 \
        long long option_value;                                                                   \
        if (kkpy_int_option(value, owner, opt, lo, hi, &option_value) < 0)                        \
            return -1;                                                                            \
        field = option_value;                                                                     \
        return 0;                                                                                 \
    }
/* A UTF-8 view of a str (no NUL bytes); TypeError/ValueError naming it. */
const char *kkpy_str_arg(PyObject *value, const char *owner, const char *name, bool allow_empty);

/* Splits a call's (args, kwargs) into n named parameters (new references in out[]) and a new
 * dict of the remaining keywords (the options). -1 with TypeError on missing or extra args. */
int kkpy_split_args(const char *fname, PyObject *args, PyObject *kwargs, const char *const *names, int n,
                    PyObject **out, PyObject **rest);

/* ---- types --------------------------------------------------------------------------- */
extern PyType_Spec kkpy_message_spec;
extern PyType_Spec kkpy_fetched_spec;
extern PyType_Spec kkpy_producer_spec;
extern PyType_Spec kkpy_consumer_spec;
extern PyType_Spec kkpy_group_spec;
extern PyStructSequence_Desc kkpy_topic_partition_desc;

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

/* Builds a FetchedMessage; steals nothing. */
PyObject *kkpy_fetched_new(kkpy_state *st, PyObject *topic, PyObject *partition,
                           const kk_fetched_message_t *m);

PyObject *kkpy_create_topic(PyObject *module, PyObject *args, PyObject *kwargs);
PyObject *kkpy_delete_topic(PyObject *module, PyObject *args, PyObject *kwargs);

/* __exit__ for every context manager of the module: calls self.close(), never swallows the
 * exception being propagated. */
PyObject *kkpy_exit_calls_close(PyObject *self, PyObject *args);

#endif
