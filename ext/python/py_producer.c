/*
 * kafkette.Producer: Poseidon's option names over kk_producer_*; send_messages releases the
 * GIL for the whole send and reports per message.
 */
#include "kkpy.h"

#include <string.h>

typedef struct {
    PyObject_HEAD
    kk_producer_t *producer; /* NULL once closed */
    PyThread_type_lock lock; /* serialises core calls; taken with the GIL released */
    unsigned long owner;     /* thread holding lock, 0 = none */
    kkpy_call call;
    PyObject *partitioner;   /* a callable, or NULL */
    PyObject *client_id;     /* str */
    PyObject *brokers;       /* str, "host:port,..." */
} kkpy_producer;

#define OWNER "Producer"

/* Options and what they set; unknown names raise TypeError. */
static int apply_option(kkpy_producer *self, kk_producer_config_t *cfg, const char *name, PyObject *value,
                        PyObject **keep) {
    if (strcmp(name, "type") == 0) {
        const char *type = kkpy_str_arg(value, OWNER, "type", false);
        if (!type)
            return -1;
        if (strcmp(type, "sync") == 0)
            return 0;
        if (strcmp(type, "async") == 0) {
            PyErr_SetString(PyExc_NotImplementedError,
                            "Producer(type='async') is not available yet: the kafkette core has only the "
                            "synchronous producer; use type='sync' (the default)");
            return -1;
        }
        PyErr_Format(PyExc_ValueError, "Producer: type must be 'sync' or 'async', got %R", value);
        return -1;
    }
    if (strcmp(name, "compression_codec") == 0) {
        if (value == Py_None) {
            cfg->compression = KK_CODEC_NONE;
            return 0;
        }
        const char *codec = kkpy_str_arg(value, OWNER, "compression_codec", false);
        if (!codec)
            return -1;
        if (kk_codec_from_name(codec, &cfg->compression) != KK_OK) {
            PyErr_Format(PyExc_ValueError,
                         "Producer: compression_codec must be 'none', 'gzip', 'snappy', 'lz4' or 'zstd', got %R", value);
            return -1;
        }
        return 0;
    }
    if (strcmp(name, "compressed_topics") == 0) {
        if (value == Py_None)
            return 0;
        if (PyUnicode_Check(value) || !(PyList_Check(value) || PyTuple_Check(value) || PyAnySet_Check(value))) {
            PyErr_Format(PyExc_TypeError, "Producer: compressed_topics must be a list of str, not %.100s",
                         Py_TYPE(value)->tp_name);
            return -1;
        }
        PyObject *topics = PySequence_Tuple(value);
        if (!topics)
            return -1;
        *keep = topics;
        Py_ssize_t n = PyTuple_GET_SIZE(topics);
        const char **names = PyMem_Calloc((size_t)n + 1, sizeof(*names));
        if (!names) {
            PyErr_NoMemory();
            return -1;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            names[i] = kkpy_str_arg(PyTuple_GET_ITEM(topics, i), OWNER, "each compressed topic", false);
            if (!names[i]) {
                PyMem_Free(names);
                return -1;
            }
        }
        cfg->compressed_topics = names;
        cfg->compressed_topic_count = (size_t)n;
        return 0;
    }
    if (strcmp(name, "partitioner") == 0) {
        if (value == Py_None)
            return 0;
        if (PyUnicode_Check(value)) {
            const char *kind = PyUnicode_AsUTF8(value);
            if (!kind)
                return -1;
            if (strcmp(kind, "murmur2") == 0) {
                cfg->partitioner = KK_PARTITIONER_MURMUR2;
                return 0;
            }
            if (strcmp(kind, "crc32") == 0) {
                cfg->partitioner = KK_PARTITIONER_CRC32;
                return 0;
            }
            PyErr_Format(PyExc_ValueError, "Producer: partitioner must be 'murmur2', 'crc32' or a callable, got %R",
                         value);
            return -1;
        }
        if (!PyCallable_Check(value)) {
            PyErr_Format(PyExc_TypeError,
                         "Producer: partitioner must be a callable (key, partition_count) -> int, 'murmur2' or "
                         "'crc32', not %.100s", Py_TYPE(value)->tp_name);
            return -1;
        }
        Py_XSETREF(self->partitioner, Py_NewRef(value));
        cfg->partitioner = KK_PARTITIONER_CALLBACK;
        cfg->partitioner_cb = kkpy_partitioner_cb();
        cfg->partitioner_opaque = &self->call;
        return 0;
    }
#define INT_OPTION(opt, lo, hi, field) KKPY_INT_OPTION(OWNER, opt, lo, hi, field)
    INT_OPTION("metadata_refresh_interval_ms", 0, INT32_MAX, cfg->metadata_refresh_interval_ms)
    INT_OPTION("max_send_retries", 0, INT32_MAX, cfg->max_send_retries)
    INT_OPTION("retry_backoff_ms", 0, INT32_MAX, cfg->retry_backoff_ms)
    INT_OPTION("required_acks", -1, 1, cfg->required_acks)
    INT_OPTION("ack_timeout_ms", 0, INT32_MAX, cfg->ack_timeout_ms)
    INT_OPTION("socket_timeout_ms", 1, INT32_MAX, cfg->client.request_timeout_ms)
    INT_OPTION("connect_timeout_ms", 1, INT32_MAX, cfg->client.connect_timeout_ms)
    INT_OPTION("max_request_bytes", 1024, INT32_MAX, cfg->max_request_bytes)
    INT_OPTION("topic_wait_ms", 0, INT32_MAX, cfg->topic_wait_ms)
#undef INT_OPTION
    PyErr_Format(PyExc_TypeError, "Producer() got an unexpected option '%s'", name);
    return -1;
}

static PyObject *producer_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    static const char *const names[] = {"brokers", "client_id"};
    PyObject *params[2], *options;
    kkpy_state *st = kkpy_state_of_type(type);
    if (!st || kkpy_split_args(OWNER, args, kwargs, names, 2, params, &options) < 0)
        return NULL;
    kkpy_producer *self = NULL;
    char *bootstrap = NULL;
    PyObject *keep = NULL;
    kk_producer_config_t cfg;
    kk_producer_config_init(&cfg);

    const char *client_id = kkpy_str_arg(params[1], OWNER, "client_id", false);
    if (!client_id)
        goto done;
    bootstrap = kkpy_brokers_string(params[0], OWNER);
    if (!bootstrap)
        goto done;
    self = (kkpy_producer *)type->tp_alloc(type, 0);
    if (!self)
        goto done;
    kkpy_call_init(&self->call, st);
    self->lock = PyThread_allocate_lock();
    self->client_id = Py_NewRef(params[1]);
    self->brokers = PyUnicode_FromString(bootstrap);
    if (!self->lock || !self->brokers) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        Py_CLEAR(self);
        goto done;
    }
    cfg.client.bootstrap_servers = bootstrap;
    cfg.client.client_id = client_id;
    kkpy_call_attach(&self->call, &cfg.client);
    PyObject *name, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(options, &pos, &name, &value)) {
        const char *opt = PyUnicode_AsUTF8(name);
        if (!opt || apply_option(self, &cfg, opt, value, &keep) < 0) {
            Py_CLEAR(self);
            goto done;
        }
    }
    kk_error_t err;
    self->producer = kk_producer_new(&cfg, &err);
    if (!self->producer) {
        kkpy_raise(st, &err);
        Py_CLEAR(self);
    }
done:
    PyMem_Free((void *)cfg.compressed_topics);
    Py_XDECREF(keep);
    PyMem_Free(bootstrap);
    Py_XDECREF(params[0]);
    Py_XDECREF(params[1]);
    Py_DECREF(options);
    return (PyObject *)self;
}

static int producer_traverse(kkpy_producer *self, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->partitioner);
    return 0;
}

static int producer_clear(kkpy_producer *self) {
    Py_CLEAR(self->partitioner);
    return 0;
}

static void producer_dealloc(kkpy_producer *self) {
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    kk_producer_free(self->producer); /* closes sockets; never blocks */
    self->producer = NULL;
    if (self->lock)
        PyThread_free_lock(self->lock);
    kkpy_call_clear(&self->call);
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

static void raise_failed(kkpy_state *st, PyObject *items, const kk_message_t *km, const kk_error_t *err) {
    Py_ssize_t n = PyTuple_GET_SIZE(items);
    PyObject *failures = PyList_New(0);
    PyObject *first = NULL;
    for (Py_ssize_t i = 0; failures && i < n; i++) {
        if (km[i].error == KK_OK)
            continue;
        PyObject *f = build_failure(st, i, (kkpy_message *)PyTuple_GET_ITEM(items, i), km[i].error);
        if (!f || PyList_Append(failures, f) < 0) {
            Py_XDECREF(f);
            Py_CLEAR(failures);
            break;
        }
        if (!first)
            first = Py_NewRef(PyStructSequence_GetItem(f, 3));
        Py_DECREF(f);
    }
    if (!failures) {
        Py_XDECREF(first);
        return;
    }
    if (PyList_GET_SIZE(failures) == 0) { /* a failure of the call itself */
        Py_DECREF(failures);
        kkpy_raise(st, err);
        return;
    }
    PyObject *text = PyUnicode_DecodeUTF8(err->message, (Py_ssize_t)strlen(err->message), "replace");
    PyObject *exc = text ? PyObject_CallOneArg(st->FailedToSendMessages, text) : NULL;
    Py_XDECREF(text);
    PyObject *code = exc ? PyLong_FromLong(err->code) : NULL;
    if (code && PyObject_SetAttr(exc, st->str_code, code) == 0 &&
        PyObject_SetAttrString(exc, "failures", failures) == 0) {
        PyException_SetCause(exc, first); /* steals */
        first = NULL;
        PyErr_SetObject(st->FailedToSendMessages, exc);
    }
    Py_XDECREF(code);
    Py_XDECREF(exc);
    Py_XDECREF(first);
    Py_DECREF(failures);
}

static PyObject *producer_send_messages(kkpy_producer *self, PyObject *msgs) {
    kkpy_state *st = self->call.st;
    if (!self->producer) {
        PyErr_SetString(st->ProducerShutdownError, "send_messages: the producer is closed");
        return NULL;
    }
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
    if (n == 0) {
        Py_DECREF(items);
        Py_RETURN_TRUE;
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

    if (kkpy_lock(self->lock, &self->owner) < 0)
        goto done;
    if (!self->producer) {
        kkpy_unlock(self->lock, &self->owner);
        PyErr_SetString(st->ProducerShutdownError, "send_messages: the producer was closed");
        goto done;
    }
    kk_error_t err;
    int rc;
    kkpy_call_begin(&self->call);
    self->call.partitioner = self->partitioner;
    Py_BEGIN_ALLOW_THREADS
    rc = kk_producer_send(self->producer, km, (size_t)n, &err);
    Py_END_ALLOW_THREADS
    kkpy_log_line *lines = NULL;
    PyObject *exc = kkpy_call_end(&self->call, &lines);
    self->call.partitioner = NULL;
    kkpy_unlock(self->lock, &self->owner);

    for (Py_ssize_t i = 0; i < n; i++) {
        kkpy_message *m = (kkpy_message *)PyTuple_GET_ITEM(items, i);
        m->result_partition = km[i].result_partition;
        m->offset = km[i].error == KK_OK ? km[i].offset : -1;
    }
    kkpy_log_emit(st, lines);
    if (exc)
        kkpy_exc_restore(exc); /* Ctrl-C during the send, or the partitioner raised */
    else if (rc != KK_OK)
        raise_failed(st, items, km, &err);
    else
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

static PyObject *producer_close(kkpy_producer *self, PyObject *unused) {
    (void)unused;
    if (!self->producer)
        Py_RETURN_NONE;
    /* Waits for a send in another thread to finish: close never abandons messages in flight. */
    if (kkpy_lock(self->lock, &self->owner) < 0)
        return NULL;
    kk_producer_t *p = self->producer;
    self->producer = NULL;
    kkpy_unlock(self->lock, &self->owner);
    kk_producer_free(p);
    Py_RETURN_NONE;
}

static PyObject *producer_enter(kkpy_producer *self, PyObject *unused) {
    (void)unused;
    if (!self->producer) {
        PyErr_SetString(self->call.st->ProducerShutdownError, "the producer is closed");
        return NULL;
    }
    return Py_NewRef(self);
}

static PyObject *producer_get_closed(kkpy_producer *self, void *closure) {
    (void)closure;
    return PyBool_FromLong(self->producer == NULL);
}

static PyObject *producer_repr(kkpy_producer *self) {
    return PyUnicode_FromFormat("<kafkette.Producer client_id=%R brokers=%R%s>", self->client_id, self->brokers,
                                self->producer ? "" : " closed");
}

static PyMethodDef producer_methods[] = {
    {"send_messages", (PyCFunction)producer_send_messages, METH_O,
     "send_messages($self, msgs, /)\n--\n\n"
     "Send a list of MessageToSend synchronously (one Produce request per broker, retried as configured) "
     "with the GIL released. Returns True when every message was delivered; then each message's partition "
     "and offset are set. Raises FailedToSendMessages listing the undelivered ones (the others keep their "
     "offsets), ProducerShutdownError after close(), or KeyboardInterrupt on Ctrl-C."},
    {"close", (PyCFunction)producer_close, METH_NOARGS,
     "close($self, /)\n--\n\nClose the connections. Waits for a send running in another thread. Idempotent."},
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
    {"closed", (getter)producer_get_closed, NULL, "True after close().", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot producer_slots[] = {
    {Py_tp_new, producer_new},
    {Py_tp_dealloc, producer_dealloc},
    {Py_tp_traverse, producer_traverse},
    {Py_tp_clear, producer_clear},
    {Py_tp_repr, producer_repr},
    {Py_tp_methods, producer_methods},
    {Py_tp_members, producer_members},
    {Py_tp_getset, producer_getset},
    {Py_tp_doc,
     "Producer(brokers, client_id, **options)\n--\n\n"
     "A synchronous Kafka producer. brokers is a list of \"host:port\" seeds (or one comma-separated str). "
     "Options (Poseidon's names): type ('sync'; 'async' raises NotImplementedError), compression_codec "
     "('none', 'gzip', 'snappy', 'lz4', 'zstd'), compressed_topics (list of str; default all), "
     "metadata_refresh_interval_ms, partitioner ('murmur2' (default), 'crc32' or a callable "
     "(key: bytes, partition_count: int) -> int), max_send_retries, retry_backoff_ms, required_acks "
     "(-1 all, 0, 1), ack_timeout_ms, socket_timeout_ms; also connect_timeout_ms, max_request_bytes and "
     "topic_wait_ms. An unknown option raises TypeError.\n\n"
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
