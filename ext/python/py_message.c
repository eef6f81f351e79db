/*
 * MessageToSend (built by the user, read and filled by send_messages) and FetchedMessage
 * (built in bulk by fetch, immutable).
 */
#include "kkpy.h"

#include <string.h>

/* A payload as send_messages will read it: str is UTF-8 encoded now; bytes, bytearray and
 * memoryview are kept as they are (read when sent). */
static PyObject *convert_payload(PyObject *obj, const char *name) {
    if (obj == Py_None || PyBytes_Check(obj) || PyByteArray_Check(obj))
        return Py_NewRef(obj);
    if (PyUnicode_Check(obj))
        return PyUnicode_AsUTF8String(obj);
    if (PyMemoryView_Check(obj)) {
        Py_buffer view;
        if (PyObject_GetBuffer(obj, &view, PyBUF_SIMPLE) < 0) {
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError, "MessageToSend: %s must be a C-contiguous memoryview", name);
            return NULL;
        }
        PyBuffer_Release(&view);
        return Py_NewRef(obj);
    }
    PyErr_Format(PyExc_TypeError, "MessageToSend: %s must be str, bytes, bytearray, memoryview or None, not %.100s",
                 name, Py_TYPE(obj)->tp_name);
    return NULL;
}

/* One header value: str (encoded), bytes-like (copied to bytes) or None. */
static PyObject *convert_header_value(PyObject *obj) {
    if (obj == Py_None || PyBytes_CheckExact(obj))
        return Py_NewRef(obj);
    if (PyUnicode_Check(obj))
        return PyUnicode_AsUTF8String(obj);
    if (PyObject_CheckBuffer(obj))
        return PyBytes_FromObject(obj);
    PyErr_Format(PyExc_TypeError, "MessageToSend: header values must be str, bytes-like or None, not %.100s",
                 Py_TYPE(obj)->tp_name);
    return NULL;
}

/* headers: None, a dict, or an iterable of (key, value) pairs -> tuple of (str, bytes | None). */
PyObject *kkpy_convert_headers(PyObject *obj, PyObject *empty) {
    if (obj == Py_None)
        return Py_NewRef(empty);
    PyObject *pairs;
    if (PyDict_Check(obj)) {
        pairs = PyDict_Items(obj);
    } else if (PyUnicode_Check(obj) || PyBytes_Check(obj) || PyByteArray_Check(obj)) {
        PyErr_SetString(PyExc_TypeError, "MessageToSend: headers must be a dict or a list of (key, value) pairs");
        return NULL;
    } else {
        pairs = PySequence_List(obj);
        if (!pairs && PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "MessageToSend: headers must be a dict or a list of (key, value) pairs, "
                         "not %.100s", Py_TYPE(obj)->tp_name);
        }
    }
    if (!pairs)
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(pairs);
    if (n == 0) {
        Py_DECREF(pairs);
        return Py_NewRef(empty);
    }
    PyObject *out = PyTuple_New(n);
    for (Py_ssize_t i = 0; out && i < n; i++) {
        PyObject *pair = PyList_GET_ITEM(pairs, i);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
            if (!(PyList_Check(pair) && PyList_GET_SIZE(pair) == 2)) {
                PyErr_Format(PyExc_TypeError, "MessageToSend: each header must be a (key, value) pair, not %.100s",
                             Py_TYPE(pair)->tp_name);
                Py_CLEAR(out);
                break;
            }
        }
        PyObject *key = PySequence_Fast_GET_ITEM(pair, 0), *value = PySequence_Fast_GET_ITEM(pair, 1);
        if (!PyUnicode_Check(key)) {
            PyErr_Format(PyExc_TypeError, "MessageToSend: header keys must be str, not %.100s", Py_TYPE(key)->tp_name);
            Py_CLEAR(out);
            break;
        }
        if (!PyUnicode_AsUTF8AndSize(key, NULL)) {
            Py_CLEAR(out);
            break;
        }
        PyObject *v = convert_header_value(value);
        PyObject *item = v ? PyTuple_Pack(2, key, v) : NULL;
        Py_XDECREF(v);
        if (!item) {
            Py_CLEAR(out);
            break;
        }
        PyTuple_SET_ITEM(out, i, item);
    }
    Py_DECREF(pairs);
    return out;
}

static PyObject *message_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"topic", "value", "key", "partition", "headers", "timestamp", NULL};
    PyObject *topic, *value, *key = Py_None, *partition = Py_None, *headers = Py_None, *timestamp = Py_None;
    Py_ssize_t nargs = PyTuple_GET_SIZE(args);
    if (!kwargs && (nargs == 2 || nargs == 3)) {
        /* MessageToSend(topic, value[, key]), the common form, built once per message: skip the
         * general parser (a third of the constructor's cost) */
        topic = PyTuple_GET_ITEM(args, 0);
        value = PyTuple_GET_ITEM(args, 1);
        if (nargs == 3)
            key = PyTuple_GET_ITEM(args, 2);
    } else if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|O$OOO:MessageToSend", kwlist, &topic, &value, &key,
                                            &partition, &headers, &timestamp))
        return NULL;
    kkpy_state *st = kkpy_state_of_type(type);
    if (!st)
        return NULL;
    if (topic == Py_None) {
        PyErr_SetString(PyExc_TypeError, "MessageToSend: topic must be a str, not None");
        return NULL;
    }
    if (!kkpy_str_arg(topic, "MessageToSend", "topic", false))
        return NULL;
    long long part = -1, ts = 0;
    if (partition != Py_None && kkpy_int_arg(partition, "MessageToSend", "partition", 0, INT32_MAX, &part) < 0)
        return NULL;
    if (timestamp != Py_None && kkpy_int_arg(timestamp, "MessageToSend", "timestamp", 0, INT64_MAX, &ts) < 0)
        return NULL;
    kkpy_message *self = (kkpy_message *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    self->partition = (int32_t)part;
    self->result_partition = -1;
    self->offset = -1;
    self->timestamp = ts;
    self->topic = Py_NewRef(topic);
    self->value = convert_payload(value, "value");
    self->key = self->value ? convert_payload(key, "key") : NULL;
    self->headers = self->key ? kkpy_convert_headers(headers, st->empty_tuple) : NULL;
    if (!self->headers) {
        Py_DECREF(self);
        return NULL;
    }
    /* Only a memoryview can lead back to arbitrary objects: otherwise no cycle is possible. */
    if (!PyMemoryView_Check(self->value) && !PyMemoryView_Check(self->key))
        PyObject_GC_UnTrack(self);
    return (PyObject *)self;
}

static int message_traverse(kkpy_message *self, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->topic);
    Py_VISIT(self->value);
    Py_VISIT(self->key);
    Py_VISIT(self->headers);
    return 0;
}

static int message_clear(kkpy_message *self) {
    Py_CLEAR(self->topic);
    Py_CLEAR(self->value);
    Py_CLEAR(self->key);
    Py_CLEAR(self->headers);
    return 0;
}

static void message_dealloc(kkpy_message *self) {
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    message_clear(self);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

static PyObject *or_none(PyObject *o) { return Py_NewRef(o ? o : Py_None); }

static PyObject *message_get_topic(kkpy_message *self, void *closure) {
    (void)closure;
    return or_none(self->topic);
}
static PyObject *message_get_value(kkpy_message *self, void *closure) {
    (void)closure;
    return or_none(self->value);
}
static PyObject *message_get_key(kkpy_message *self, void *closure) {
    (void)closure;
    return or_none(self->key);
}
static PyObject *message_get_headers(kkpy_message *self, void *closure) {
    (void)closure;
    return self->headers ? Py_NewRef(self->headers) : PyTuple_New(0);
}
static PyObject *message_get_partition(kkpy_message *self, void *closure) {
    (void)closure;
    int32_t p = self->result_partition >= 0 ? self->result_partition : self->partition;
    return p >= 0 ? PyLong_FromLong(p) : Py_NewRef(Py_None);
}
static PyObject *message_get_offset(kkpy_message *self, void *closure) {
    (void)closure;
    return self->offset >= 0 ? PyLong_FromLongLong(self->offset) : Py_NewRef(Py_None);
}
static PyObject *message_get_timestamp(kkpy_message *self, void *closure) {
    (void)closure;
    return self->timestamp > 0 ? PyLong_FromLongLong(self->timestamp) : Py_NewRef(Py_None);
}

/* repr of a payload, cut after 40 bytes */
static PyObject *short_repr(PyObject *v) {
    if (v && PyBytes_Check(v) && PyBytes_GET_SIZE(v) > 40) {
        PyObject *head = PyBytes_FromStringAndSize(PyBytes_AS_STRING(v), 32);
        PyObject *r = head ? PyUnicode_FromFormat("%R...(%zd bytes)", head, PyBytes_GET_SIZE(v)) : NULL;
        Py_XDECREF(head);
        return r;
    }
    return PyObject_Repr(v ? v : Py_None);
}

static PyObject *message_repr(kkpy_message *self) {
    PyObject *value = short_repr(self->value), *key = value ? short_repr(self->key) : NULL;
    PyObject *partition = key ? message_get_partition(self, NULL) : NULL;
    PyObject *offset = partition ? message_get_offset(self, NULL) : NULL;
    PyObject *r = NULL;
    if (offset) {
        if (self->headers && PyTuple_GET_SIZE(self->headers))
            r = PyUnicode_FromFormat("MessageToSend(topic=%R, value=%U, key=%U, partition=%R, offset=%R, headers=%R)",
                                     self->topic ? self->topic : Py_None, value, key, partition, offset, self->headers);
        else
            r = PyUnicode_FromFormat("MessageToSend(topic=%R, value=%U, key=%U, partition=%R, offset=%R)",
                                     self->topic ? self->topic : Py_None, value, key, partition, offset);
    }
    Py_XDECREF(value);
    Py_XDECREF(key);
    Py_XDECREF(partition);
    Py_XDECREF(offset);
    return r;
}

static PyGetSetDef message_getset[] = {
    {"topic", (getter)message_get_topic, NULL, "The topic (str).", NULL},
    {"value", (getter)message_get_value, NULL,
     "The value: bytes (a str is stored UTF-8 encoded), the bytearray or memoryview given, or None.", NULL},
    {"key", (getter)message_get_key, NULL, "The key, like value; None when there is none.", NULL},
    {"headers", (getter)message_get_headers, NULL, "The headers as a tuple of (str, bytes | None) pairs.", NULL},
    {"partition", (getter)message_get_partition, NULL,
     "The partition the last send_messages put the message in (or the one requested); None before.", NULL},
    {"offset", (getter)message_get_offset, NULL,
     "The offset the broker gave the message in the last send_messages; None before, after a failure, "
     "or with required_acks=0.",
     NULL},
    {"timestamp", (getter)message_get_timestamp, NULL,
     "The timestamp requested (ms since the epoch), or None for the send time.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot message_slots[] = {
    {Py_tp_new, message_new},
    {Py_tp_dealloc, message_dealloc},
    {Py_tp_traverse, message_traverse},
    {Py_tp_clear, message_clear},
    {Py_tp_repr, message_repr},
    {Py_tp_getset, message_getset},
    {Py_tp_doc,
     "MessageToSend(topic, value, key=None, *, partition=None, headers=None, timestamp=None)\n--\n\n"
     "A message for Producer.send_messages. str values, keys and header values are UTF-8 encoded; bytes, "
     "bytearray and memoryview are taken as they are (read when sent); None is a null value or no key; "
     "anything else raises TypeError. partition pins the message to a partition (else the key decides, or "
     "round-robin without a key). headers is a dict or a list of (str, value) pairs. timestamp is in ms "
     "since the epoch (default: the send time). After a send, partition and offset say where it went."},
    {0, NULL},
};

PyType_Spec kkpy_message_spec = {
    .name = "kafkette.MessageToSend",
    .basicsize = sizeof(kkpy_message),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = message_slots,
};

/* ---- FetchedMessage ----------------------------------------------------------------------- */

static PyObject *bytes_or_none(const void *p, size_t len) {
    return p ? PyBytes_FromStringAndSize(p, (Py_ssize_t)len) : Py_NewRef(Py_None);
}

PyObject *kkpy_fetched_new(kkpy_state *st, PyObject *topic, PyObject *partition, const kk_fetched_message_t *m) {
    PyTypeObject *type = st->fetched_type;
    kkpy_fetched *self = (kkpy_fetched *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    self->topic = Py_NewRef(topic);
    self->partition = Py_NewRef(partition);
    self->offset = m->offset;
    self->timestamp = m->timestamp;
    self->timestamp_type = m->timestamp_type;
    self->key = bytes_or_none(m->key, m->key_len);
    self->value = self->key ? bytes_or_none(m->value, m->value_len) : NULL;
    if (!self->value) {
        Py_DECREF(self);
        return NULL;
    }
    if (m->header_count == 0) {
        self->headers = Py_NewRef(st->empty_tuple);
        return (PyObject *)self;
    }
    self->headers = PyTuple_New((Py_ssize_t)m->header_count);
    for (size_t i = 0; self->headers && i < m->header_count; i++) {
        const kk_fetched_header_t *h = &m->headers[i];
        PyObject *k = PyUnicode_DecodeUTF8(h->key ? h->key : "", (Py_ssize_t)h->key_len, "surrogateescape");
        PyObject *v = k ? bytes_or_none(h->value, h->value_len) : NULL;
        PyObject *pair = v ? PyTuple_Pack(2, k, v) : NULL;
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (!pair) {
            Py_DECREF(self);
            return NULL;
        }
        PyTuple_SET_ITEM(self->headers, (Py_ssize_t)i, pair);
    }
    if (!self->headers) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static void fetched_dealloc(kkpy_fetched *self) {
    PyTypeObject *type = Py_TYPE(self);
    Py_XDECREF(self->topic);
    Py_XDECREF(self->partition);
    Py_XDECREF(self->key);
    Py_XDECREF(self->value);
    Py_XDECREF(self->headers);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

static PyObject *fetched_get_timestamp(kkpy_fetched *self, void *closure) {
    (void)closure;
    return self->timestamp >= 0 ? PyLong_FromLongLong(self->timestamp) : Py_NewRef(Py_None);
}

static PyObject *fetched_repr(kkpy_fetched *self) {
    PyObject *value = short_repr(self->value), *key = value ? short_repr(self->key) : NULL;
    PyObject *ts = key ? fetched_get_timestamp(self, NULL) : NULL;
    PyObject *r = NULL;
    if (ts) {
        if (PyTuple_GET_SIZE(self->headers))
            r = PyUnicode_FromFormat("FetchedMessage(topic=%R, partition=%R, offset=%lld, key=%U, value=%U, "
                                     "timestamp=%R, headers=%R)",
                                     self->topic, self->partition, (long long)self->offset, key, value, ts,
                                     self->headers);
        else
            r = PyUnicode_FromFormat("FetchedMessage(topic=%R, partition=%R, offset=%lld, key=%U, value=%U, "
                                     "timestamp=%R)",
                                     self->topic, self->partition, (long long)self->offset, key, value, ts);
    }
    Py_XDECREF(value);
    Py_XDECREF(key);
    Py_XDECREF(ts);
    return r;
}

static PyMemberDef fetched_members[] = {
    {"topic", T_OBJECT, offsetof(kkpy_fetched, topic), READONLY, "The topic (str)."},
    {"partition", T_OBJECT, offsetof(kkpy_fetched, partition), READONLY, "The partition (int)."},
    {"offset", T_LONGLONG, offsetof(kkpy_fetched, offset), READONLY, "The record's offset (int)."},
    {"key", T_OBJECT, offsetof(kkpy_fetched, key), READONLY, "The key (bytes), or None."},
    {"value", T_OBJECT, offsetof(kkpy_fetched, value), READONLY, "The value (bytes), or None for a null value."},
    {"headers", T_OBJECT, offsetof(kkpy_fetched, headers), READONLY,
     "The headers as a tuple of (str, bytes | None) pairs, in record order."},
    {"timestamp_type", T_INT, offsetof(kkpy_fetched, timestamp_type), READONLY,
     "0 for create time, 1 for log-append time, -1 when the record has no timestamp."},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef fetched_getset[] = {
    {"timestamp", (getter)fetched_get_timestamp, NULL, "The timestamp in ms since the epoch, or None.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot fetched_slots[] = {
    {Py_tp_dealloc, fetched_dealloc},
    {Py_tp_repr, fetched_repr},
    {Py_tp_members, fetched_members},
    {Py_tp_getset, fetched_getset},
    {Py_tp_doc, "A record read by PartitionConsumer.fetch: topic, partition, offset, key, value, timestamp, "
                "timestamp_type and headers. Immutable; not created by user code."},
    {0, NULL},
};

PyType_Spec kkpy_fetched_spec = {
    .name = "kafkette.FetchedMessage",
    .basicsize = sizeof(kkpy_fetched),
#if PY_VERSION_HEX >= 0x030A0000
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_IMMUTABLETYPE,
#else
    .flags = Py_TPFLAGS_DEFAULT,
#endif
    .slots = fetched_slots,
};
