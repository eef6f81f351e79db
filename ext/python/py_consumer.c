/*
 * kafkette.PartitionConsumer over kk_consumer_*: fetch waits with the GIL released and is
 * interruptible (Ctrl-C, or close() from another thread).
 */
#include "kkpy.h"

#include <string.h>

typedef struct {
    kkpy_head h;
    kk_consumer_t *consumer; /* NULL before init and once closed */
    PyObject *topic;         /* str, shared with every FetchedMessage */
    PyObject *partition;     /* int, likewise */
    PyObject *client_id;
    PyObject *brokers;
    /* copies taken under the lock after each call, so reading them never races a fetch */
    int64_t next_offset, highwater_mark, last_stable_offset, log_start_offset;
} kkpy_consumer;

#define OWNER "PartitionConsumer"

static int consumer_shutdown(kkpy_head *h, kk_error_t *err) {
    (void)err;
    kkpy_consumer *self = (kkpy_consumer *)h;
    kk_consumer_free(self->consumer); /* closes sockets; never blocks */
    self->consumer = NULL;
    return KK_OK;
}

static PyObject *consumer_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    (void)args;
    (void)kwargs;
    kkpy_state *st = kkpy_state_of_type(type);
    kkpy_consumer *self = st ? (kkpy_consumer *)type->tp_alloc(type, 0) : NULL;
    if (!self)
        return NULL;
    self->next_offset = self->highwater_mark = self->last_stable_offset = self->log_start_offset = -1;
    if (kkpy_head_init(&self->h, st, st->ConsumerClosedError, "consumer", consumer_shutdown) < 0)
        Py_CLEAR(self);
    return (PyObject *)self;
}

static void consumer_dealloc(kkpy_consumer *self) {
    PyTypeObject *type = Py_TYPE(self);
    consumer_shutdown(&self->h, NULL);
    kkpy_head_free(&self->h);
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
    if (kkpy_int_arg(value, OWNER, "offset", -INT64_MAX, INT64_MAX, &v) < 0)
        return -1;
    /* Poseidon: a negative offset counts back from the end */
    *out = v >= 0 ? (kk_offset_spec_t){KK_OFFSET_AT, v} : (kk_offset_spec_t){KK_OFFSET_FROM_LATEST, -v};
    return 0;
}

static void take_positions(kkpy_consumer *self) {
    self->next_offset = kk_consumer_next_offset(self->consumer);
    self->highwater_mark = kk_consumer_highwater_mark(self->consumer);
    self->last_stable_offset = kk_consumer_last_stable_offset(self->consumer);
    self->log_start_offset = kk_consumer_log_start_offset(self->consumer);
}

/* Creates the core consumer and connects (finds the leader, resolves the offset). */
static int consumer_setup(kkpy_consumer *self, PyObject *client_id, PyObject *brokers, PyObject *topic_obj,
                          PyObject *partition_obj, PyObject *offset_obj, PyObject *options) {
    kkpy_state *st = self->h.call.st;
    if (self->consumer || self->topic) {
        PyErr_SetString(PyExc_RuntimeError, OWNER " is already initialised");
        return -1;
    }
    if (topic_obj == Py_None) {
        PyErr_SetString(PyExc_TypeError, OWNER ": topic must be a str, not None");
        return -1;
    }
    const char *topic = kkpy_str_arg(topic_obj, OWNER, "topic", false);
    long long partition;
    if (!topic || kkpy_int_arg(partition_obj, OWNER, "partition", 0, INT32_MAX, &partition) < 0)
        return -1;
    kk_config_t *cfg = kkpy_config_new(KK_CONFIG_CONSUMER, &self->h.call);
    kk_consumer_config_t *typed = cfg ? kk_config_consumer(cfg) : NULL;
    int rc = -1;
    kk_error_t err;
    if (!cfg || parse_offset(offset_obj, &typed->offset) < 0 ||
        kkpy_option_set(st, cfg, "bootstrap_servers", brokers, NULL, NULL) < 0 ||
        kkpy_option_set(st, cfg, "client_id", client_id, NULL, NULL) < 0 ||
        kkpy_options_apply(st, cfg, options, NULL, NULL) < 0)
        goto done;
    typed->topic = topic;
    typed->partition = (int32_t)partition;
    if (!(self->consumer = kk_consumer_new(typed, &err))) {
        kkpy_raise(st, &err);
        goto done;
    }
    self->h.client = kk_consumer_client(self->consumer);
    self->topic = Py_NewRef(topic_obj);
    self->partition = PyLong_FromLongLong(partition);
    self->client_id = kkpy_config_str(cfg, "client_id");
    self->brokers = kkpy_config_str(cfg, "bootstrap_servers");
    if (!self->partition || !self->client_id || !self->brokers || kkpy_enter(&self->h, OWNER) < 0)
        goto done;
    KKPY_CALL(&self->h, rc, kk_consumer_connect(self->consumer, &err));
    take_positions(self);
    rc = kkpy_leave(&self->h, rc, &err);
done:
    if (rc != 0 && self->consumer) {
        self->h.client = NULL;
        consumer_shutdown(&self->h, NULL);
    }
    kk_config_free(cfg);
    return rc;
}

static int consumer_init(kkpy_consumer *self, PyObject *args, PyObject *kwargs) {
    static const char *const names[] = {"client_id", "host", "port", "topic", "partition", "offset"};
    PyObject *p[6], *options;
    if (kkpy_split_args(OWNER, args, kwargs, names, 6, 6, 6, p, &options) < 0)
        return -1;
    int rc = -1;
    long long port;
    const char *host = kkpy_str_arg(p[1], OWNER, "host", false);
    if (host && kkpy_int_arg(p[2], OWNER, "port", 1, 65535, &port) == 0) {
        PyObject *bootstrap = strchr(host, ':') && host[0] != '[' ? PyUnicode_FromFormat("[%s]:%lld", host, port)
                                                                 : PyUnicode_FromFormat("%s:%lld", host, port);
        if (bootstrap) {
            rc = consumer_setup(self, p[0], bootstrap, p[3], p[4], p[5], options);
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
    if (kkpy_split_args("consumer_for_partition", args, kwargs, names, 5, 5, 5, p, &options) < 0)
        return NULL;
    kkpy_state *st = kkpy_state_of_type(cls);
    PyObject *self = st ? cls->tp_new(cls, st->empty_tuple, NULL) : NULL;
    if (self && consumer_setup((kkpy_consumer *)self, p[0], p[1], p[2], p[3], p[4], options) < 0)
        Py_CLEAR(self);
    for (int i = 0; i < 5; i++)
        Py_XDECREF(p[i]);
    Py_DECREF(options);
    return self;
}

/* Per-call options, checked by the core on a scratch consumer config. */
static int fetch_options(kkpy_state *st, PyObject *kwargs, kk_fetch_options_t *opts) {
    kk_config_t *cfg = kkpy_config_new(KK_CONFIG_CONSUMER, NULL);
    int rc = cfg ? kkpy_options_apply(st, cfg, kwargs, NULL, NULL) : -1;
    PyObject *name, *value;
    Py_ssize_t pos = 0;
    while (rc == 0 && PyDict_Next(kwargs, &pos, &name, &value)) {
        const char *opt = PyUnicode_AsUTF8(name);
        if (strcmp(opt, "max_bytes") != 0 && strcmp(opt, "min_bytes") != 0 && strcmp(opt, "max_wait_ms") != 0) {
            PyErr_Format(PyExc_TypeError, "fetch() got an unexpected option '%s' (only max_bytes, min_bytes and "
                         "max_wait_ms apply to one fetch)", opt);
            rc = -1;
        }
    }
    if (rc == 0) {
        const kk_consumer_config_t *typed = kk_config_consumer(cfg);
        opts->max_bytes = kk_config_is_set(cfg, "max_bytes") ? typed->max_bytes : -1;
        opts->min_bytes = kk_config_is_set(cfg, "min_bytes") ? typed->min_bytes : -1;
        opts->max_wait_ms = kk_config_is_set(cfg, "max_wait_ms") ? typed->max_wait_ms : -1;
    }
    kk_config_free(cfg);
    return rc;
}

static PyObject *consumer_fetch(kkpy_consumer *self, PyObject *args, PyObject *kwargs) {
    kkpy_state *st = self->h.call.st;
    if (PyTuple_GET_SIZE(args)) {
        PyErr_SetString(PyExc_TypeError, "fetch() takes keyword arguments only (max_bytes, min_bytes, max_wait_ms)");
        return NULL;
    }
    kk_fetch_options_t opts = KK_FETCH_OPTIONS_DEFAULT;
    if ((kwargs && fetch_options(st, kwargs, &opts) < 0) || kkpy_enter(&self->h, "fetch") < 0)
        return NULL;
    kk_fetch_batch_t *batch = NULL;
    kk_error_t err;
    int rc;
    KKPY_CALL(&self->h, rc, kk_consumer_fetch(self->consumer, &opts, &batch, &err));
    take_positions(self);
    PyObject *list = kkpy_leave(&self->h, rc, &err) == 0 ? PyList_New((Py_ssize_t)batch->count) : NULL;
    for (size_t i = 0; list && i < batch->count; i++) {
        PyObject *m = kkpy_fetched_new(st, self->topic, self->partition, &batch->messages[i]);
        if (!m)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, (Py_ssize_t)i, m);
    }
    kk_fetch_batch_free(batch);
    return list;
}

static PyObject *consumer_close(kkpy_consumer *self, PyObject *unused) {
    (void)unused;
    return kkpy_close(&self->h);
}

static PyObject *consumer_enter(kkpy_consumer *self, PyObject *unused) {
    (void)unused;
    return self->h.client ? Py_NewRef(self) : kkpy_closed_error(&self->h, "__enter__");
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
static PyObject *consumer_repr(kkpy_consumer *self) {
    if (!self->topic)
        return PyUnicode_FromString("<kafkette.PartitionConsumer (not initialised)>");
    return PyUnicode_FromFormat("<kafkette.PartitionConsumer %U[%R] next_offset=%lld brokers=%R%s>", self->topic,
                                self->partition, (long long)self->next_offset, self->brokers,
                                self->h.client ? "" : " closed");
}

static void consumer_fill_stats(kkpy_head *h, kk_stats_t *out) { kk_consumer_stats(((kkpy_consumer *)h)->consumer, out); }

static PyObject *consumer_stats(kkpy_consumer *self, PyObject *unused) {
    (void)unused;
    return kkpy_stats(&self->h, consumer_fill_stats);
}

static PyMethodDef consumer_methods[] = {
    {"fetch", (PyCFunction)(void (*)(void))consumer_fetch, METH_VARARGS | METH_KEYWORDS,
     "fetch($self, /, *, max_bytes=None, min_bytes=None, max_wait_ms=None)\n--\n\n"
     "Fetch the next messages as a list of FetchedMessage (possibly empty once max_wait_ms has passed) and "
     "advance next_offset past them. The keywords override the consumer's options for this call. The wait "
     "releases the GIL and is interrupted by Ctrl-C (KeyboardInterrupt) within about 100 ms."},
    {"stats", (PyCFunction)consumer_stats, METH_NOARGS, KKPY_STATS_DOC},
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
    {"closed", (getter)kkpy_get_closed, NULL, "True after close().", NULL},
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
     "(kafkette.EARLIEST_OFFSET / LATEST_OFFSET); it is resolved when the consumer is created. Options are "
     "the PartitionConsumer's in docs/CONFIGURATION.md (max_bytes, min_bytes, max_wait_ms, socket_timeout_ms, "
     "offset_reset, read_committed, ...). A bad or unknown option raises InvalidArgumentError.\n\n"
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
