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
