/*
 * What Producer, PartitionConsumer and ConsumerGroup share (docs/BINDINGS.md): the head with
 * the object's lock, its client and its call context, so that calls are serialised, close()
 * from another thread interrupts a waiting call, and a callback cannot re-enter its object;
 * and the options, which go to the core's option table through a kk_config_t.
 */
#include "kkpy.h"

#include <string.h>

int kkpy_head_init(kkpy_head *h, kkpy_state *st, PyObject *closed_class, const char *what,
                   kkpy_shutdown_fn shutdown) {
    kkpy_call_init(&h->call, st);
    h->closed_class = closed_class;
    h->what = what;
    h->shutdown = shutdown;
    h->lock = PyThread_allocate_lock();
    if (!h->lock) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

void kkpy_head_free(kkpy_head *h) {
    if (h->lock)
        PyThread_free_lock(h->lock);
    h->lock = NULL;
    kkpy_call_clear(&h->call);
}

/* Waits for the lock with the GIL released, checking signals every 100 ms. */
static int lock(kkpy_head *h) {
    if (!PyThread_acquire_lock(h->lock, NOWAIT_LOCK)) {
        for (;;) {
            PyLockStatus status;
            Py_BEGIN_ALLOW_THREADS
            status = PyThread_acquire_lock_timed(h->lock, 100 * 1000, 0);
            Py_END_ALLOW_THREADS
            if (status == PY_LOCK_ACQUIRED)
                break;
            if (PyErr_CheckSignals() < 0)
                return -1;
        }
    }
    h->owner = PyThread_get_thread_ident();
    return 0;
}

static void unlock(kkpy_head *h) {
    h->owner = 0;
    PyThread_release_lock(h->lock);
}

static int refuse_reentry(kkpy_head *h, const char *fname) {
    if (h->owner != PyThread_get_thread_ident())
        return 0;
    PyErr_Format(PyExc_RuntimeError,
                 "%s() is not allowed inside a callback of this %s (partitioner, on_assign, on_revoke): a "
                 "callback must not call back into the object that invoked it, which would wait for itself",
                 fname, h->what);
    return -1;
}

static void raise_closed(kkpy_head *h, PyObject *text) {
    PyObject *exc = text ? PyObject_CallOneArg(h->closed_class, text) : NULL;
    PyObject *code = exc ? PyLong_FromLong(KK_ERR_STATE) : NULL;
    if (code && PyObject_SetAttr(exc, h->call.st->str_code, code) == 0)
        PyErr_SetObject(h->closed_class, exc);
    Py_XDECREF(text);
    Py_XDECREF(exc);
    Py_XDECREF(code);
}

PyObject *kkpy_closed_error(kkpy_head *h, const char *fname) {
    raise_closed(h, PyUnicode_FromFormat("%s: the %s %s", fname, h->what,
                                         h->closing ? "is closed" : "is not initialised"));
    return NULL;
}

int kkpy_enter(kkpy_head *h, const char *fname) {
    if (refuse_reentry(h, fname) < 0)
        return -1;
    if (!h->client || h->closing)
        return kkpy_closed_error(h, fname), -1;
    if (lock(h) < 0)
        return -1;
    if (!h->client || h->closing) {
        unlock(h);
        return kkpy_closed_error(h, fname), -1;
    }
    return 0;
}

int kkpy_leave(kkpy_head *h, int rc, const kk_error_t *err) {
    kkpy_log_line *lines = NULL;
    PyObject *exc = kkpy_call_end(&h->call, &lines);
    bool closing = h->closing;
    unlock(h);
    kkpy_log_emit(h->call.st, lines);
    if (exc) {
        kkpy_exc_restore(exc);
        return -1;
    }
    if (rc == KK_OK)
        return 0;
    if (closing && !h->closed) { /* close() in another thread interrupted this call */
        raise_closed(h, PyUnicode_FromFormat("the %s was closed during the call", h->what));
        return -1;
    }
    if (!err)
        return 1;
    kkpy_raise(h->call.st, err);
    return -1;
}

PyObject *kkpy_close(kkpy_head *h) {
    if (refuse_reentry(h, "close") < 0)
        return NULL;
    if (!h->client)
        Py_RETURN_NONE; /* closed, or never set up */
    /* Wake a call waiting in another thread; it raises closed_class and lets go of the lock. */
    h->closing = true;
    kk_client_interrupt(h->client);
    if (lock(h) < 0)
        return NULL;
    if (!h->client) { /* another close() got here first */
        unlock(h);
        Py_RETURN_NONE;
    }
    /* With the GIL held, so a concurrent close() never interrupts a freed client. */
    h->client = NULL;
    h->closed = true;
    kk_error_t err;
    kk_error_clear(&err);
    kkpy_call_begin(&h->call); /* the shutdown may authenticate (a group's last commit) */
    int rc = h->shutdown(h, &err);
    if (kkpy_leave(h, rc, &err) < 0) /* a failure of the shutdown itself (a final commit) */
        return NULL;
    Py_RETURN_NONE;
}

PyObject *kkpy_get_closed(kkpy_head *h, void *closure) {
    (void)closure;
    return PyBool_FromLong(h->client == NULL);
}

/* ---- options ---------------------------------------------------------------------------------- */

kk_config_t *kkpy_config_new(kk_config_kind_t kind, kkpy_call *call) {
    kk_config_t *cfg = kk_config_new(kind);
    if (!cfg) {
        PyErr_NoMemory();
        return NULL;
    }
    if (call)
        kkpy_call_attach(call, kk_config_client(cfg));
    return cfg;
}

PyObject *kkpy_config_str(kk_config_t *cfg, const char *name) {
    char small[256], *buf = small;
    int n = kk_config_get(cfg, name, small, sizeof(small));
    if (n < 0)
        return PyErr_Format(PyExc_SystemError, "kafkette: option %s has no value", name);
    if ((size_t)n >= sizeof(small) && (buf = PyMem_Malloc((size_t)n + 1)) != NULL)
        kk_config_get(cfg, name, buf, (size_t)n + 1);
    PyObject *text = buf ? PyUnicode_DecodeUTF8(buf, n, "replace") : PyErr_NoMemory();
    if (buf != small)
        PyMem_Free(buf);
    return text;
}

/* A list, tuple or set of str: kk_config_set_list. */
static int set_list(kk_config_t *cfg, const char *name, PyObject *value, kk_error_t *err) {
    PyObject *items = PySequence_Tuple(value);
    if (!items)
        return -2;
    Py_ssize_t n = PyTuple_GET_SIZE(items);
    const char **texts = PyMem_Calloc((size_t)n + 1, sizeof(*texts));
    int rc = texts ? KK_OK : -2;
    for (Py_ssize_t i = 0; rc == KK_OK && i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(items, i);
        char what[160];
        snprintf(what, sizeof(what), "%s holding %s", Py_TYPE(value)->tp_name, Py_TYPE(item)->tp_name);
        Py_ssize_t len;
        texts[i] = PyUnicode_Check(item) ? PyUnicode_AsUTF8AndSize(item, &len) : NULL;
        if (PyErr_Occurred())
            rc = -2;
        else if (!texts[i] || (size_t)len != strlen(texts[i]))
            rc = kk_config_reject_type(cfg, name, texts[i] ? "str holding NUL" : what, err);
    }
    if (rc == KK_OK)
        rc = kk_config_set_list(cfg, name, texts, (size_t)n, err);
    if (!texts)
        PyErr_NoMemory();
    PyMem_Free(texts);
    Py_DECREF(items);
    return rc;
}

/* A dict of int -> int: kk_config_set_map. */
static int set_map(kk_config_t *cfg, const char *name, PyObject *value, kk_error_t *err) {
    Py_ssize_t n = PyDict_GET_SIZE(value), pos = 0, i = 0;
    int64_t *keys = PyMem_Calloc((size_t)n + 1, sizeof(int64_t)), *values = PyMem_Calloc((size_t)n + 1, sizeof(int64_t));
    int rc = keys && values ? KK_OK : -2;
    PyObject *k, *v;
    while (rc == KK_OK && PyDict_Next(value, &pos, &k, &v)) {
        int o1 = 0, o2 = 0;
        PyObject *bad = !PyLong_Check(k) || PyBool_Check(k) ? k : !PyLong_Check(v) || PyBool_Check(v) ? v : NULL;
        keys[i] = bad ? 0 : PyLong_AsLongLongAndOverflow(k, &o1);
        values[i++] = bad ? 0 : PyLong_AsLongLongAndOverflow(v, &o2);
        char what[160];
        snprintf(what, sizeof(what), "dict holding %s", bad ? Py_TYPE(bad)->tp_name : "an int out of range");
        if (PyErr_Occurred())
            rc = -2;
        else if (bad || o1 || o2)
            rc = kk_config_reject_type(cfg, name, what, err);
    }
    if (rc == KK_OK)
        rc = kk_config_set_map(cfg, name, keys, values, (size_t)n, err);
    if (!keys || !values)
        PyErr_NoMemory();
    PyMem_Free(keys);
    PyMem_Free(values);
    return rc;
}

/* The value's core setter; -2 when a Python error is set. */
static int set_value(kk_config_t *cfg, const char *name, PyObject *value, kk_error_t *err) {
    if (value == Py_None)
        return kk_config_set_default(cfg, name, err);
    if (PyBool_Check(value))
        return kk_config_set_bool(cfg, name, value == Py_True, err);
    if (PyLong_Check(value)) {
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (v == -1 && PyErr_Occurred())
            return -2;
        if (!overflow)
            return kk_config_set_int(cfg, name, v, err);
        PyObject *text = PyObject_Str(value); /* the core refuses it with its digits */
        int rc = text ? kk_config_set(cfg, name, PyUnicode_AsUTF8(text), err) : -2;
        Py_XDECREF(text);
        return rc;
    }
    if (PyUnicode_Check(value)) {
        Py_ssize_t len;
        const char *text = PyUnicode_AsUTF8AndSize(value, &len);
        if (!text)
            return -2;
        if ((size_t)len != strlen(text))
            return kk_config_reject_type(cfg, name, "str holding NUL", err);
        return kk_config_set(cfg, name, text, err);
    }
    const kk_option_info_t *info = kk_option_find(kk_config_kind(cfg), name);
    if ((PyList_Check(value) || PyTuple_Check(value) || PyAnySet_Check(value)) && info && info->type == KK_OPTION_LIST)
        return set_list(cfg, name, value, err);
    if (PyDict_Check(value) && info && info->type == KK_OPTION_MAP)
        return set_map(cfg, name, value, err);
    return kk_config_reject_type(cfg, name, Py_TYPE(value)->tp_name, err);
}

int kkpy_option_set(kkpy_state *st, kk_config_t *cfg, const char *name, PyObject *value,
                    kkpy_callback_fn callback, void *self) {
    const kk_option_info_t *info = kk_option_find(kk_config_kind(cfg), name);
    bool callable = value != Py_None && PyCallable_Check(value) && !PyType_Check(value);
    int rc;
    kk_error_t err;
    if (info && info->type == KK_OPTION_CALLBACK && strcmp(info->name, "sasl_oauth_token_provider") == 0)
        return kkpy_oauth_option(st, cfg, name, value);
    if (info && callback && (callable || (value == Py_None && info->type == KK_OPTION_CALLBACK))) {
        rc = callback(self, name, callable ? value : NULL);
        if (rc <= 0)
            return rc;
    }
    if (info && info->type == KK_OPTION_CALLBACK)
        rc = kk_config_reject_type(cfg, name, Py_TYPE(value)->tp_name, &err);
    else
        rc = set_value(cfg, name, value, &err);
    if (rc == -2)
        return -1;
    if (rc != KK_OK) {
        kkpy_raise(st, &err);
        return -1;
    }
    return 0;
}

int kkpy_options_apply(kkpy_state *st, kk_config_t *cfg, PyObject *options, kkpy_callback_fn callback,
                       void *self) {
    PyObject *name, *value;
    Py_ssize_t pos = 0;
    while (options && PyDict_Next(options, &pos, &name, &value)) {
        const char *text = PyUnicode_AsUTF8(name);
        if (!text || kkpy_option_set(st, cfg, text, value, callback, self) < 0)
            return -1;
    }
    return 0;
}

/* ---- stats() ------------------------------------------------------------------------------------ */

static int put(PyObject *dict, const char *key, PyObject *value) {
    int rc = value ? PyDict_SetItemString(dict, key, value) : -1;
    Py_XDECREF(value);
    return rc;
}

static PyObject *offset_or_none(int64_t v) { return v >= 0 ? PyLong_FromLongLong(v) : Py_NewRef(Py_None); }

/* The dict of docs/STATISTICS.md; built under the lock (topics point into the core object). */
static PyObject *stats_dict(const kk_stats_t *s) {
    PyObject *d = PyDict_New(), *errors = PyDict_New(), *brokers = PyDict_New(), *parts = PyList_New(0);
    int rc = d && errors && brokers && parts ? 0 : -1;
#define COUNTER(f) if (rc == 0) rc = put(d, #f, PyLong_FromUnsignedLongLong(s->f));
    COUNTER(messages_sent) COUNTER(bytes_sent) COUNTER(messages_received) COUNTER(bytes_received)
    COUNTER(requests) COUNTER(request_bytes) COUNTER(response_bytes) COUNTER(retries) COUNTER(errors)
    COUNTER(reconnects) COUNTER(in_flight_requests) COUNTER(queued_bytes) COUNTER(partitions_total)
#undef COUNTER
    for (size_t i = 0; rc == 0 && i < s->error_code_count; i++)
        rc = put(errors, kk_err_name(s->errors_by_code[i].code), PyLong_FromUnsignedLongLong(s->errors_by_code[i].count));
    for (size_t i = 0; rc == 0 && i < s->broker_count; i++) {
        const kk_broker_stats_t *b = &s->brokers[i];
        rc = put(brokers, b->name, Py_BuildValue("{sKsdsd}", "requests", (unsigned long long)b->requests, "rtt_p50_ms",
                                                 b->rtt_p50_us / 1000.0, "rtt_p99_ms", b->rtt_p99_us / 1000.0));
    }
    for (size_t i = 0; rc == 0 && i < s->partition_count; i++) {
        const kk_partition_stats_t *p = &s->partitions[i];
        PyObject *row = Py_BuildValue("{sssisNsNsN}", "topic", p->topic, "partition", (int)p->partition, "position",
                                      offset_or_none(p->position), "high_watermark", offset_or_none(p->high_watermark),
                                      "lag", offset_or_none(p->lag));
        rc = row ? PyList_Append(parts, row) : -1;
        Py_XDECREF(row);
    }
    if (rc == 0 && (put(d, "errors_by_code", Py_NewRef(errors)) < 0 || put(d, "brokers", Py_NewRef(brokers)) < 0 ||
                    put(d, "partitions", Py_NewRef(parts)) < 0))
        rc = -1;
    Py_XDECREF(errors);
    Py_XDECREF(brokers);
    Py_XDECREF(parts);
    if (rc < 0)
        Py_CLEAR(d);
    return d;
}

PyObject *kkpy_stats(kkpy_head *h, kkpy_stats_fn fill) {
    kk_stats_t *s = PyMem_Malloc(sizeof(*s));
    if (!s)
        return PyErr_NoMemory();
    PyObject *d = NULL;
    if (kkpy_enter(h, "stats") == 0) {
        fill(h, s); /* reads counters and positions: never waits */
        d = stats_dict(s);
        kkpy_leave(h, KK_OK, NULL);
    }
    PyMem_Free(s);
    return d;
}
