/*
 * The bridge for the core's callbacks: the interrupt check (Ctrl-C between slices of a wait),
 * the user's partitioner, and log lines (buffered while the GIL is released, handed to
 * `logging` afterwards).
 */
#include "kkpy.h"

#include <stdlib.h>
#include <string.h>

void kkpy_call_keep_exc(kkpy_call *call) {
    PyObject *exc = kkpy_exc_take();
    if (!call->exc)
        call->exc = exc;
    else
        Py_XDECREF(exc);
}

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
        kkpy_call_keep_exc(call);
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
        kkpy_call_keep_exc(call);
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
    Py_CLEAR(call->oauth_provider);
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

/* Reads the provider's answer, a str or (str, expiry in seconds since the epoch or None), into
 * token and *expires_at_ms; -1 with a Python exception (never quoting the token). */
static int read_token(PyObject *result, char *token, size_t size, int64_t *expires_at_ms) {
    PyObject *text = result, *expiry = Py_None;
    if (PyTuple_Check(result) && PyTuple_GET_SIZE(result) == 2) {
        text = PyTuple_GET_ITEM(result, 0);
        expiry = PyTuple_GET_ITEM(result, 1);
    }
    if (!PyUnicode_Check(text)) {
        PyErr_Format(PyExc_TypeError,
                     "sasl_oauth_token_provider must return a str or a (str, expiry) tuple, not %.100s",
                     Py_TYPE(result)->tp_name);
        return -1;
    }
    Py_ssize_t len;
    const char *utf8 = PyUnicode_AsUTF8AndSize(text, &len);
    if (!utf8)
        return -1;
    if (len == 0 || (size_t)len >= size || strlen(utf8) != (size_t)len) {
        PyErr_Format(PyExc_ValueError,
                     "sasl_oauth_token_provider must return a token of 1 to %zu bytes without NUL "
                     "(got %zd bytes)",
                     size - 1, len);
        return -1;
    }
    if (expiry != Py_None) {
        double seconds = PyFloat_AsDouble(expiry);
        if (seconds == -1.0 && PyErr_Occurred()) {
            PyErr_Format(PyExc_TypeError,
                         "sasl_oauth_token_provider's expiry must be seconds since the epoch "
                         "(int or float) or None, not %.100s",
                         Py_TYPE(expiry)->tp_name);
            return -1;
        }
        *expires_at_ms = seconds > 0 && seconds < 9.2e15 ? (int64_t)(seconds * 1000.0) : 0;
    }
    memcpy(token, utf8, (size_t)len + 1);
    return 0;
}

/* The core asks for an OAUTHBEARER token. The core calls providers only on the thread that
 * called it (a group's heartbeat thread borrows that thread's tokens), so this takes the GIL on
 * the very thread the binding released it on; the check below keeps it that way. A provider's
 * exception becomes an AuthenticationError (its __cause__ the provider's exception) that the
 * call raises; KeyboardInterrupt and the like are raised as they are. */
static int cb_oauth(void *opaque, char *token, size_t size, int64_t *expires_at_ms, kk_error_t *err) {
    kkpy_call *call = opaque;
    if (call->thread != 0 && PyThread_get_thread_ident() != call->thread) {
        snprintf(err->message, sizeof(err->message),
                 "the sasl_oauth_token_provider is only called on the thread of the call");
        return err->code = KK_ERR_AUTHENTICATION;
    }
    if (call->abort || !call->oauth_provider) {
        snprintf(err->message, sizeof(err->message), "no sasl_oauth_token_provider");
        return err->code = KK_ERR_AUTHENTICATION;
    }
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *provider = Py_NewRef(call->oauth_provider);
    PyObject *result = PyObject_CallNoArgs(provider);
    Py_DECREF(provider);
    int rc = result ? read_token(result, token, size, expires_at_ms) : -1;
    Py_XDECREF(result);
    if (rc < 0) {
        PyObject *cause = kkpy_exc_take();
        snprintf(err->message, sizeof(err->message), "the sasl_oauth_token_provider raised %.100s",
                 cause ? Py_TYPE(cause)->tp_name : "an error");
        err->code = KK_ERR_AUTHENTICATION;
        if (cause && !PyErr_GivenExceptionMatches(cause, PyExc_Exception)) {
            call->abort = true; /* KeyboardInterrupt, SystemExit: stop the call, raise it */
            kkpy_exc_restore(cause);
        } else {
            char text[KK_ERROR_MESSAGE_SIZE + 64];
            snprintf(text, sizeof(text), "SASL OAUTHBEARER authentication failed: %s", err->message);
            PyObject *exc = kkpy_error_new(call->st, KK_ERR_AUTHENTICATION, text);
            if (exc && cause) {
                PyException_SetContext(exc, Py_NewRef(cause));
                PyException_SetCause(exc, cause); /* steals */
                cause = NULL;
            }
            Py_XDECREF(cause);
            if (exc)
                kkpy_exc_restore(exc);
        }
        kkpy_call_keep_exc(call);
    }
    PyGILState_Release(gil);
    return rc < 0 ? KK_ERR_AUTHENTICATION : KK_OK;
}

int kkpy_oauth_option(kkpy_state *st, kk_config_t *cfg, const char *name, PyObject *value) {
    kk_client_config_t *client = kk_config_client(cfg);
    kkpy_call *call = client ? client->interrupt_opaque : NULL;
    bool callable = value != Py_None && PyCallable_Check(value) && !PyType_Check(value);
    kk_error_t err;
    if (!call || (!callable && value != Py_None)) {
        kk_config_reject_type(cfg, name, Py_TYPE(value)->tp_name, &err);
        kkpy_raise(st, &err);
        return -1;
    }
    PyObject *old = call->oauth_provider;
    call->oauth_provider = callable ? Py_NewRef(value) : NULL;
    Py_XDECREF(old);
    client->sasl_oauth_token_provider = callable ? cb_oauth : NULL;
    client->sasl_oauth_token_opaque = callable ? call : NULL;
    return 0;
}

int kkpy_call_traverse(kkpy_call *call, visitproc visit, void *arg) {
    Py_VISIT(call->oauth_provider);
    return 0;
}

void kkpy_call_begin(kkpy_call *call) {
    call->thread = PyThread_get_thread_ident();
    call->check_signals = call->thread == call->st->main_thread;
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
