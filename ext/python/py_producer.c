/*
 * kafkette.Producer: Poseidon's option names over kk_producer_*; send_messages releases the
 * GIL for the whole send and reports per message.
 */
#include "kkpy.h"

#include <string.h>

typedef struct {
    kkpy_head h;
    kk_producer_t *producer; /* NULL once closed */
    PyObject *partitioner;   /* a callable, or NULL */
    PyObject *client_id;     /* str */
    PyObject *brokers;       /* str, "host:port,..." */
} kkpy_producer;

static int take_callback(void *p, const char *name, PyObject *value) {
    kkpy_producer *self = p;
    if (strcmp(name, "partitioner") != 0)
        return 1;
    Py_XSETREF(self->partitioner, Py_NewRef(value));
    return 0;
}

static int producer_shutdown(kkpy_head *h, kk_error_t *err) {
    (void)err;
    kkpy_producer *self = (kkpy_producer *)h;
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
    return kkpy_call_traverse(&self->h.call, visit, arg);
}

static int producer_clear(kkpy_producer *self) {
    Py_CLEAR(self->partitioner);
    Py_CLEAR(self->h.call.oauth_provider);
    return 0;
}

static void producer_dealloc(kkpy_producer *self) {
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    producer_shutdown(&self->h, NULL);
    kkpy_head_free(&self->h);
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
    /* The class of the core's result, as in every binding: FailedToSendMessages when some were
     * delivered, the error's own class when none was; either way with the failures listed. */
    PyObject *exc = kkpy_error_new(st, err->code, err->message);
    if (exc && PyObject_SetAttrString(exc, "failures", failures) == 0) {
        PyException_SetCause(exc, first); /* steals */
        first = NULL;
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    }
    Py_XDECREF(exc);
    Py_XDECREF(first);
    Py_DECREF(failures);
}

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

static PyObject *producer_close(kkpy_producer *self, PyObject *unused) {
    (void)unused;
    return kkpy_close(&self->h);
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
     "ProducerShutdownError after close(), KeyboardInterrupt on Ctrl-C."},
    {"stats", (PyCFunction)producer_stats, METH_NOARGS, KKPY_STATS_DOC},
    {"close", (PyCFunction)producer_close, METH_NOARGS,
     "close($self, /)\n--\n\nClose the connections. A send waiting in another thread is interrupted and raises "
     "ProducerShutdownError (its messages may or may not have been written). Idempotent."},
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
    {Py_tp_members, producer_members},
    {Py_tp_getset, producer_getset},
    {Py_tp_doc,
     "Producer(brokers, client_id, **options)\n--\n\n"
     "A synchronous Kafka producer. brokers is a list of \"host:port\" seeds (or one comma-separated str). "
     "Options are the Producer's in docs/CONFIGURATION.md (Poseidon's names: type, compression_codec, "
     "compressed_topics, partitioner ('murmur2', 'crc32' or a callable (key: bytes, partition_count: int) -> "
     "int), required_acks, ack_timeout_ms, socket_timeout_ms, ...). A bad or unknown option raises "
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
