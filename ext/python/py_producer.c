/*
 * kafkette.Producer: Poseidon's option names over kk_producer_*; send_messages releases the
 * GIL for the whole send and reports per message. produce/poll/flush (confluent-kafka's names)
 * run on the core's asynchronous engine: each produced message is a ProducedMessage whose
 * reference the core holds as the report's opaque; poll/flush/close drain the reports on the
 * caller's thread and call on_delivery there, outside the object's lock.
 */
#include "kkpy.h"

#include <string.h>
#include <pthread.h>
#include <unistd.h>

/* ProducedMessage: what produce queued and what became of it, handed to on_delivery. */
typedef struct {
    PyObject_HEAD
    PyObject *topic;       /* str */
    PyObject *key;         /* as given (bytes-like or None) */
    PyObject *value;       /* as given */
    PyObject *headers;     /* tuple of (str, bytes | None) */
    PyObject *on_delivery; /* callable or NULL; cleared once served */
    int32_t partition;     /* -1 until reported (and when it never got that far) */
    int32_t error;         /* the report's code, kept between close's drain and its callbacks */
    long long offset;      /* -1 until reported, on failure, with required_acks 0 */
    long long timestamp;   /* ms; -1 until reported */
} kkpy_produced;

typedef struct {
    kkpy_head h;
    kk_producer_t *producer; /* NULL once closed */
    PyObject *partitioner;   /* a callable, or NULL */
    PyObject *client_id;     /* str */
    PyObject *brokers;       /* str, "host:port,..." */
    PyObject *purged;        /* list of ProducedMessage close drained, to serve after unlocking */
    Py_ssize_t unserved;     /* produced in this process and not yet served */
    unsigned fork_gen;       /* the fork generation unserved counts for (see check_fork) */
    bool send_async;         /* type="async": send_messages queues with kk_producer_produce */
    /* Reports of async send_messages, kept until a call raises them (see raise_send_failures):
     * SendFailure of every undelivered message (NULL: none yet), how many of them were logged,
     * the first one's code and how many messages were delivered meanwhile. */
    PyObject *send_failures;
    Py_ssize_t send_failures_logged;
    int send_first_code;
    Py_ssize_t send_delivered;
} kkpy_producer;

static bool is_sent_message(const void *opaque);
static void settle_sent(kkpy_producer *self, const kk_delivery_report_t *r);
static void log_send_failures(kkpy_producer *self);
static int raise_send_failures(kkpy_producer *self);

#define KKPY_REPORTS 256

/* After fork() the parent's messages get no report in the child: start counting afresh.
 * A counter bumped in the child by pthread_atfork spares a getpid() per call. */
static volatile unsigned forks;
static void count_fork(void) { forks++; }
static void register_fork_counter(void) { pthread_atfork(NULL, NULL, count_fork); }

static void check_fork(kkpy_producer *self) {
    if (self->fork_gen != forks) {
        self->fork_gen = forks;
        self->unserved = 0;
    }
}

static int produced_traverse(kkpy_produced *self, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->key);
    Py_VISIT(self->value);
    Py_VISIT(self->on_delivery);
    return 0;
}

static int produced_clear(kkpy_produced *self) {
    Py_CLEAR(self->key);
    Py_CLEAR(self->value);
    Py_CLEAR(self->on_delivery);
    return 0;
}

static void produced_dealloc(kkpy_produced *self) {
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    produced_clear(self);
    Py_CLEAR(self->topic);
    Py_CLEAR(self->headers);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

static PyObject *produced_repr(kkpy_produced *self) {
    return PyUnicode_FromFormat("ProducedMessage(topic=%R, partition=%d, offset=%lld, timestamp=%lld)",
                                self->topic ? self->topic : Py_None, (int)self->partition, self->offset,
                                self->timestamp);
}

static PyMemberDef produced_members[] = {
    {"topic", T_OBJECT, offsetof(kkpy_produced, topic), READONLY, "The topic."},
    {"key", T_OBJECT, offsetof(kkpy_produced, key), READONLY, "The key as given to produce (None: no key)."},
    {"value", T_OBJECT, offsetof(kkpy_produced, value), READONLY, "The value as given to produce."},
    {"headers", T_OBJECT, offsetof(kkpy_produced, headers), READONLY, "The headers, (str, bytes | None) pairs."},
    {"partition", T_INT, offsetof(kkpy_produced, partition), READONLY, "Its partition; -1 if it never got that far."},
    {"offset", T_LONGLONG, offsetof(kkpy_produced, offset), READONLY,
     "Its offset; -1 on failure, with required_acks 0, or for a retry the broker knew as a duplicate."},
    {"timestamp", T_LONGLONG, offsetof(kkpy_produced, timestamp), READONLY, "The record's timestamp in ms."},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot produced_slots[] = {
    {Py_tp_dealloc, produced_dealloc},
    {Py_tp_traverse, produced_traverse},
    {Py_tp_clear, produced_clear},
    {Py_tp_repr, produced_repr},
    {Py_tp_members, produced_members},
    {Py_tp_doc, "A message Producer.produce queued, as its on_delivery(err, msg) callback sees it."},
    {0, NULL},
};

PyType_Spec kkpy_produced_spec = {
    .name = "kafkette.ProducedMessage",
    .basicsize = sizeof(kkpy_produced),
#if PY_VERSION_HEX >= 0x030A0000
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION,
#else
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
#endif
    .slots = produced_slots,
};

static int take_callback(void *p, const char *name, PyObject *value) {
    kkpy_producer *self = p;
    if (strcmp(name, "partitioner") != 0)
        return 1;
    Py_XSETREF(self->partitioner, Py_NewRef(value));
    return 0;
}

/* Takes the reports of a closed producer (every one is queued) into self->purged, their
 * results written into the messages; close() serves them once unlocked. GIL held. */
static void take_reports(kkpy_producer *self) {
    kk_delivery_report_t r[KKPY_REPORTS];
    size_t n;
    do {
        n = kk_producer_poll(self->producer, r, KKPY_REPORTS, 0);
        for (size_t i = 0; i < n; i++) {
            if (is_sent_message(r[i].opaque)) { /* logged and raised once unlocked */
                settle_sent(self, &r[i]);
                continue;
            }
            kkpy_produced *m = r[i].opaque;
            if (!m) { /* produced without on_delivery */
                self->unserved--;
                continue;
            }
            m->partition = r[i].partition;
            m->offset = r[i].offset;
            m->timestamp = r[i].timestamp_ms;
            m->error = r[i].error;
            /* the list takes the core's reference; without a list (no memory) drop it */
            if (!self->purged || PyList_Append(self->purged, (PyObject *)m) < 0) {
                PyErr_Clear();
                self->unserved--;
            }
            Py_DECREF(m);
        }
    } while (n == KKPY_REPORTS);
}

/* Closes the engine (what is left is purged: close() flushed before), takes every report
 * into self->purged and frees the core object. Lock and GIL held. */
static int producer_shutdown(kkpy_head *h, kk_error_t *err) {
    kkpy_producer *self = (kkpy_producer *)h;
    if (!self->producer)
        return KK_OK;
    kk_error_t ignored;
    Py_BEGIN_ALLOW_THREADS
    kk_producer_close(self->producer, 0, err ? err : &ignored); /* joins the I/O thread */
    Py_END_ALLOW_THREADS
    if (!self->purged)
        self->purged = PyList_New(0);
    take_reports(self);
    kk_producer_free(self->producer); /* closes sockets; never blocks */
    self->producer = NULL;
    return KK_OK;
}

static PyObject *producer_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    static const char *const names[] = {"brokers", "client_id"};
    PyObject *p[2], *options;
    kkpy_state *st = kkpy_state_of_type(type);
    if (!st || kkpy_split_args("Producer", args, kwargs, names, 2, 2, 2, p, &options) < 0)
        return NULL;
    kkpy_producer *self = (kkpy_producer *)type->tp_alloc(type, 0);
    kk_config_t *cfg = NULL;
    if (!self || kkpy_head_init(&self->h, st, st->ProducerShutdownError, "producer", producer_shutdown) < 0 ||
        !(cfg = kkpy_config_new(KK_CONFIG_PRODUCER, &self->h.call)) ||
        kkpy_option_set(st, cfg, "bootstrap_servers", p[0], NULL, NULL) < 0 ||
        kkpy_option_set(st, cfg, "client_id", p[1], NULL, NULL) < 0 ||
        kkpy_options_apply(st, cfg, options, take_callback, self) < 0)
        goto fail;
    kk_producer_config_t *typed = kk_config_producer(cfg);
    if (self->partitioner) {
        typed->partitioner = KK_PARTITIONER_CALLBACK;
        typed->partitioner_cb = kkpy_partitioner_cb();
        typed->partitioner_opaque = &self->h.call;
        self->h.call.partitioner = self->partitioner;
    }
    kk_error_t err;
    if (!(self->producer = kk_producer_new(typed, &err))) {
        kkpy_raise(st, &err);
        goto fail;
    }
    self->h.client = kk_producer_client(self->producer);
    self->send_async = typed->type && strcmp(typed->type, "async") == 0;
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, register_fork_counter);
    self->fork_gen = forks;
    self->client_id = kkpy_config_str(cfg, "client_id");
    self->brokers = kkpy_config_str(cfg, "bootstrap_servers");
    if (!self->client_id || !self->brokers)
        goto fail;
    goto done;
fail:
    Py_CLEAR(self);
done:
    kk_config_free(cfg);
    Py_XDECREF(p[0]);
    Py_XDECREF(p[1]);
    Py_DECREF(options);
    return (PyObject *)self;
}

static int producer_traverse(kkpy_producer *self, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->partitioner);
    Py_VISIT(self->purged);
    Py_VISIT(self->send_failures);
    return kkpy_call_traverse(&self->h.call, visit, arg);
}

static int producer_clear(kkpy_producer *self) {
    Py_CLEAR(self->partitioner);
    Py_CLEAR(self->purged);
    Py_CLEAR(self->send_failures);
    Py_CLEAR(self->h.call.oauth_provider);
    return 0;
}

static void producer_dealloc(kkpy_producer *self) {
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    producer_shutdown(&self->h, NULL); /* a dropped producer calls no on_delivery: it drops them */
    log_send_failures(self);           /* nothing will raise them now: the log is all that is left */
    kkpy_head_free(&self->h);
    Py_CLEAR(self->purged);
    Py_CLEAR(self->send_failures);
    Py_CLEAR(self->partitioner);
    Py_CLEAR(self->client_id);
    Py_CLEAR(self->brokers);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

/* A payload's bytes for the core: bytes directly, other buffers through a held view. */
static int payload_view(PyObject *obj, const void **ptr, size_t *len, Py_buffer *views, Py_ssize_t *nviews) {
    if (!obj || obj == Py_None) {
        *ptr = NULL;
        *len = 0;
        return 0;
    }
    if (PyBytes_Check(obj)) {
        *ptr = PyBytes_AS_STRING(obj);
        *len = (size_t)PyBytes_GET_SIZE(obj);
        return 0;
    }
    /* The view pins a bytearray's storage (no resize) until the send returns. */
    Py_buffer *view = &views[*nviews];
    if (PyObject_GetBuffer(obj, view, PyBUF_SIMPLE) < 0)
        return -1;
    (*nviews)++;
    *ptr = view->buf ? view->buf : (const void *)"";
    *len = (size_t)view->len;
    return 0;
}

static PyObject *build_failure(kkpy_state *st, Py_ssize_t index, kkpy_message *m, int code) {
    char text[KK_ERROR_MESSAGE_SIZE];
    snprintf(text, sizeof(text), "message %zd: %s (%d): %s", index, kk_err_name(code), code, kk_err_description(code));
    PyObject *error = kkpy_error_new(st, code, text);
    if (!error)
        return NULL;
    PyObject *failure = PyStructSequence_New(st->failure_type);
    PyObject *idx = PyLong_FromSsize_t(index);
    PyObject *partition =
        m->result_partition >= 0 ? PyLong_FromLong(m->result_partition) : Py_NewRef(Py_None);
    if (!failure || !idx || !partition) {
        Py_XDECREF(failure);
        Py_XDECREF(idx);
        Py_XDECREF(partition);
        Py_DECREF(error);
        return NULL;
    }
    PyStructSequence_SetItem(failure, 0, idx);
    PyStructSequence_SetItem(failure, 1, Py_NewRef(m->topic ? m->topic : Py_None));
    PyStructSequence_SetItem(failure, 2, partition);
    PyStructSequence_SetItem(failure, 3, error);
    PyStructSequence_SetItem(failure, 4, Py_NewRef((PyObject *)m));
    return failure;
}

/* Raises the class of code with .failures (a list of SendFailure, not empty) and the first
 * failure's error as __cause__: FailedToSendMessages for a partial failure, the error's own
 * class when nothing was delivered, as in every binding. */
static void raise_with_failures(kkpy_state *st, int code, const char *message, PyObject *failures) {
    PyObject *exc = kkpy_error_new(st, code, message);
    if (exc && PyObject_SetAttrString(exc, "failures", failures) == 0) {
        PyObject *first = PyStructSequence_GetItem(PyList_GET_ITEM(failures, 0), 3);
        PyException_SetCause(exc, Py_NewRef(first)); /* steals */
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    }
    Py_XDECREF(exc);
}

static void raise_failed(kkpy_state *st, PyObject *items, const kk_message_t *km, const kk_error_t *err) {
    Py_ssize_t n = PyTuple_GET_SIZE(items);
    PyObject *failures = PyList_New(0);
    for (Py_ssize_t i = 0; failures && i < n; i++) {
        if (km[i].error == KK_OK)
            continue;
        PyObject *f = build_failure(st, i, (kkpy_message *)PyTuple_GET_ITEM(items, i), km[i].error);
        if (!f || PyList_Append(failures, f) < 0)
            Py_CLEAR(failures);
        Py_XDECREF(f);
    }
    if (!failures)
        return;
    if (PyList_GET_SIZE(failures) == 0) /* a failure of the call itself */
        kkpy_raise(st, err);
    else
        raise_with_failures(st, err->code, err->message, failures);
    Py_DECREF(failures);
}

static PyObject *send_queued(kkpy_producer *self, PyObject *items, kk_message_t *km, Py_ssize_t n);

static PyObject *producer_send_messages(kkpy_producer *self, PyObject *msgs) {
    kkpy_state *st = self->h.call.st;
    if (PyUnicode_Check(msgs) || PyBytes_Check(msgs) || PyObject_TypeCheck(msgs, st->message_type)) {
        PyErr_Format(PyExc_TypeError, "send_messages: msgs must be a list of MessageToSend, not %.100s",
                     Py_TYPE(msgs)->tp_name);
        return NULL;
    }
    /* A tuple copy keeps every message (and so its payloads) alive while the GIL is released. */
    PyObject *items = PySequence_Tuple(msgs);
    if (!items) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "send_messages: msgs must be a list of MessageToSend, not %.100s",
                         Py_TYPE(msgs)->tp_name);
        }
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(items);
    if (n == 0) { /* async: still raises what earlier sends could not deliver */
        PyObject *r = self->send_async ? send_queued(self, items, NULL, 0) : Py_NewRef(Py_True);
        Py_DECREF(items);
        return r;
    }
    size_t header_total = 0;
    Py_ssize_t buffered = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(items, i);
        if (!PyObject_TypeCheck(item, st->message_type)) {
            PyErr_Format(PyExc_TypeError, "send_messages: item %zd is %.100s, not MessageToSend", i,
                         Py_TYPE(item)->tp_name);
            Py_DECREF(items);
            return NULL;
        }
        kkpy_message *m = (kkpy_message *)item;
        if (!m->topic || !m->headers) {
            PyErr_Format(PyExc_ValueError, "send_messages: item %zd was cleared", i);
            Py_DECREF(items);
            return NULL;
        }
        header_total += (size_t)PyTuple_GET_SIZE(m->headers);
        buffered += (m->value && m->value != Py_None && !PyBytes_Check(m->value)) +
                    (m->key && m->key != Py_None && !PyBytes_Check(m->key));
    }
    kk_message_t *km = PyMem_Calloc((size_t)n, sizeof(*km));
    Py_buffer *views = buffered ? PyMem_Calloc((size_t)buffered, sizeof(*views)) : NULL;
    kk_header_t *headers = header_total ? PyMem_Calloc(header_total, sizeof(*headers)) : NULL;
    Py_ssize_t nviews = 0;
    PyObject *result = NULL;
    if (!km || (buffered && !views) || (header_total && !headers)) {
        PyErr_NoMemory();
        goto done;
    }
    size_t h = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        kkpy_message *m = (kkpy_message *)PyTuple_GET_ITEM(items, i);
        kk_message_t *k = &km[i];
        k->topic = PyUnicode_AsUTF8(m->topic);
        if (!k->topic || payload_view(m->value, &k->value, &k->value_len, views, &nviews) < 0 ||
            payload_view(m->key, &k->key, &k->key_len, views, &nviews) < 0)
            goto done;
        k->partition = m->partition;
        k->timestamp_ms = m->timestamp;
        Py_ssize_t nh = PyTuple_GET_SIZE(m->headers);
        if (nh) {
            k->headers = &headers[h];
            k->header_count = (size_t)nh;
            for (Py_ssize_t j = 0; j < nh; j++, h++) {
                PyObject *pair = PyTuple_GET_ITEM(m->headers, j);
                Py_ssize_t klen;
                headers[h].key = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(pair, 0), &klen);
                if (!headers[h].key)
                    goto done;
                headers[h].key_len = (size_t)klen;
                PyObject *v = PyTuple_GET_ITEM(pair, 1);
                headers[h].value = v == Py_None ? NULL : PyBytes_AS_STRING(v);
                headers[h].value_len = v == Py_None ? 0 : (size_t)PyBytes_GET_SIZE(v);
            }
        }
    }
    if (self->send_async) { /* every message converted: none is queued unless all could be */
        result = send_queued(self, items, km, n);
        goto done;
    }

    if (kkpy_enter(&self->h, "send_messages") < 0)
        goto done;
    kk_error_t err;
    int rc;
    KKPY_CALL(&self->h, rc, kk_producer_send(self->producer, km, (size_t)n, &err));
    for (Py_ssize_t i = 0; i < n; i++) {
        kkpy_message *m = (kkpy_message *)PyTuple_GET_ITEM(items, i);
        m->result_partition = km[i].result_partition;
        m->offset = km[i].error == KK_OK ? km[i].offset : -1;
    }
    rc = kkpy_leave(&self->h, rc, NULL); /* Ctrl-C, the partitioner's exception, or close() */
    if (rc > 0)
        raise_failed(st, items, km, &err);
    else if (rc == 0)
        result = Py_NewRef(Py_True);
done:
    for (Py_ssize_t i = 0; i < nviews; i++)
        PyBuffer_Release(&views[i]);
    PyMem_Free(views);
    PyMem_Free(headers);
    PyMem_Free(km);
    Py_DECREF(items);
    return result;
}

/* ---- send_messages with type="async" ---------------------------------------------------
 * Each message is queued with kk_producer_produce (the core copies it); the core holds a
 * (MessageToSend, index) tuple as the report's opaque. When a report is drained, partition and
 * offset go into the message; a failure becomes a SendFailure kept in send_failures, logged
 * when drained and raised by the next send_messages, poll, flush or close. */

static Py_ssize_t drain(kkpy_producer *self, int timeout_ms, const char *fname);

/* A ProducedMessage (produce) or NULL is never a tuple. */
static bool is_sent_message(const void *opaque) { return opaque && PyTuple_CheckExact((PyObject *)opaque); }

/* Writes the report into its MessageToSend and keeps a failure; drops the core's reference.
 * Calls no Python code of the user's (close runs it holding the object's lock). */
static void settle_sent(kkpy_producer *self, const kk_delivery_report_t *r) {
    PyObject *pair = r->opaque;
    kkpy_message *m = (kkpy_message *)PyTuple_GET_ITEM(pair, 0);
    m->result_partition = r->partition;
    m->offset = r->error == KK_OK ? r->offset : -1;
    self->unserved--;
    if (r->error == KK_OK) {
        self->send_delivered++;
        Py_DECREF(pair);
        return;
    }
    Py_ssize_t index = PyLong_AsSsize_t(PyTuple_GET_ITEM(pair, 1));
    /* built before the list is looked at: building runs Python code, and another thread may
     * take the list (raise_send_failures) meanwhile */
    PyObject *failure = build_failure(self->h.call.st, index, m, r->error);
    if (failure && !self->send_failures)
        self->send_failures = PyList_New(0);
    if (!failure || !self->send_failures || PyList_Append(self->send_failures, failure) < 0)
        PyErr_WriteUnraisable((PyObject *)m); /* out of memory: say so rather than drop it silently */
    else if (PyList_GET_SIZE(self->send_failures) == 1)
        self->send_first_code = r->error;
    Py_XDECREF(failure);
    Py_DECREF(pair);
}

/* Logs (logger "kafkette", WARNING) the failures not logged yet; keeps a pending exception. */
static void log_send_failures(kkpy_producer *self) {
    PyObject *list = self->send_failures;
    if (!list || self->send_failures_logged >= PyList_GET_SIZE(list))
        return;
    Py_INCREF(list); /* a handler may run another thread, which may take the list: stop then */
    PyObject *pending = kkpy_exc_take();
    PyObject *logger = self->h.call.st->logger;
    while (self->send_failures == list && self->send_failures_logged < PyList_GET_SIZE(list)) {
        PyObject *f = Py_NewRef(PyList_GET_ITEM(list, self->send_failures_logged++));
        PyObject *text = PyUnicode_FromFormat("send_messages (type async): not delivered to %S partition %S: %S",
                                              PyStructSequence_GetItem(f, 1), PyStructSequence_GetItem(f, 2),
                                              PyStructSequence_GetItem(f, 3));
        PyObject *res = text ? PyObject_CallMethod(logger, "log", "iO", 30 /* WARNING */, text) : NULL;
        if (!res)
            PyErr_WriteUnraisable(logger);
        Py_XDECREF(res);
        Py_XDECREF(text);
        Py_DECREF(f);
    }
    if (pending)
        kkpy_exc_restore(pending);
    Py_DECREF(list);
}

/* Raises the kept failures as a sync send_messages of the messages reported since the last
 * raise would have: FailedToSendMessages when some of them were delivered, else the first
 * error's class; .failures lists them. -1 when raised, 0 when there was nothing to raise. */
static int raise_send_failures(kkpy_producer *self) {
    log_send_failures(self);
    PyObject *failures = self->send_failures;
    Py_ssize_t failed = failures ? PyList_GET_SIZE(failures) : 0;
    if (failed == 0)
        return 0;
    Py_ssize_t reported = failed + self->send_delivered;
    int code = self->send_delivered > 0 ? KK_ERR_PARTIAL_FAILURE : self->send_first_code;
    self->send_failures = NULL;
    self->send_failures_logged = 0;
    self->send_delivered = 0;
    PyObject *first = PyList_GET_ITEM(failures, 0);
    PyObject *text = PyUnicode_FromFormat(
        "%zd of %zd messages sent asynchronously not delivered; first (topic %S, partition %S): %S", failed,
        reported, PyStructSequence_GetItem(first, 1), PyStructSequence_GetItem(first, 2),
        PyStructSequence_GetItem(first, 3));
    const char *utf8 = text ? PyUnicode_AsUTF8(text) : NULL;
    if (utf8)
        raise_with_failures(self->h.call.st, code, utf8, failures);
    Py_XDECREF(text);
    Py_DECREF(failures);
    return -1;
}

/* Queues msgs[0..n) in order and stops at the first one the core refuses (*rc, err); returns
 * how many were queued. Runs without the GIL. */
static size_t produce_all(kk_producer_t *producer, const kk_produce_message_t *msgs, size_t n, int *rc,
                          kk_error_t *err) {
    *rc = KK_OK;
    for (size_t i = 0; i < n; i++)
        if ((*rc = kk_producer_produce(producer, &msgs[i], err)) != KK_OK)
            return i;
    return n;
}

/* send_messages with type="async": km holds the converted messages (their memory is valid
 * during the call). Earlier failures are raised first, before anything is queued. */
static PyObject *send_queued(kkpy_producer *self, PyObject *items, kk_message_t *km, Py_ssize_t n) {
    kkpy_state *st = self->h.call.st;
    if (drain(self, 0, "send_messages") < 0 || raise_send_failures(self) < 0)
        return NULL;
    if (n == 0)
        Py_RETURN_TRUE;
    kk_produce_message_t *pm = PyMem_Calloc((size_t)n, sizeof(*pm));
    PyObject *result = NULL;
    Py_ssize_t made = 0;
    if (!pm) {
        PyErr_NoMemory();
        goto done;
    }
    for (; made < n; made++) { /* the opaques first: nothing fails once queuing began */
        PyObject *index = PyLong_FromSsize_t(made);
        if (!index || !(pm[made].opaque = PyTuple_Pack(2, PyTuple_GET_ITEM(items, made), index))) {
            Py_XDECREF(index);
            goto done;
        }
        Py_DECREF(index);
        const kk_message_t *k = &km[made];
        pm[made].topic = k->topic;
        pm[made].partition = k->partition;
        pm[made].key = k->key;
        pm[made].key_len = k->key_len;
        pm[made].value = k->value;
        pm[made].value_len = k->value_len;
        pm[made].headers = k->headers;
        pm[made].header_count = k->header_count;
        pm[made].timestamp_ms = k->timestamp_ms;
        kkpy_message *m = (kkpy_message *)PyTuple_GET_ITEM(items, made);
        m->result_partition = -1; /* not reported yet */
        m->offset = -1;
    }
    if (kkpy_enter(&self->h, "send_messages") < 0)
        goto done;
    kk_error_t err;
    int rc;
    size_t queued;
    /* copies every message; may wait max_block_ms for room (Ctrl-C interrupts) */
    KKPY_CALL(&self->h, queued, produce_all(self->producer, pm, (size_t)n, &rc, &err));
    check_fork(self);
    self->unserved += (Py_ssize_t)queued;
    for (size_t i = 0; i < queued; i++)
        pm[i].opaque = NULL; /* the core's references now, until their reports are drained */
    /* Ctrl-C, a partitioner's exception or close() are raised as they are */
    int raised = kkpy_leave(&self->h, rc, NULL);
    if (raised == 0) {
        result = Py_NewRef(Py_True);
    } else if (raised > 0) {
        /* the core refused message `queued`: it and the later ones were not queued */
        kk_message_t *failed = PyMem_Calloc((size_t)n, sizeof(*failed));
        if (!failed) {
            PyErr_NoMemory();
            goto done;
        }
        for (Py_ssize_t i = (Py_ssize_t)queued; i < n; i++)
            failed[i].error = rc;
        kk_error_t whole = {.code = rc};
        snprintf(whole.message, sizeof(whole.message),
                 "message %zu not queued, nor the %zd after it (the %zu before it were): %.400s", queued,
                 n - (Py_ssize_t)queued - 1, queued, err.message);
        raise_failed(st, items, failed, &whole);
        PyMem_Free(failed);
    }
done:
    for (Py_ssize_t i = 0; i < made; i++)
        Py_XDECREF(pm[i].opaque);
    PyMem_Free(pm);
    return result;
}

/* ---- produce / poll / flush ------------------------------------------------------------ */



/* Seconds (int, float or None) -> ms for the core; None and negative: -1 (no limit). */
static int timeout_arg(PyObject *obj, const char *fname, int *ms) {
    if (!obj || obj == Py_None) {
        *ms = -1;
        return 0;
    }
    double sec = PyFloat_AsDouble(obj);
    if (sec == -1.0 && PyErr_Occurred()) {
        PyErr_Format(PyExc_TypeError, "%s: timeout must be a number of seconds or None", fname);
        return -1;
    }
    if (sec != sec) {
        PyErr_Format(PyExc_ValueError, "%s: timeout is NaN", fname);
        return -1;
    }
    *ms = sec < 0 ? -1 : sec * 1000.0 >= 2147483647.0 ? 2147483647 : (int)(sec * 1000.0 + 0.5);
    return 0;
}

/* Writes the report into its message, calls on_delivery(err, msg) and drops the core's
 * reference. The first exception raised by a callback is kept in *exc; later ones are
 * reported as unraisable. GIL held, object lock not held. */
static void serve(kkpy_producer *self, kkpy_produced *m, PyObject **exc) {
    kkpy_state *st = self->h.call.st;
    PyObject *cb = m->on_delivery;
    m->on_delivery = NULL;
    if (cb) {
        PyObject *err = Py_None;
        if (m->error) {
            char text[KK_ERROR_MESSAGE_SIZE];
            snprintf(text, sizeof(text), "%s (%d): %s", kk_err_name(m->error), (int)m->error,
                     kk_err_description(m->error));
            err = kkpy_error_new(st, m->error, text);
        }
        PyObject *res = NULL;
        if (err) {
            PyObject *args[2] = {err, (PyObject *)m};
            res = PyObject_Vectorcall(cb, args, 2, NULL);
        }
        if (!res) {
            if (!*exc)
                *exc = kkpy_exc_take();
            else
                PyErr_WriteUnraisable(cb);
        }
        Py_XDECREF(res);
        if (err != Py_None)
            Py_XDECREF(err);
        Py_DECREF(cb);
    }
    self->unserved--;
    Py_DECREF(m);
}

/* Serves the messages close() took. */
static int serve_purged(kkpy_producer *self) {
    PyObject *list = self->purged, *exc = NULL;
    self->purged = NULL;
    if (!list)
        return 0;
    Py_ssize_t n = PyList_GET_SIZE(list);
    for (Py_ssize_t i = 0; i < n; i++)
        serve(self, (kkpy_produced *)Py_NewRef(PyList_GET_ITEM(list, i)), &exc);
    Py_DECREF(list);
    if (exc) {
        kkpy_exc_restore(exc);
        return -1;
    }
    return 0;
}

/* Drains the waiting reports (waiting up to timeout_ms for the first) and serves them;
 * the number served, or -1 with an exception (Ctrl-C, a callback's) once all drained are
 * served. */
static Py_ssize_t drain(kkpy_producer *self, int timeout_ms, const char *fname) {
    Py_ssize_t served = 0;
    PyObject *exc = NULL;
    kk_delivery_report_t r[KKPY_REPORTS];
    for (;;) {
        if (kkpy_enter(&self->h, fname) < 0)
            goto fail;
        size_t n;
        if (timeout_ms != 0)
            KKPY_CALL(&self->h, n, kk_producer_poll(self->producer, r, KKPY_REPORTS, timeout_ms));
        else
            n = kk_producer_poll(self->producer, r, KKPY_REPORTS, 0);
        if (kkpy_leave(&self->h, KK_OK, NULL) < 0 && !exc)
            exc = kkpy_exc_take(); /* Ctrl-C while waiting: serve what came first */
        for (size_t i = 0; i < n; i++) {
            if (is_sent_message(r[i].opaque)) {
                settle_sent(self, &r[i]);
                continue;
            }
            kkpy_produced *m = r[i].opaque;
            if (!m) { /* produced without on_delivery: nothing to call, nothing to release */
                self->unserved--;
                continue;
            }
            m->partition = r[i].partition;
            m->offset = r[i].offset;
            m->timestamp = r[i].timestamp_ms;
            m->error = r[i].error;
            serve(self, m, &exc);
        }
        served += (Py_ssize_t)n;
        timeout_ms = 0;
        if (n < KKPY_REPORTS || exc)
            break;
    }
    log_send_failures(self);
    if (!exc)
        return served;
    kkpy_exc_restore(exc);
fail:
    return -1;
}

/* bytes, another buffer, a str (sent as UTF-8, like MessageToSend) or None. */
static int produce_payload(PyObject *obj, const char *name, const void **ptr, size_t *len, Py_buffer *views,
                           Py_ssize_t *nviews) {
    if (PyUnicode_Check(obj)) {
        Py_ssize_t n;
        if (!(*ptr = PyUnicode_AsUTF8AndSize(obj, &n)))
            return -1;
        *len = (size_t)n;
        return 0;
    }
    if (obj == Py_None || PyBytes_Check(obj) || PyObject_CheckBuffer(obj))
        return payload_view(obj, ptr, len, views, nviews);
    PyErr_Format(PyExc_TypeError, "produce: %s must be bytes, a bytes-like object, str or None, not %.100s", name,
                 Py_TYPE(obj)->tp_name);
    return -1;
}

/* produce's parameters: topic, value, key by position or name; the rest by name only. */
enum { P_TOPIC, P_VALUE, P_KEY, P_PARTITION, P_HEADERS, P_TIMESTAMP, P_ON_DELIVERY, P_COUNT };
static const char *const produce_names[P_COUNT] = {"topic",   "value",        "key",        "partition",
                                                   "headers", "timestamp_ms", "on_delivery"};

static int produce_args(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames, PyObject **out) {
    if (nargs > 3) {
        PyErr_Format(PyExc_TypeError, "produce() takes at most 3 positional arguments (%zd given)", nargs);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++)
        out[i] = args[i];
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, k);
        int i = 0;
        while (i < P_COUNT && !kkpy_name_is(name, produce_names[i]))
            i++;
        if (i == P_COUNT) {
            PyErr_Format(PyExc_TypeError, "produce() got an unexpected keyword argument '%U'", name);
            return -1;
        }
        if (out[i]) {
            PyErr_Format(PyExc_TypeError, "produce() got multiple values for argument '%s'", produce_names[i]);
            return -1;
        }
        out[i] = args[nargs + k];
    }
    if (!out[P_TOPIC]) {
        PyErr_SetString(PyExc_TypeError, "produce() missing required argument 'topic'");
        return -1;
    }
    for (int i = 1; i < P_COUNT; i++)
        if (!out[i])
            out[i] = Py_None;
    return 0;
}

static PyObject *producer_produce(kkpy_producer *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    PyObject *a[P_COUNT] = {NULL};
    if (produce_args(args, nargs, kwnames, a) < 0)
        return NULL;
    PyObject *topic = a[P_TOPIC], *value = a[P_VALUE], *key = a[P_KEY], *on_delivery = a[P_ON_DELIVERY];
    kkpy_state *st = self->h.call.st;
    kk_produce_message_t km;
    memset(&km, 0, sizeof(km));
    long long part = -1, ts = 0;
    if (!(km.topic = kkpy_str_arg(topic, "produce", "topic", false)) ||
        (a[P_PARTITION] != Py_None && kkpy_int_arg(a[P_PARTITION], "produce", "partition", 0, INT32_MAX, &part) < 0) ||
        (a[P_TIMESTAMP] != Py_None && kkpy_int_arg(a[P_TIMESTAMP], "produce", "timestamp_ms", 0, INT64_MAX, &ts) < 0))
        return NULL;
    if (on_delivery != Py_None && !PyCallable_Check(on_delivery)) {
        PyErr_Format(PyExc_TypeError, "produce: on_delivery must be callable or None, not %.100s",
                     Py_TYPE(on_delivery)->tp_name);
        return NULL;
    }
    PyObject *headers = kkpy_convert_headers(a[P_HEADERS], st->empty_tuple);
    if (!headers)
        return NULL;
    /* Without on_delivery the report carries no object (NULL opaque): nothing to keep alive. */
    kkpy_produced *m = NULL;
    if (on_delivery != Py_None) {
        if (!(m = PyObject_GC_New(kkpy_produced, st->produced_type))) {
            Py_DECREF(headers);
            return NULL;
        }
        m->topic = Py_NewRef(topic);
        m->key = Py_NewRef(key);
        m->value = Py_NewRef(value);
        m->headers = Py_NewRef(headers);
        m->on_delivery = Py_NewRef(on_delivery);
        m->partition = -1;
        m->error = 0;
        m->offset = -1;
        m->timestamp = -1;
        PyObject_GC_Track(m);
    }
    Py_ssize_t nh = PyTuple_GET_SIZE(headers);
    kk_header_t small[8], *hs = nh <= 8 ? small : PyMem_Calloc((size_t)nh, sizeof(*hs));
    Py_buffer views[2];
    Py_ssize_t nviews = 0;
    PyObject *result = NULL;
    if (!hs) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t j = 0; j < nh; j++) {
        PyObject *pair = PyTuple_GET_ITEM(headers, j), *v = PyTuple_GET_ITEM(pair, 1);
        Py_ssize_t klen;
        if (!(hs[j].key = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(pair, 0), &klen)))
            goto done;
        hs[j].key_len = (size_t)klen;
        hs[j].value = v == Py_None ? NULL : PyBytes_AS_STRING(v);
        hs[j].value_len = v == Py_None ? 0 : (size_t)PyBytes_GET_SIZE(v);
    }
    km.headers = nh ? hs : NULL;
    km.header_count = (size_t)nh;
    km.partition = (int32_t)part;
    km.timestamp_ms = ts;
    km.opaque = m;
    if (produce_payload(value, "value", &km.value, &km.value_len, views, &nviews) < 0 ||
        produce_payload(key, "key", &km.key, &km.key_len, views, &nviews) < 0)
        goto done;
    if (kkpy_enter(&self->h, "produce") < 0)
        goto done;
    kk_error_t err;
    bool queued = false;
    /* copies key, value and headers at once, holding the GIL, when nothing has to wait */
    int rc = kk_producer_try_produce(self->producer, &km, &queued, &err);
    if (rc == KK_OK && !queued) /* may wait max_block_ms for room (Ctrl-C interrupts) */
        KKPY_CALL(&self->h, rc, kk_producer_produce(self->producer, &km, &err));
    if (rc == KK_OK) {
        check_fork(self);
        self->unserved++;
        m = NULL; /* the core's reference now, until its report is served */
    }
    /* a partitioner's exception is raised even when the message was queued (its report comes) */
    if (kkpy_leave(&self->h, rc, &err) == 0)
        result = Py_NewRef(Py_None);
done:
    for (Py_ssize_t i = 0; i < nviews; i++)
        PyBuffer_Release(&views[i]);
    if (hs != small)
        PyMem_Free(hs);
    Py_XDECREF(m);
    Py_DECREF(headers);
    return result;
}

static PyObject *producer_poll(kkpy_producer *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"timeout", NULL};
    PyObject *timeout = NULL;
    int ms = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O:poll", kwlist, &timeout) ||
        (timeout && timeout_arg(timeout, "poll", &ms) < 0))
        return NULL;
    Py_ssize_t n = drain(self, ms, "poll");
    return n < 0 || raise_send_failures(self) < 0 ? NULL : PyLong_FromSsize_t(n);
}

/* Flushes in slices, serving reports between them, until nothing is left or the time is up;
 * the number still unserved, or -1 with an exception. */
static Py_ssize_t flush(kkpy_producer *self, int ms, const char *fname) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long long now = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000, until = ms < 0 ? -1 : now + ms;
    for (;;) {
        int slice = until < 0 || until - now > 200 ? 200 : (int)(until - now);
        if (kkpy_enter(&self->h, fname) < 0)
            return -1;
        kk_error_t err;
        size_t left = 0;
        int rc;
        KKPY_CALL(&self->h, rc, kk_producer_flush(self->producer, slice, &left, &err));
        if (kkpy_leave(&self->h, rc == KK_ERR_TIMED_OUT ? KK_OK : rc, &err) < 0)
            return -1; /* Ctrl-C, or close() from another thread */
        size_t in_flight = kk_producer_in_flight(self->producer);
        if (drain(self, 0, fname) < 0)
            return -1;
        check_fork(self);
        if (in_flight == 0 && self->unserved <= 0)
            return 0;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        now = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
        if (until >= 0 && now >= until)
            return in_flight > 0 ? (Py_ssize_t)in_flight : self->unserved;
    }
}

static PyObject *producer_flush(kkpy_producer *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"timeout", NULL};
    PyObject *timeout = Py_None;
    int ms;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O:flush", kwlist, &timeout) ||
        timeout_arg(timeout, "flush", &ms) < 0)
        return NULL;
    Py_ssize_t left = flush(self, ms, "flush");
    return left < 0 || raise_send_failures(self) < 0 ? NULL : PyLong_FromSsize_t(left);
}

static Py_ssize_t producer_len(kkpy_producer *self) {
    check_fork(self);
    return self->producer ? self->unserved : 0;
}

/* len() counts messages in flight; a producer stays true however many there are. */
static int producer_bool(kkpy_producer *self) {
    (void)self;
    return 1;
}

static PyObject *producer_event_fd(kkpy_producer *self, PyObject *unused) {
    (void)unused;
    if (kkpy_enter(&self->h, "event_fd") < 0)
        return NULL;
    kk_error_t err;
    int fd = kk_producer_event_fd(self->producer, &err);
    if (kkpy_leave(&self->h, fd < 0 ? err.code : KK_OK, &err) < 0)
        return NULL;
    return PyLong_FromLong(fd);
}

static PyObject *producer_close(kkpy_producer *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"timeout", NULL};
    PyObject *timeout = Py_None;
    int ms;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O:close", kwlist, &timeout) ||
        timeout_arg(timeout, "close", &ms) < 0)
        return NULL;
    /* flush first, serving reports (Ctrl-C leaves the producer open); then purge the rest */
    if (self->h.client && !self->h.closing && ms != 0 && self->unserved > 0 && flush(self, ms, "close") < 0) {
        if (!PyErr_ExceptionMatches((PyObject *)self->h.closed_class))
            return NULL;
        PyErr_Clear(); /* another thread's close() got there first */
    }
    PyObject *r = kkpy_close(&self->h);
    if (serve_purged(self) < 0)
        Py_CLEAR(r);
    /* what async send_messages did not deliver (purged messages too) is raised last; a
     * callback's exception raised above becomes its __context__ */
    PyObject *earlier = r ? NULL : kkpy_exc_take();
    if (raise_send_failures(self) < 0) {
        Py_CLEAR(r);
        if (earlier) {
            PyObject *exc = kkpy_exc_take();
            PyException_SetContext(exc, earlier); /* steals */
            kkpy_exc_restore(exc);
            earlier = NULL;
        }
    }
    if (earlier)
        kkpy_exc_restore(earlier);
    return r;
}

static PyObject *producer_enter(kkpy_producer *self, PyObject *unused) {
    (void)unused;
    return self->h.client ? Py_NewRef(self) : kkpy_closed_error(&self->h, "__enter__");
}

static PyObject *producer_repr(kkpy_producer *self) {
    return PyUnicode_FromFormat("<kafkette.Producer client_id=%R brokers=%R%s>", self->client_id, self->brokers,
                                self->h.client ? "" : " closed");
}

static void producer_fill_stats(kkpy_head *h, kk_stats_t *out) { kk_producer_stats(((kkpy_producer *)h)->producer, out); }

static PyObject *producer_stats(kkpy_producer *self, PyObject *unused) {
    (void)unused;
    return kkpy_stats(&self->h, producer_fill_stats);
}

static PyMethodDef producer_methods[] = {
    {"send_messages", (PyCFunction)producer_send_messages, METH_O,
     "send_messages($self, msgs, /)\n--\n\n"
     "Send a list of MessageToSend synchronously (one Produce request per broker, retried as configured) "
     "with the GIL released. Returns True when every message was delivered; then each message's partition "
     "and offset are set. Otherwise raises FailedToSendMessages when some were delivered, or the error's own "
     "class when none was; either way .failures lists the undelivered ones (the others keep their offsets). "
     "ProducerShutdownError after close(), KeyboardInterrupt on Ctrl-C.\n\n"
     "With type=\"async\": checks every message (raising before any is queued), raises what earlier "
     "async sends did not deliver (then none of msgs is queued), queues msgs with produce's engine and "
     "returns True at once. Each message's partition and offset are set when poll(), flush(), close() or a "
     "later send_messages drains its report; those calls raise the undelivered ones as above (logged "
     "too). If the core refuses a message (a full buffer after max_block_ms), its error is raised with "
     "that message and the later ones in .failures: they were not queued, the earlier ones were."},
    {"stats", (PyCFunction)producer_stats, METH_NOARGS, KKPY_STATS_DOC},
    {"produce", (PyCFunction)(void (*)(void))producer_produce, METH_FASTCALL | METH_KEYWORDS,
     "produce($self, topic, value=None, key=None, *, partition=None, headers=None, timestamp_ms=None, "
     "on_delivery=None)\n--\n\n"
     "Queue one message and return at once (key, value and headers are copied). Its fate comes as one call "
     "of on_delivery(err, msg) from poll(), flush() or close() on the calling thread: err is None or the "
     "kafkette.Error subclass for the report's code (error_class(code); .code -125, purged, for messages close() dropped), msg a "
     "ProducedMessage. With buffer_memory full, waits up to max_block_ms (the GIL released; Ctrl-C "
     "interrupts) and then raises the class of QUEUE_FULL (-124, a TimedOutError); a message refused with an exception gets no callback."},
    {"poll", (PyCFunction)(void (*)(void))producer_poll, METH_VARARGS | METH_KEYWORDS,
     "poll($self, timeout=0)\n--\n\nServe the waiting delivery reports (waiting up to timeout seconds for the "
     "first; None: without limit) by calling their on_delivery; return how many reports were served (messages "
     "produced without on_delivery count too). The first "
     "exception a callback raises is raised once the drained reports are all served."},
    {"flush", (PyCFunction)(void (*)(void))producer_flush, METH_VARARGS | METH_KEYWORDS,
     "flush($self, timeout=None)\n--\n\nSend everything queued without lingering and serve reports until every "
     "message has been served or timeout seconds passed (None: without limit); return how many messages are "
     "still in flight (0: all done). Ctrl-C raises KeyboardInterrupt."},
    {"event_fd", (PyCFunction)producer_event_fd, METH_NOARGS,
     "event_fd($self, /)\n--\n\nA file descriptor that is readable while delivery reports wait for poll() (for "
     "event loops; never read it). Owned by the producer; ask again after fork()."},
    {"close", (PyCFunction)(void (*)(void))producer_close, METH_VARARGS | METH_KEYWORDS,
     "close($self, timeout=None)\n--\n\nFlush up to timeout seconds (None: until every message has its report, "
     "which delivery_timeout_ms bounds), then purge what is left and serve every remaining on_delivery "
     "(code -125, purged) before closing the connections. A send waiting in another thread is interrupted and "
     "raises ProducerShutdownError (its messages may or may not have been written). Idempotent."},
    {"__enter__", (PyCFunction)producer_enter, METH_NOARGS, "Return the producer."},
    {"__exit__", (PyCFunction)kkpy_exit_calls_close, METH_VARARGS, "Close the producer."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef producer_members[] = {
    {"client_id", T_OBJECT, offsetof(kkpy_producer, client_id), READONLY, "The client id sent to the brokers."},
    {"brokers", T_OBJECT, offsetof(kkpy_producer, brokers), READONLY, "The seed brokers, \"host:port,...\"."},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef producer_getset[] = {
    {"closed", (getter)kkpy_get_closed, NULL, "True after close().", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot producer_slots[] = {
    {Py_tp_new, producer_new},
    {Py_tp_dealloc, producer_dealloc},
    {Py_tp_traverse, producer_traverse},
    {Py_tp_clear, producer_clear},
    {Py_tp_repr, producer_repr},
    {Py_tp_methods, producer_methods},
    {Py_sq_length, producer_len},
    {Py_nb_bool, producer_bool},
    {Py_tp_members, producer_members},
    {Py_tp_getset, producer_getset},
    {Py_tp_doc,
     "Producer(brokers, client_id, **options)\n--\n\n"
     "A Kafka producer (send_messages; produce/poll/flush). brokers is a list of \"host:port\" seeds (or one comma-separated str). "
     "Options are the Producer's in docs/CONFIGURATION.md (Poseidon's names: type, compression_codec, "
     "compressed_topics, partitioner ('murmur2', 'crc32' or a callable (key: bytes, partition_count: int) -> "
     "int), required_acks, ack_timeout_ms, socket_timeout_ms, ...); type=\"async\" makes send_messages queue "
     "and return at once. A bad or unknown option raises "
     "InvalidArgumentError.\n\n"
     "Thread safety: a Producer may be shared by threads; calls are serialised by an internal lock "
     "(waited for with the GIL released). Use it as a context manager to close it."},
    {0, NULL},
};

PyType_Spec kkpy_producer_spec = {
    .name = "kafkette.Producer",
    .basicsize = sizeof(kkpy_producer),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = producer_slots,
};
