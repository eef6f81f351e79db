/*
 * kafkette.PartitionConsumer over kk_consumer_*: fetch waits with the GIL released and is
 * interruptible (Ctrl-C, or close() from another thread).
 */
#include "kkpy.h"

#include <string.h>

typedef struct {
    PyObject_HEAD
    kk_consumer_t *consumer; /* NULL before init and once closed */
    PyThread_type_lock lock; /* serialises core calls; taken with the GIL released */
    unsigned long owner;     /* thread holding lock, 0 = none */
    kkpy_call call;
    bool closing;            /* close() was called: an interrupted fetch ends quietly */
    PyObject *topic;         /* str, shared with every FetchedMessage */
    PyObject *partition;     /* int, likewise */
    PyObject *client_id;
    PyObject *brokers;
    /* copies taken under the lock after each call, so reading them never races a fetch */
    int64_t next_offset, highwater_mark, last_stable_offset, log_start_offset;
} kkpy_consumer;

#define OWNER "PartitionConsumer"

static PyObject *consumer_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    (void)args;
    (void)kwargs;
    kkpy_state *st = kkpy_state_of_type(type);
    if (!st)
        return NULL;
    kkpy_consumer *self = (kkpy_consumer *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    kkpy_call_init(&self->call, st);
    self->next_offset = self->highwater_mark = self->last_stable_offset = self->log_start_offset = -1;
    self->lock = PyThread_allocate_lock();
    if (!self->lock) {
        Py_DECREF(self);
        PyErr_NoMemory();
        return NULL;
    }
    return (PyObject *)self;
}

static void consumer_dealloc(kkpy_consumer *self) {
    PyTypeObject *type = Py_TYPE(self);
    kk_consumer_free(self->consumer); /* closes sockets; never blocks */
    self->consumer = NULL;
    if (self->lock)
        PyThread_free_lock(self->lock);
    kkpy_call_clear(&self->call);
    Py_CLEAR(self->topic);
    Py_CLEAR(self->partition);
    Py_CLEAR(self->client_id);
    Py_CLEAR(self->brokers);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

static int parse_offset(PyObject *value, kk_offset_spec_t *out) {
    if (PyUnicode_Check(value)) {
        const char *s = PyUnicode_AsUTF8(value);
        if (!s)
            return -1;
        if (strcmp(s, "earliest_offset") == 0) {
            *out = (kk_offset_spec_t){KK_OFFSET_EARLIEST, 0};
            return 0;
        }
        if (strcmp(s, "latest_offset") == 0) {
            *out = (kk_offset_spec_t){KK_OFFSET_LATEST, 0};
            return 0;
        }
        PyErr_Format(PyExc_ValueError,
                     OWNER ": offset must be an int, 'earliest_offset' or 'latest_offset', got %R", value);
        return -1;
    }
    if (!PyLong_Check(value) || PyBool_Check(value)) {
        PyErr_Format(PyExc_TypeError,
                     OWNER ": offset must be an int, 'earliest_offset' or 'latest_offset', not %.100s",
                     Py_TYPE(value)->tp_name);
        return -1;
    }
    long long v;
    if (kkpy_int_option(value, OWNER, "offset", -INT64_MAX, INT64_MAX, &v) < 0)
        return -1;
    /* Poseidon: a negative offset counts back from the end */
    *out = v >= 0 ? (kk_offset_spec_t){KK_OFFSET_AT, v} : (kk_offset_spec_t){KK_OFFSET_FROM_LATEST, -v};
    return 0;
}

static int apply_option(kk_consumer_config_t *cfg, const char *name, PyObject *value) {
#define INT_OPTION(opt, lo, hi, field) KKPY_INT_OPTION(OWNER, opt, lo, hi, field)
    INT_OPTION("max_bytes", 1, INT32_MAX, cfg->max_bytes)
    INT_OPTION("min_bytes", 0, INT32_MAX, cfg->min_bytes)
    INT_OPTION("max_wait_ms", 0, INT32_MAX, cfg->max_wait_ms)
    INT_OPTION("socket_timeout_ms", 1, INT32_MAX, cfg->client.request_timeout_ms)
    INT_OPTION("connect_timeout_ms", 1, INT32_MAX, cfg->client.connect_timeout_ms)
    INT_OPTION("failover_tries", 0, INT32_MAX, cfg->failover_tries)
    INT_OPTION("retry_backoff_ms", 0, INT32_MAX, cfg->retry_backoff_ms)
#undef INT_OPTION
    if (strcmp(name, "offset_reset") == 0) {
        const char *s = kkpy_str_arg(value, OWNER, "offset_reset", false);
        if (!s)
            return -1;
        if (strcmp(s, "earliest") == 0)
            cfg->offset_reset = KK_RESET_EARLIEST;
        else if (strcmp(s, "latest") == 0)
            cfg->offset_reset = KK_RESET_LATEST;
        else if (strcmp(s, "error") == 0)
            cfg->offset_reset = KK_RESET_ERROR;
        else {
            PyErr_Format(PyExc_ValueError, OWNER ": offset_reset must be 'earliest', 'latest' or 'error', got %R",
                         value);
            return -1;
        }
        return 0;
    }
    if (strcmp(name, "read_committed") == 0) {
        int b = PyObject_IsTrue(value);
        if (b < 0)
            return -1;
        cfg->read_committed = b;
        return 0;
    }
    PyErr_Format(PyExc_TypeError, OWNER "() got an unexpected option '%s'", name);
    return -1;
}

static void take_positions(kkpy_consumer *self) {
    self->next_offset = kk_consumer_next_offset(self->consumer);
    self->highwater_mark = kk_consumer_highwater_mark(self->consumer);
    self->last_stable_offset = kk_consumer_last_stable_offset(self->consumer);
    self->log_start_offset = kk_consumer_log_start_offset(self->consumer);
}

/* Creates the core consumer and connects (finds the leader, resolves the offset). */
static int consumer_setup(kkpy_consumer *self, PyObject *client_id_obj, const char *bootstrap, PyObject *topic_obj,
                          PyObject *partition_obj, PyObject *offset_obj, PyObject *options) {
    kkpy_state *st = self->call.st;
    if (self->consumer || self->topic) {
        PyErr_SetString(PyExc_RuntimeError, OWNER " is already initialised");
        return -1;
    }
    const char *client_id = kkpy_str_arg(client_id_obj, OWNER, "client_id", false);
    if (!client_id)
        return -1;
    if (topic_obj == Py_None) {
        PyErr_SetString(PyExc_TypeError, OWNER ": topic must be a str, not None");
        return -1;
    }
    const char *topic = kkpy_str_arg(topic_obj, OWNER, "topic", false);
    long long partition;
    if (!topic)
        return -1;
    if (kkpy_int_option(partition_obj, OWNER, "partition", INT64_MIN, INT64_MAX, &partition) < 0)
        return -1;
    if (partition < 0 || partition > INT32_MAX) {
        PyErr_Format(PyExc_ValueError, OWNER ": partition must be between 0 and %d, got %lld", INT32_MAX, partition);
        return -1;
    }
    kk_consumer_config_t cfg;
    kk_consumer_config_init(&cfg);
    if (parse_offset(offset_obj, &cfg.offset) < 0)
        return -1;
    PyObject *name, *value;
    Py_ssize_t pos = 0;
    while (options && PyDict_Next(options, &pos, &name, &value)) {
        const char *opt = PyUnicode_AsUTF8(name);
        if (!opt || apply_option(&cfg, opt, value) < 0)
            return -1;
    }
    cfg.client.bootstrap_servers = bootstrap;
    cfg.client.client_id = client_id;
    cfg.topic = topic;
    cfg.partition = (int32_t)partition;
    kkpy_call_attach(&self->call, &cfg.client);
    kk_error_t err;
    kk_consumer_t *consumer = kk_consumer_new(&cfg, &err);
    if (!consumer) {
        kkpy_raise(st, &err);
        return -1;
    }
    self->topic = Py_NewRef(topic_obj);
    self->partition = PyLong_FromLongLong(partition);
    self->client_id = Py_NewRef(client_id_obj);
    self->brokers = PyUnicode_FromString(bootstrap);
    if (!self->partition || !self->brokers) {
        kk_consumer_free(consumer);
        return -1;
    }
    /* Nobody else can see the object yet, but the lock keeps the pattern uniform. */
    if (kkpy_lock(self->lock, &self->owner) < 0) {
        kk_consumer_free(consumer);
        return -1;
    }
    int rc;
    kkpy_call_begin(&self->call);
    Py_BEGIN_ALLOW_THREADS
    rc = kk_consumer_connect(consumer, &err);
    Py_END_ALLOW_THREADS
    kkpy_log_line *lines = NULL;
    PyObject *exc = kkpy_call_end(&self->call, &lines);
    if (rc == KK_OK && !exc) {
        self->consumer = consumer;
        take_positions(self);
    } else {
        kk_consumer_free(consumer);
    }
    kkpy_unlock(self->lock, &self->owner);
    kkpy_log_emit(st, lines);
    if (exc) {
        kkpy_exc_restore(exc);
        return -1;
    }
    if (rc != KK_OK) {
        kkpy_raise(st, &err);
        return -1;
    }
    return 0;
}

static int consumer_init(kkpy_consumer *self, PyObject *args, PyObject *kwargs) {
    static const char *const names[] = {"client_id", "host", "port", "topic", "partition", "offset"};
    PyObject *p[6], *options;
    if (kkpy_split_args(OWNER, args, kwargs, names, 6, p, &options) < 0)
        return -1;
    int rc = -1;
    long long port;
    const char *host = kkpy_str_arg(p[1], OWNER, "host", false);
    if (host && kkpy_int_option(p[2], OWNER, "port", 1, 65535, &port) == 0) {
        PyObject *bootstrap = strchr(host, ':') && host[0] != '[' ? PyUnicode_FromFormat("[%s]:%lld", host, port)
                                                                 : PyUnicode_FromFormat("%s:%lld", host, port);
        if (bootstrap) {
            rc = consumer_setup(self, p[0], PyUnicode_AsUTF8(bootstrap), p[3], p[4], p[5], options);
            Py_DECREF(bootstrap);
        }
    }
    for (int i = 0; i < 6; i++)
        Py_XDECREF(p[i]);
    Py_DECREF(options);
    return rc;
}

static PyObject *consumer_for_partition(PyTypeObject *cls, PyObject *args, PyObject *kwargs) {
    static const char *const names[] = {"client_id", "brokers", "topic", "partition", "offset"};
    PyObject *p[5], *options;
    if (kkpy_split_args("consumer_for_partition", args, kwargs, names, 5, p, &options) < 0)
        return NULL;
    PyObject *self = NULL;
    char *bootstrap = kkpy_brokers_string(p[1], "consumer_for_partition");
    if (bootstrap) {
        PyObject *empty = PyTuple_New(0);
        self = empty ? cls->tp_new(cls, empty, NULL) : NULL;
        Py_XDECREF(empty);
        if (self && consumer_setup((kkpy_consumer *)self, p[0], bootstrap, p[2], p[3], p[4], options) < 0)
            Py_CLEAR(self);
        PyMem_Free(bootstrap);
    }
    for (int i = 0; i < 5; i++)
        Py_XDECREF(p[i]);
    Py_DECREF(options);
    return self;
}

static PyObject *closed_error(kkpy_consumer *self, const char *text) {
    PyErr_SetString(self->call.st->ConsumerClosedError, text);
    return NULL;
}

static PyObject *consumer_fetch(kkpy_consumer *self, PyObject *args, PyObject *kwargs) {
    kkpy_state *st = self->call.st;
    if (PyTuple_GET_SIZE(args)) {
        PyErr_SetString(PyExc_TypeError, "fetch() takes keyword arguments only (max_bytes, min_bytes, max_wait_ms)");
        return NULL;
    }
    kk_fetch_options_t opts = KK_FETCH_OPTIONS_DEFAULT;
    PyObject *name, *value;
    Py_ssize_t pos = 0;
    while (kwargs && PyDict_Next(kwargs, &pos, &name, &value)) {
        const char *opt = PyUnicode_AsUTF8(name);
        long long v;
        if (!opt)
            return NULL;
        int32_t *field = strcmp(opt, "max_bytes") == 0     ? &opts.max_bytes
                         : strcmp(opt, "min_bytes") == 0   ? &opts.min_bytes
                         : strcmp(opt, "max_wait_ms") == 0 ? &opts.max_wait_ms
                                                           : NULL;
        if (!field) {
            PyErr_Format(PyExc_TypeError, "fetch() got an unexpected option '%s'", opt);
            return NULL;
        }
        if (kkpy_int_option(value, "fetch", opt, field == &opts.max_bytes ? 1 : 0, INT32_MAX, &v) < 0)
            return NULL;
        *field = (int32_t)v;
    }
    if (!self->consumer)
        return closed_error(self, self->topic ? "fetch: the consumer is closed" : "fetch: the consumer is not initialised");
    if (kkpy_lock(self->lock, &self->owner) < 0)
        return NULL;
    if (!self->consumer) {
        kkpy_unlock(self->lock, &self->owner);
        return closed_error(self, "fetch: the consumer was closed");
    }
    kk_fetch_batch_t *batch = NULL;
    kk_error_t err;
    int rc;
    kkpy_call_begin(&self->call);
    Py_BEGIN_ALLOW_THREADS
    rc = kk_consumer_fetch(self->consumer, &opts, &batch, &err);
    Py_END_ALLOW_THREADS
    kkpy_log_line *lines = NULL;
    PyObject *exc = kkpy_call_end(&self->call, &lines);
    take_positions(self);
    bool closing = self->closing;
    kkpy_unlock(self->lock, &self->owner);

    PyObject *list = NULL;
    if (rc == KK_OK) {
        list = PyList_New((Py_ssize_t)batch->count);
        for (size_t i = 0; list && i < batch->count; i++) {
            PyObject *m = kkpy_fetched_new(st, self->topic, self->partition, &batch->messages[i]);
            if (!m)
                Py_CLEAR(list);
            else
                PyList_SET_ITEM(list, (Py_ssize_t)i, m);
        }
    }
    kk_fetch_batch_free(batch);
    kkpy_log_emit(st, lines);
    if (exc) {
        Py_XDECREF(list);
        kkpy_exc_restore(exc);
        return NULL;
    }
    if (rc == KK_ERR_INTERRUPTED && closing)
        return closed_error(self, "fetch: the consumer was closed while fetching");
    if (rc != KK_OK)
        kkpy_raise(st, &err);
    return list;
}

static PyObject *consumer_close(kkpy_consumer *self, PyObject *unused) {
    (void)unused;
    if (!self->consumer)
        Py_RETURN_NONE;
    /* Wake a fetch waiting in another thread, then wait for it to let go. */
    self->closing = true;
    kk_client_interrupt(kk_consumer_client(self->consumer));
    if (kkpy_lock(self->lock, &self->owner) < 0)
        return NULL;
    kk_consumer_t *c = self->consumer;
    self->consumer = NULL;
    kkpy_unlock(self->lock, &self->owner);
    kk_consumer_free(c);
    Py_RETURN_NONE;
}

static PyObject *consumer_enter(kkpy_consumer *self, PyObject *unused) {
    (void)unused;
    if (!self->consumer)
        return closed_error(self, "the consumer is closed");
    return Py_NewRef(self);
}

static PyObject *offset_or_none(int64_t v) { return v >= 0 ? PyLong_FromLongLong(v) : Py_NewRef(Py_None); }

static PyObject *get_next_offset(kkpy_consumer *self, void *c) {
    (void)c;
    return offset_or_none(self->next_offset);
}
static PyObject *get_highwater_mark(kkpy_consumer *self, void *c) {
    (void)c;
    return offset_or_none(self->highwater_mark);
}
static PyObject *get_last_stable_offset(kkpy_consumer *self, void *c) {
    (void)c;
    return offset_or_none(self->last_stable_offset);
}
static PyObject *get_log_start_offset(kkpy_consumer *self, void *c) {
    (void)c;
    return offset_or_none(self->log_start_offset);
}
static PyObject *get_closed(kkpy_consumer *self, void *c) {
    (void)c;
    return PyBool_FromLong(self->consumer == NULL);
}

static PyObject *consumer_repr(kkpy_consumer *self) {
    if (!self->topic)
        return PyUnicode_FromString("<kafkette.PartitionConsumer (not initialised)>");
    return PyUnicode_FromFormat("<kafkette.PartitionConsumer %U[%R] next_offset=%lld brokers=%R%s>", self->topic,
                                self->partition, (long long)self->next_offset, self->brokers,
                                self->consumer ? "" : " closed");
}

static PyMethodDef consumer_methods[] = {
    {"fetch", (PyCFunction)(void (*)(void))consumer_fetch, METH_VARARGS | METH_KEYWORDS,
     "fetch($self, /, *, max_bytes=None, min_bytes=None, max_wait_ms=None)\n--\n\n"
     "Fetch the next messages as a list of FetchedMessage (possibly empty once max_wait_ms has passed) and "
     "advance next_offset past them. The keywords override the consumer's options for this call. The wait "
     "releases the GIL and is interrupted by Ctrl-C (KeyboardInterrupt) within about 100 ms."},
    {"close", (PyCFunction)consumer_close, METH_NOARGS,
     "close($self, /)\n--\n\nClose the connections. A fetch waiting in another thread is woken and raises "
     "ConsumerClosedError (iteration just stops). Idempotent."},
    {"consumer_for_partition", (PyCFunction)(void (*)(void))consumer_for_partition,
     METH_CLASS | METH_VARARGS | METH_KEYWORDS,
     "consumer_for_partition($cls, client_id, brokers, topic, partition, offset, **options)\n--\n\n"
     "A consumer for one partition found through a list of seed brokers (\"host:port\" strings) rather than "
     "one host and port; the options are those of the constructor."},
    {"__enter__", (PyCFunction)consumer_enter, METH_NOARGS, "Return the consumer."},
    {"__exit__", (PyCFunction)kkpy_exit_calls_close, METH_VARARGS, "Close the consumer."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef consumer_members[] = {
    {"topic", T_OBJECT, offsetof(kkpy_consumer, topic), READONLY, "The topic being read."},
    {"partition", T_OBJECT, offsetof(kkpy_consumer, partition), READONLY, "The partition being read."},
    {"client_id", T_OBJECT, offsetof(kkpy_consumer, client_id), READONLY, "The client id sent to the brokers."},
    {"brokers", T_OBJECT, offsetof(kkpy_consumer, brokers), READONLY, "The seed brokers, \"host:port,...\"."},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef consumer_getset[] = {
    {"next_offset", (getter)get_next_offset, NULL, "The offset the next fetch starts at.", NULL},
    {"highwater_mark", (getter)get_highwater_mark, NULL,
     "The partition's high watermark from the last fetch (None before the first).", NULL},
    {"last_stable_offset", (getter)get_last_stable_offset, NULL,
     "The last stable offset from the last fetch, or None when the broker did not report it.", NULL},
    {"log_start_offset", (getter)get_log_start_offset, NULL,
     "The log start offset from the last fetch, or None when the broker did not report it.", NULL},
    {"closed", (getter)get_closed, NULL, "True after close().", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot consumer_slots[] = {
    {Py_tp_new, consumer_new},
    {Py_tp_init, consumer_init},
    {Py_tp_dealloc, consumer_dealloc},
    {Py_tp_repr, consumer_repr},
    {Py_tp_methods, consumer_methods},
    {Py_tp_members, consumer_members},
    {Py_tp_getset, consumer_getset},
    {Py_tp_doc,
     "PartitionConsumer(client_id, host, port, topic, partition, offset, **options)\n--\n\n"
     "Reads one partition of one topic, following its leader. offset is an int (>= 0: that offset; "
     "negative: that many records before the end), 'earliest_offset' or 'latest_offset' "
     "(kafkette.EARLIEST_OFFSET / LATEST_OFFSET); it is resolved when the consumer is created. Options: "
     "max_bytes, min_bytes, max_wait_ms, socket_timeout_ms, offset_reset ('earliest' (default), 'latest' "
     "or 'error': what to do when the next offset is out of range); also connect_timeout_ms, "
     "read_committed, failover_tries and retry_backoff_ms. An unknown option raises TypeError.\n\n"
     "Thread safety: a consumer may be shared by threads; fetches are serialised by an internal lock "
     "(waited for with the GIL released), so each message is returned once. Iterating yields messages as "
     "they arrive until close()."},
    {0, NULL},
};

PyType_Spec kkpy_consumer_spec = {
    .name = "kafkette.PartitionConsumer",
    .basicsize = sizeof(kkpy_consumer),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .slots = consumer_slots,
};
