/*
 * kafkette._kafkette: module state, the exception hierarchy, the bridge for the core's
 * callbacks (interrupt check, partitioner, log lines) and the topic admin functions.
 */
#include "kkpy.h"

#include <stdlib.h>
#include <string.h>

static struct PyModuleDef kkpy_module_def;

kkpy_state *kkpy_state_of_module(PyObject *module) { return (kkpy_state *)PyModule_GetState(module); }

kkpy_state *kkpy_state_of_type(PyTypeObject *type) {
#if PY_VERSION_HEX >= 0x030B0000
    PyObject *module = PyType_GetModuleByDef(type, &kkpy_module_def);
    return module ? kkpy_state_of_module(module) : NULL;
#else
    PyObject *mro = type->tp_mro;
    for (Py_ssize_t i = 0; mro && i < PyTuple_GET_SIZE(mro); i++) {
        PyTypeObject *t = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
        if (!PyType_HasFeature(t, Py_TPFLAGS_HEAPTYPE))
            continue;
        PyObject *module = ((PyHeapTypeObject *)t)->ht_module;
        if (module && PyModule_GetDef(module) == &kkpy_module_def)
            return kkpy_state_of_module(module);
    }
    PyErr_Format(PyExc_TypeError, "%s is not a kafkette type", type->tp_name);
    return NULL;
#endif
}

/* ---- exceptions kept across a GIL release --------------------------------------------- */

PyObject *kkpy_exc_take(void) {
#if PY_VERSION_HEX >= 0x030C0000
    return PyErr_GetRaisedException();
#else
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (!type)
        return NULL;
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb && value)
        PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
#endif
}

void kkpy_exc_restore(PyObject *exc) {
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(exc);
#else
    PyObject *type = (PyObject *)Py_TYPE(exc);
    Py_INCREF(type);
    PyErr_Restore(type, exc, PyException_GetTraceback(exc));
#endif
}

/* ---- the core's callbacks --------------------------------------------------------------- */

/* Called by the core about every 100 ms while it waits, with the GIL released. */
static bool cb_interrupt(void *opaque) {
    kkpy_call *call = opaque;
    if (call->abort)
        return true;
    if (!call->check_signals)
        return false;
    PyGILState_STATE gil = PyGILState_Ensure();
    bool stop = false;
    if (PyErr_CheckSignals() < 0) {
        PyObject *exc = kkpy_exc_take();
        if (!call->exc)
            call->exc = exc;
        else
            Py_XDECREF(exc);
        call->abort = stop = true;
    }
    PyGILState_Release(gil);
    return stop;
}

/* The user's partitioner(key, partition_count); any failure fails the message, and the first
 * exception is raised once the send returns. */
static int32_t cb_partitioner(void *opaque, const void *key, size_t key_len, int32_t count) {
    kkpy_call *call = opaque;
    if (call->abort || !call->partitioner)
        return -1;
    PyGILState_STATE gil = PyGILState_Ensure();
    int32_t partition = -1;
    PyObject *args[2] = {PyBytes_FromStringAndSize(key, (Py_ssize_t)key_len), PyLong_FromLong(count)};
    if (args[0] && args[1]) {
        PyObject *result = PyObject_Vectorcall(call->partitioner, args, 2, NULL);
        if (result && !PyLong_Check(result)) {
            PyErr_Format(PyExc_TypeError, "the partitioner must return an int, not %.100s",
                         Py_TYPE(result)->tp_name);
        } else if (result) {
            int overflow = 0;
            long long value = PyLong_AsLongLongAndOverflow(result, &overflow);
            if (!overflow && value >= 0 && value < count)
                partition = (int32_t)value;
        }
        Py_XDECREF(result);
    }
    Py_XDECREF(args[0]);
    Py_XDECREF(args[1]);
    if (PyErr_Occurred()) {
        /* KeyboardInterrupt and the like (not Exception) stop the whole send */
        if (!PyErr_ExceptionMatches(PyExc_Exception))
            call->abort = true;
        PyObject *exc = kkpy_exc_take();
        if (!call->exc)
            call->exc = exc;
        else
            Py_XDECREF(exc);
        partition = -1;
    }
    PyGILState_Release(gil);
    return partition;
}

#define KKPY_MAX_LOG_LINES 1000

static void append_line(kkpy_call *call, int level, const char *text) {
    size_t n = strlen(text);
    kkpy_log_line *line = malloc(sizeof(*line) + n + 1);
    if (!line) {
        call->log_dropped++;
        return;
    }
    line->next = NULL;
    line->level = level;
    memcpy(line->text, text, n + 1);
    if (call->log_tail)
        call->log_tail->next = line;
    else
        call->log_head = line;
    call->log_tail = line;
    call->log_count++;
}

/* Runs with the GIL released: only buffers the line. */
static void cb_log(void *opaque, kk_log_level_t level, const char *message) {
    kkpy_call *call = opaque;
    if (call->log_count >= KKPY_MAX_LOG_LINES) {
        call->log_dropped++;
        return;
    }
    int py_level = level <= KK_LOG_ERROR ? 40 : level == KK_LOG_WARNING ? 30 : level == KK_LOG_INFO ? 20 : 10;
    append_line(call, py_level, message);
}

static void free_lines(kkpy_log_line *line) {
    while (line) {
        kkpy_log_line *next = line->next;
        free(line);
        line = next;
    }
}

void kkpy_call_init(kkpy_call *call, kkpy_state *st) {
    memset(call, 0, sizeof(*call));
    call->st = st;
}

void kkpy_call_clear(kkpy_call *call) {
    free_lines(call->log_head);
    call->log_head = call->log_tail = NULL;
    call->log_count = call->log_dropped = 0;
    Py_CLEAR(call->exc);
}

void kkpy_call_attach(kkpy_call *call, kk_client_config_t *cfg) {
    cfg->log_cb = cb_log;
    cfg->log_opaque = call;
    cfg->interrupt_check = cb_interrupt;
    cfg->interrupt_opaque = call;
}

kk_partitioner_cb kkpy_partitioner_cb(void) { return cb_partitioner; }

void kkpy_call_begin(kkpy_call *call) {
    call->check_signals = PyThread_get_thread_ident() == call->st->main_thread;
}

PyObject *kkpy_call_end(kkpy_call *call, kkpy_log_line **lines) {
    if (call->log_dropped) {
        char note[96];
        snprintf(note, sizeof(note), "(%zu more log lines dropped)", call->log_dropped);
        append_line(call, 30, note);
    }
    *lines = call->log_head;
    call->log_head = call->log_tail = NULL;
    call->log_count = call->log_dropped = 0;
    PyObject *exc = call->exc;
    call->exc = NULL;
    call->abort = false;
    return exc;
}

void kkpy_log_emit(kkpy_state *st, kkpy_log_line *lines) {
    if (!lines)
        return;
    /* Emitting must not disturb an exception the caller is about to raise. */
    PyObject *pending = kkpy_exc_take();
    for (kkpy_log_line *line = lines; line; line = line->next) {
        PyObject *text = PyUnicode_DecodeUTF8(line->text, (Py_ssize_t)strlen(line->text), "replace");
        PyObject *result = text ? PyObject_CallMethod(st->logger, "log", "iO", line->level, text) : NULL;
        if (!result)
            PyErr_WriteUnraisable(st->logger);
        Py_XDECREF(result);
        Py_XDECREF(text);
    }
    free_lines(lines);
    if (pending)
        kkpy_exc_restore(pending);
}

/* ---- errors ------------------------------------------------------------------------------- */

PyObject *kkpy_error_class(kkpy_state *st, int code) {
    if (code > 0 || code == KK_ERR_UNKNOWN_SERVER_ERROR) {
        PyObject *key = PyLong_FromLong(code);
        PyObject *cls = key ? PyDict_GetItemWithError(st->broker_errors, key) : NULL;
        Py_XDECREF(key);
        if (cls)
            return cls;
        PyErr_Clear();
        return st->ProtocolError;
    }
    switch (code) {
    case KK_ERR_TIMED_OUT:
        return st->TimedOutError;
    case KK_ERR_CONNECTION_REFUSED:
    case KK_ERR_RESOLVE:
    case KK_ERR_CONNECTION_CLOSED:
    case KK_ERR_IO:
    case KK_ERR_NOT_CONNECTED:
        return st->ConnectionFailedError;
    case KK_ERR_NO_BROKERS:
    case KK_ERR_UNKNOWN_BROKER:
        return st->UnableToFetchMetadata;
    case KK_ERR_MALFORMED:
    case KK_ERR_CORRELATION:
    case KK_ERR_RESPONSE_TOO_LARGE:
        return st->MalformedResponseError;
    case KK_ERR_NO_MEMORY:
        return PyExc_MemoryError;
    case KK_ERR_INVALID_ARG:
        return st->InvalidArgumentError;
    case KK_ERR_UNSUPPORTED_VERSION:
        return st->UnsupportedVersionError;
    case KK_ERR_CRC:
        return st->ChecksumError;
    case KK_ERR_COMPRESSION:
        return st->CompressionError;
    case KK_ERR_INVALID_PARTITION:
        return st->InvalidPartitionError;
    case KK_ERR_PARTIAL_FAILURE:
        return st->FailedToSendMessages;
    case KK_ERR_NOT_ASSIGNED:
        return st->NotAssignedError;
    default:
        return st->Error;
    }
}

PyObject *kkpy_error_new(kkpy_state *st, int code, const char *message) {
    PyObject *cls = kkpy_error_class(st, code);
    PyObject *text = PyUnicode_DecodeUTF8(message, (Py_ssize_t)strlen(message), "replace");
    if (!text)
        return NULL;
    PyObject *exc = PyObject_CallOneArg(cls, text);
    Py_DECREF(text);
    if (!exc)
        return NULL;
    PyObject *code_obj = PyLong_FromLong(code);
    if (!code_obj || PyObject_SetAttr(exc, st->str_code, code_obj) < 0) {
        Py_XDECREF(code_obj);
        Py_DECREF(exc);
        return NULL;
    }
    Py_DECREF(code_obj);
    return exc;
}

void kkpy_raise(kkpy_state *st, const kk_error_t *err) {
    const char *message = err->message[0] ? err->message : kk_err_description(err->code);
    PyObject *exc = kkpy_error_new(st, err->code, message);
    if (exc) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
}

/* ---- small helpers ------------------------------------------------------------------------ */

int kkpy_lock(PyThread_type_lock lock, unsigned long *owner) {
    unsigned long me = PyThread_get_thread_ident();
    if (*owner == me) {
        PyErr_SetString(PyExc_RuntimeError,
                        "this kafkette object is busy in this thread: a partitioner or log handler "
                        "must not call back into the object that invoked it");
        return -1;
    }
    if (!PyThread_acquire_lock(lock, NOWAIT_LOCK)) {
        for (;;) {
            PyLockStatus status;
            Py_BEGIN_ALLOW_THREADS
            status = PyThread_acquire_lock_timed(lock, 100 * 1000, 0);
            Py_END_ALLOW_THREADS
            if (status == PY_LOCK_ACQUIRED)
                break;
            if (PyErr_CheckSignals() < 0)
                return -1;
        }
    }
    *owner = me;
    return 0;
}

void kkpy_unlock(PyThread_type_lock lock, unsigned long *owner) {
    *owner = 0;
    PyThread_release_lock(lock);
}

const char *kkpy_str_arg(PyObject *value, const char *owner, const char *name, bool allow_empty) {
    if (!PyUnicode_Check(value)) {
        PyErr_Format(PyExc_TypeError, "%s: %s must be a str, not %.100s", owner, name, Py_TYPE(value)->tp_name);
        return NULL;
    }
    Py_ssize_t len;
    const char *utf8 = PyUnicode_AsUTF8AndSize(value, &len);
    if (!utf8)
        return NULL;
    if ((size_t)len != strlen(utf8)) {
        PyErr_Format(PyExc_ValueError, "%s: %s must not contain NUL characters", owner, name);
        return NULL;
    }
    if (!allow_empty && len == 0) {
        PyErr_Format(PyExc_ValueError, "%s: %s must not be empty", owner, name);
        return NULL;
    }
    return utf8;
}

int kkpy_int_option(PyObject *value, const char *owner, const char *name, long long lo, long long hi,
                    long long *out) {
    if (!PyLong_Check(value) || PyBool_Check(value)) {
        PyErr_Format(PyExc_TypeError, "%s: %s must be an int, not %.100s", owner, name, Py_TYPE(value)->tp_name);
        return -1;
    }
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (overflow || v < lo || v > hi) {
        PyErr_Format(PyExc_ValueError, "%s: %s must be between %lld and %lld, got %R", owner, name, lo, hi, value);
        return -1;
    }
    *out = v;
    return 0;
}

int kkpy_split_args(const char *fname, PyObject *args, PyObject *kwargs, const char *const *names, int n,
                    PyObject **out, PyObject **rest) {
    Py_ssize_t npos = args ? PyTuple_GET_SIZE(args) : 0;
    for (int i = 0; i < n; i++)
        out[i] = NULL;
    *rest = NULL;
    if (npos > n) {
        PyErr_Format(PyExc_TypeError, "%s() takes %d positional arguments but %zd were given", fname, n, npos);
        return -1;
    }
    *rest = kwargs ? PyDict_Copy(kwargs) : PyDict_New();
    if (!*rest)
        return -1;
    for (int i = 0; i < n; i++) {
        PyObject *named = PyDict_GetItemString(*rest, names[i]); /* borrowed */
        if (i < npos && named) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", fname, names[i]);
            goto fail;
        }
        if (i < npos) {
            out[i] = Py_NewRef(PyTuple_GET_ITEM(args, i));
        } else if (named) {
            out[i] = Py_NewRef(named);
            if (PyDict_DelItemString(*rest, names[i]) < 0)
                goto fail;
        } else {
            PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s' (pos %d)", fname, names[i], i + 1);
            goto fail;
        }
    }
    return 0;
fail:
    for (int i = 0; i < n; i++)
        Py_CLEAR(out[i]);
    Py_CLEAR(*rest);
    return -1;
}

char *kkpy_brokers_string(PyObject *brokers, const char *what) {
    PyObject *parts = NULL;
    if (PyUnicode_Check(brokers)) {
        parts = PyTuple_Pack(1, brokers);
    } else if (PyList_Check(brokers) || PyTuple_Check(brokers)) {
        parts = PySequence_Tuple(brokers);
    } else {
        PyErr_Format(PyExc_TypeError, "%s: brokers must be a list of \"host:port\" strings or one "
                     "comma-separated str, not %.100s", what, Py_TYPE(brokers)->tp_name);
        return NULL;
    }
    if (!parts)
        return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(parts);
    size_t total = 1;
    for (Py_ssize_t i = 0; i < n; i++) {
        const char *s = kkpy_str_arg(PyTuple_GET_ITEM(parts, i), what, "each broker", false);
        if (!s) {
            Py_DECREF(parts);
            return NULL;
        }
        total += strlen(s) + 1;
    }
    if (n == 0) {
        Py_DECREF(parts);
        PyErr_Format(PyExc_ValueError, "%s: the broker list is empty", what);
        return NULL;
    }
    char *out = PyMem_Malloc(total);
    if (!out) {
        Py_DECREF(parts);
        PyErr_NoMemory();
        return NULL;
    }
    size_t used = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        const char *s = PyUnicode_AsUTF8(PyTuple_GET_ITEM(parts, i));
        size_t len = strlen(s);
        if (i)
            out[used++] = ',';
        memcpy(out + used, s, len);
        used += len;
    }
    out[used] = '\0';
    Py_DECREF(parts);
    return out;
}

/* ---- topic administration ------------------------------------------------------------------ */

typedef struct admin_job {
    kk_client_t *client;
    kkpy_call call;
    kk_error_t err;
    int rc;
} admin_job_t;

static int admin_open(admin_job_t *job, kkpy_state *st, PyObject *brokers, const char *client_id,
                      const char *what) {
    memset(job, 0, sizeof(*job));
    kkpy_call_init(&job->call, st);
    char *bootstrap = kkpy_brokers_string(brokers, what);
    if (!bootstrap)
        return -1;
    kk_client_config_t cfg;
    kk_client_config_init(&cfg);
    cfg.bootstrap_servers = bootstrap;
    cfg.client_id = client_id;
    kkpy_call_attach(&job->call, &cfg);
    job->client = kk_client_new(&cfg, &job->err);
    PyMem_Free(bootstrap);
    if (!job->client) {
        kkpy_raise(st, &job->err);
        return -1;
    }
    return 0;
}

/* Frees the client, logs, and raises what failed; returns 0 when the job succeeded. */
static int admin_close(admin_job_t *job, kkpy_state *st, int tolerated_code) {
    kkpy_log_line *lines = NULL;
    PyObject *exc = kkpy_call_end(&job->call, &lines);
    kk_client_free(job->client);
    kkpy_log_emit(st, lines);
    kkpy_call_clear(&job->call);
    if (exc) {
        kkpy_exc_restore(exc);
        return -1;
    }
    if (job->rc != KK_OK && job->rc != tolerated_code) {
        kkpy_raise(st, &job->err);
        return -1;
    }
    return 0;
}

static kkpy_state *module_state_checked(PyObject *module) {
    kkpy_state *st = kkpy_state_of_module(module);
    if (!st)
        PyErr_SetString(PyExc_SystemError, "kafkette module state is missing");
    return st;
}

PyObject *kkpy_create_topic(PyObject *module, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"brokers", "topic", "partitions", "replication_factor", "configs",
                             "timeout_ms", "exist_ok", "client_id", NULL};
    PyObject *brokers, *topic_obj, *partitions_obj, *rf_obj = NULL, *configs = Py_None;
    PyObject *timeout_obj = NULL, *client_id_obj = NULL;
    int exist_ok = 0;
    kkpy_state *st = module_state_checked(module);
    if (!st || !PyArg_ParseTupleAndKeywords(args, kwargs, "OOO|OO$OpO:create_topic", kwlist, &brokers,
                                            &topic_obj, &partitions_obj, &rf_obj, &configs, &timeout_obj,
                                            &exist_ok, &client_id_obj))
        return NULL;
    const char *topic = kkpy_str_arg(topic_obj, "create_topic", "topic", false);
    const char *client_id = client_id_obj ? kkpy_str_arg(client_id_obj, "create_topic", "client_id", false)
                                          : "kafkette-admin";
    long long partitions, rf = 1, timeout_ms = 30000;
    if (!topic || !client_id ||
        kkpy_int_option(partitions_obj, "create_topic", "partitions", 1, INT32_MAX, &partitions) < 0 ||
        (rf_obj && kkpy_int_option(rf_obj, "create_topic", "replication_factor", 1, INT16_MAX, &rf) < 0) ||
        (timeout_obj && kkpy_int_option(timeout_obj, "create_topic", "timeout_ms", 1, INT32_MAX, &timeout_ms) < 0))
        return NULL;
    /* configs: a dict of str -> str (ints and bools are written out) */
    PyObject *items = NULL;
    kk_topic_config_t *cfgs = NULL;
    Py_ssize_t ncfg = 0;
    if (configs != Py_None) {
        if (!PyDict_Check(configs)) {
            PyErr_Format(PyExc_TypeError, "create_topic: configs must be a dict, not %.100s", Py_TYPE(configs)->tp_name);
            return NULL;
        }
        items = PyList_New(0);
        if (!items)
            return NULL;
        PyObject *k, *v;
        Py_ssize_t pos = 0;
        while (PyDict_Next(configs, &pos, &k, &v)) {
            PyObject *value = PyBool_Check(v) ? PyUnicode_FromString(v == Py_True ? "true" : "false")
                              : (PyLong_Check(v) || PyUnicode_Check(v)) ? PyObject_Str(v) : NULL;
            if (!value && !PyErr_Occurred())
                PyErr_Format(PyExc_TypeError, "create_topic: config %R must be a str or an int, not %.100s", k,
                             Py_TYPE(v)->tp_name);
            PyObject *pair = value ? PyTuple_Pack(2, k, value) : NULL;
            Py_XDECREF(value);
            if (!pair || PyList_Append(items, pair) < 0) {
                Py_XDECREF(pair);
                Py_DECREF(items);
                return NULL;
            }
            Py_DECREF(pair);
        }
        ncfg = PyList_GET_SIZE(items);
        cfgs = PyMem_Calloc((size_t)ncfg + 1, sizeof(*cfgs));
        if (!cfgs) {
            Py_DECREF(items);
            return PyErr_NoMemory();
        }
        for (Py_ssize_t i = 0; i < ncfg; i++) {
            PyObject *pair = PyList_GET_ITEM(items, i);
            cfgs[i].name = kkpy_str_arg(PyTuple_GET_ITEM(pair, 0), "create_topic", "each config name", false);
            cfgs[i].value = cfgs[i].name ? kkpy_str_arg(PyTuple_GET_ITEM(pair, 1), "create_topic", "each config value", true) : NULL;
            if (!cfgs[i].value) {
                PyMem_Free(cfgs);
                Py_DECREF(items);
                return NULL;
            }
        }
    }
    admin_job_t job;
    if (admin_open(&job, st, brokers, client_id, "create_topic") < 0) {
        PyMem_Free(cfgs);
        Py_XDECREF(items);
        return NULL;
    }
    kkpy_call_begin(&job.call);
    Py_BEGIN_ALLOW_THREADS
    job.rc = kk_client_create_topic(job.client, topic, (int32_t)partitions, (int16_t)rf, cfgs, (size_t)ncfg,
                                    (int)timeout_ms, &job.err);
    Py_END_ALLOW_THREADS
    PyMem_Free(cfgs);
    Py_XDECREF(items);
    if (admin_close(&job, st, exist_ok ? 36 /* TOPIC_ALREADY_EXISTS */ : KK_OK) < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyObject *kkpy_delete_topic(PyObject *module, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"brokers", "topic", "timeout_ms", "missing_ok", "client_id", NULL};
    PyObject *brokers, *topic_obj, *timeout_obj = NULL, *client_id_obj = NULL;
    int missing_ok = 0;
    kkpy_state *st = module_state_checked(module);
    if (!st || !PyArg_ParseTupleAndKeywords(args, kwargs, "OO|$OpO:delete_topic", kwlist, &brokers, &topic_obj,
                                            &timeout_obj, &missing_ok, &client_id_obj))
        return NULL;
    const char *topic = kkpy_str_arg(topic_obj, "delete_topic", "topic", false);
    const char *client_id = client_id_obj ? kkpy_str_arg(client_id_obj, "delete_topic", "client_id", false)
                                          : "kafkette-admin";
    long long timeout_ms = 30000;
    if (!topic || !client_id ||
        (timeout_obj && kkpy_int_option(timeout_obj, "delete_topic", "timeout_ms", 1, INT32_MAX, &timeout_ms) < 0))
        return NULL;
    admin_job_t job;
    if (admin_open(&job, st, brokers, client_id, "delete_topic") < 0)
        return NULL;
    kkpy_call_begin(&job.call);
    Py_BEGIN_ALLOW_THREADS
    job.rc = kk_client_delete_topic(job.client, topic, (int)timeout_ms, &job.err);
    Py_END_ALLOW_THREADS
    if (admin_close(&job, st, missing_ok ? 3 /* UNKNOWN_TOPIC_OR_PARTITION */ : KK_OK) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *kkpy_error_class_for(PyObject *module, PyObject *arg) {
    kkpy_state *st = module_state_checked(module);
    if (!st)
        return NULL;
    long long code;
    if (kkpy_int_option(arg, "error_class", "code", INT32_MIN, INT32_MAX, &code) < 0)
        return NULL;
    PyObject *cls = kkpy_error_class(st, (int)code);
    Py_INCREF(cls);
    return cls;
}

/* ---- module setup ---------------------------------------------------------------------------- */

static int set_attr(PyObject *module, const char *name, PyObject *value) {
    if (!value)
        return -1;
    int rc = PyObject_SetAttrString(module, name, value);
    return rc;
}

static PyObject *new_error(PyObject *module, const char *name, const char *doc, PyObject *bases,
                           PyObject *dict) {
    char full[160];
    snprintf(full, sizeof(full), "kafkette.%s", name);
    PyObject *cls = PyErr_NewExceptionWithDoc(full, doc, bases, dict);
    if (cls && set_attr(module, name, cls) < 0)
        Py_CLEAR(cls);
    return cls;
}

/* "NOT_LEADER_OR_FOLLOWER" -> "NotLeaderOrFollower" */
static void camel_case(const char *name, char *out, size_t size) {
    size_t n = 0;
    bool upper = true;
    for (const char *p = name; *p && n + 1 < size; p++) {
        if (*p == '_') {
            upper = true;
            continue;
        }
        out[n++] = upper ? *p : (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        upper = false;
    }
    out[n] = '\0';
}

/* Poseidon's class names where they differ from the protocol's, bound to the same class. */
static const struct {
    int code;
    const char *alias;
} poseidon_aliases[] = {
    {-1, "UnknownError"},
    {2, "InvalidMessage"},
    {4, "InvalidMessageSize"},
    {6, "NotLeaderForPartition"},
    {10, "MessageSizeTooLarge"},
    {11, "StaleControllerEpochCode"},
    {12, "OffsetMetadataTooLargeCode"},
};

static int add_broker_errors(PyObject *module, kkpy_state *st) {
    const int16_t *codes = NULL;
    size_t count = kk_err_broker_code_list(&codes);
    st->broker_errors = PyDict_New();
    if (!st->broker_errors)
        return -1;
    for (size_t i = 0; i < count; i++) {
        char name[128];
        camel_case(kk_err_name(codes[i]), name, sizeof(name));
        if (PyObject_HasAttrString(module, name)) {
            PyErr_Format(PyExc_SystemError, "kafkette: error class name %s is taken twice", name);
            return -1;
        }
        PyObject *dict = Py_BuildValue("{s:i,s:s,s:O}", "code", (int)codes[i], "name", kk_err_name(codes[i]),
                                       "retriable", kk_err_is_retriable(codes[i]) ? Py_True : Py_False);
        if (!dict)
            return -1;
        char doc[512];
        snprintf(doc, sizeof(doc), "Kafka error %s (%d): %s.", kk_err_name(codes[i]), (int)codes[i],
                 kk_err_description(codes[i]));
        PyObject *cls = new_error(module, name, doc, st->ProtocolError, dict);
        Py_DECREF(dict);
        if (!cls)
            return -1;
        PyObject *key = PyLong_FromLong(codes[i]);
        int rc = key ? PyDict_SetItem(st->broker_errors, key, cls) : -1;
        Py_XDECREF(key);
        Py_DECREF(cls);
        if (rc < 0)
            return -1;
    }
    for (size_t i = 0; i < sizeof(poseidon_aliases) / sizeof(poseidon_aliases[0]); i++) {
        PyObject *key = PyLong_FromLong(poseidon_aliases[i].code);
        PyObject *cls = key ? PyDict_GetItemWithError(st->broker_errors, key) : NULL;
        Py_XDECREF(key);
        if (!cls) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_SystemError, "kafkette: no error class for code %d", poseidon_aliases[i].code);
            return -1;
        }
        if (set_attr(module, poseidon_aliases[i].alias, cls) < 0)
            return -1;
    }
    return 0;
}

static int add_errors(PyObject *module, kkpy_state *st) {
    PyObject *none_code = Py_BuildValue("{s:O}", "code", Py_None);
    if (!none_code)
        return -1;
    st->Error = new_error(module, "Error",
                          "Root of every kafkette error. `code` holds the Kafka error code (positive, or "
                          "-1) or the client-side code (-100 and below).",
                          PyExc_Exception, none_code);
    Py_DECREF(none_code);
    if (!st->Error)
        return -1;
#define SUB(field, name, doc, base) \
    if (!(st->field = new_error(module, name, doc, base, NULL))) \
        return -1;
#define SUB2(field, name, doc, base1, base2) \
    do { \
        PyObject *bases = PyTuple_Pack(2, base1, base2); \
        if (!bases) \
            return -1; \
        st->field = new_error(module, name, doc, bases, NULL); \
        Py_DECREF(bases); \
        if (!st->field) \
            return -1; \
    } while (0)
    SUB(ProtocolError, "ProtocolError",
        "An error code returned by a Kafka broker; one subclass per code (see `code`, `name`, `retriable`).",
        st->Error)
    SUB2(ConnectionFailedError, "ConnectionFailedError",
         "A broker could not be reached, or the connection failed (refused, unresolvable, closed, I/O error).",
         st->Error, PyExc_ConnectionError);
    SUB(UnableToFetchMetadata, "UnableToFetchMetadata",
        "No seed broker could be reached for cluster metadata, or the metadata names an unknown broker.",
        st->ConnectionFailedError)
    SUB2(TimedOutError, "TimedOutError", "A connect or request deadline passed on the client side.", st->Error,
         PyExc_TimeoutError);
    SUB(ChecksumError, "ChecksumError", "Fetched data failed its CRC check.", st->Error)
    SUB(CompressionError, "CompressionError", "A codec failed to compress or decompress a record batch.", st->Error)
    SUB(MalformedResponseError, "MalformedResponseError",
        "A broker response did not decode (malformed, unexpected correlation id, or too large).", st->Error)
    SUB(UnsupportedVersionError, "UnsupportedVersionError",
        "The broker and the client share no version of a needed API.", st->Error)
    SUB2(InvalidArgumentError, "InvalidArgumentError", "The core rejected an argument or option value.", st->Error,
         PyExc_ValueError);
    SUB(InvalidPartitionError, "InvalidPartitionError",
        "No such partition, or the partitioner chose one outside the topic.", st->Error)
    SUB(ProducerShutdownError, "ProducerShutdownError", "send_messages was called on a closed Producer.", st->Error)
    SUB(ConsumerClosedError, "ConsumerClosedError",
        "The PartitionConsumer or ConsumerGroup was closed (possibly while fetching or polling).", st->Error)
    SUB(NotAssignedError, "NotAssignedError",
        "A ConsumerGroup member committed a partition it does not own, or lost in a rebalance it has not "
        "caught up with yet (the next poll rejoins; records after the last commit are delivered again).",
        st->Error)
    SUB(FailedToSendMessages, "FailedToSendMessages",
        "Some messages of a send_messages call were not delivered. `failures` lists them as SendFailure "
        "tuples (index, topic, partition, error, message); the others were delivered and carry their offsets. "
        "`__cause__` is the first failure's error.",
        st->Error)
#undef SUB
#undef SUB2
    return add_broker_errors(module, st);
}

static PyStructSequence_Field failure_fields[] = {
    {"index", "position of the message in the list given to send_messages"},
    {"topic", "the message's topic"},
    {"partition", "the partition it was routed to, or None if it never got that far"},
    {"error", "why it was not delivered: an instance of a kafkette.Error subclass"},
    {"message", "the MessageToSend itself"},
    {NULL, NULL},
};

static PyStructSequence_Desc failure_desc = {
    "kafkette.SendFailure",
    "One undelivered message of a FailedToSendMessages error.",
    failure_fields,
    5,
};

static int add_type(PyObject *module, PyType_Spec *spec, PyTypeObject **out) {
    PyObject *type = PyType_FromModuleAndSpec(module, spec, NULL);
    if (!type)
        return -1;
    *out = (PyTypeObject *)type;
    const char *dot = strrchr(spec->name, '.');
    return PyModule_AddObject(module, dot ? dot + 1 : spec->name, Py_NewRef(type)) < 0 ? (Py_DECREF(type), -1) : 0;
}

static int kkpy_exec(PyObject *module) {
    kkpy_state *st = kkpy_state_of_module(module);
    st->empty_tuple = PyTuple_New(0);
    st->str_code = PyUnicode_InternFromString("code");
    if (!st->empty_tuple || !st->str_code)
        return -1;
    if (add_type(module, &kkpy_message_spec, &st->message_type) < 0 ||
        add_type(module, &kkpy_fetched_spec, &st->fetched_type) < 0 ||
        add_type(module, &kkpy_producer_spec, &st->producer_type) < 0 ||
        add_type(module, &kkpy_consumer_spec, &st->consumer_type) < 0 ||
        add_type(module, &kkpy_group_spec, &st->group_type) < 0)
        return -1;
#if PY_VERSION_HEX < 0x030A0000
    st->fetched_type->tp_new = NULL; /* built by fetch only */
#endif
    st->failure_type = PyStructSequence_NewType(&failure_desc);
    if (!st->failure_type || PyModule_AddObject(module, "SendFailure", Py_NewRef((PyObject *)st->failure_type)) < 0)
        return -1;
    st->topic_partition_type = PyStructSequence_NewType(&kkpy_topic_partition_desc);
    if (!st->topic_partition_type ||
        PyModule_AddObject(module, "TopicPartition", Py_NewRef((PyObject *)st->topic_partition_type)) < 0)
        return -1;
    if (add_errors(module, st) < 0)
        return -1;

    PyObject *logging = PyImport_ImportModule("logging");
    st->logger = logging ? PyObject_CallMethod(logging, "getLogger", "s", "kafkette") : NULL;
    Py_XDECREF(logging);
    if (!st->logger)
        return -1;
    PyObject *threading = PyImport_ImportModule("threading");
    PyObject *main = threading ? PyObject_CallMethod(threading, "main_thread", NULL) : NULL;
    PyObject *ident = main ? PyObject_GetAttrString(main, "ident") : NULL;
    Py_XDECREF(threading);
    Py_XDECREF(main);
    if (!ident)
        return -1;
    st->main_thread = PyLong_AsUnsignedLong(ident);
    Py_DECREF(ident);
    if (PyErr_Occurred())
        return -1;

    if (PyModule_AddStringConstant(module, "__version__", KK_VERSION_STRING) < 0 ||
        PyModule_AddStringConstant(module, "EARLIEST_OFFSET", "earliest_offset") < 0 ||
        PyModule_AddStringConstant(module, "LATEST_OFFSET", "latest_offset") < 0)
        return -1;
    return 0;
}

static int kkpy_traverse(PyObject *module, visitproc visit, void *arg) {
    kkpy_state *st = kkpy_state_of_module(module);
    if (!st)
        return 0;
    Py_VISIT(st->producer_type);
    Py_VISIT(st->consumer_type);
    Py_VISIT(st->message_type);
    Py_VISIT(st->fetched_type);
    Py_VISIT(st->failure_type);
    Py_VISIT(st->group_type);
    Py_VISIT(st->topic_partition_type);
    Py_VISIT(st->Error);
    Py_VISIT(st->ProtocolError);
    Py_VISIT(st->ConnectionFailedError);
    Py_VISIT(st->UnableToFetchMetadata);
    Py_VISIT(st->TimedOutError);
    Py_VISIT(st->ChecksumError);
    Py_VISIT(st->CompressionError);
    Py_VISIT(st->MalformedResponseError);
    Py_VISIT(st->UnsupportedVersionError);
    Py_VISIT(st->InvalidArgumentError);
    Py_VISIT(st->InvalidPartitionError);
    Py_VISIT(st->ProducerShutdownError);
    Py_VISIT(st->ConsumerClosedError);
    Py_VISIT(st->NotAssignedError);
    Py_VISIT(st->FailedToSendMessages);
    Py_VISIT(st->broker_errors);
    Py_VISIT(st->logger);
    return 0;
}

static int kkpy_clear(PyObject *module) {
    kkpy_state *st = kkpy_state_of_module(module);
    if (!st)
        return 0;
    Py_CLEAR(st->producer_type);
    Py_CLEAR(st->consumer_type);
    Py_CLEAR(st->message_type);
    Py_CLEAR(st->fetched_type);
    Py_CLEAR(st->failure_type);
    Py_CLEAR(st->group_type);
    Py_CLEAR(st->topic_partition_type);
    Py_CLEAR(st->Error);
    Py_CLEAR(st->ProtocolError);
    Py_CLEAR(st->ConnectionFailedError);
    Py_CLEAR(st->UnableToFetchMetadata);
    Py_CLEAR(st->TimedOutError);
    Py_CLEAR(st->ChecksumError);
    Py_CLEAR(st->CompressionError);
    Py_CLEAR(st->MalformedResponseError);
    Py_CLEAR(st->UnsupportedVersionError);
    Py_CLEAR(st->InvalidArgumentError);
    Py_CLEAR(st->InvalidPartitionError);
    Py_CLEAR(st->ProducerShutdownError);
    Py_CLEAR(st->ConsumerClosedError);
    Py_CLEAR(st->NotAssignedError);
    Py_CLEAR(st->FailedToSendMessages);
    Py_CLEAR(st->broker_errors);
    Py_CLEAR(st->logger);
    Py_CLEAR(st->empty_tuple);
    Py_CLEAR(st->str_code);
    return 0;
}

static void kkpy_free(void *module) { kkpy_clear((PyObject *)module); }

static PyMethodDef kkpy_methods[] = {
    {"create_topic", (PyCFunction)(void (*)(void))kkpy_create_topic, METH_VARARGS | METH_KEYWORDS,
     "create_topic(brokers, topic, partitions, replication_factor=1, configs=None, *, timeout_ms=30000, "
     "exist_ok=False, client_id='kafkette-admin')\n--\n\n"
     "Create a topic and wait until every partition has a leader. configs maps topic config names to "
     "values (str or int). Raises TopicAlreadyExists unless exist_ok is true."},
    {"delete_topic", (PyCFunction)(void (*)(void))kkpy_delete_topic, METH_VARARGS | METH_KEYWORDS,
     "delete_topic(brokers, topic, *, timeout_ms=30000, missing_ok=False, client_id='kafkette-admin')\n--\n\n"
     "Delete a topic. Raises UnknownTopicOrPartition when there is none, unless missing_ok is true."},
    {"error_class", kkpy_error_class_for, METH_O,
     "error_class(code)\n--\n\n"
     "The exception class kafkette raises for a Kafka error code (or a client-side code)."},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot kkpy_slots[] = {
    {Py_mod_exec, (void *)kkpy_exec},
    {0, NULL},
};

static struct PyModuleDef kkpy_module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "kafkette._kafkette",
    .m_doc = "The C extension under kafkette: Producer, PartitionConsumer, ConsumerGroup, messages and errors over the "
             "kafkette C core. Import kafkette, not this module.",
    .m_size = sizeof(kkpy_state),
    .m_methods = kkpy_methods,
    .m_slots = kkpy_slots,
    .m_traverse = kkpy_traverse,
    .m_clear = kkpy_clear,
    .m_free = kkpy_free,
};

PyMODINIT_FUNC PyInit__kafkette(void) { return PyModuleDef_Init(&kkpy_module_def); }

PyObject *kkpy_exit_calls_close(PyObject *self, PyObject *args) {
    (void)args;
    PyObject *r = PyObject_CallMethod(self, "close", NULL);
    if (!r)
        return NULL;
    Py_DECREF(r);
    Py_RETURN_FALSE;
}
