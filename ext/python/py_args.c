/*
 * The argument helpers the type files share: positional/keyword splitting and str/int checks
 * for arguments that are not options (options go through the core's table, py_object.c).
 */
#include "kkpy.h"

#include <string.h>

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

int kkpy_int_arg(PyObject *value, const char *owner, const char *name, long long lo, long long hi,
                 long long *out) {    if (!PyLong_Check(value) || PyBool_Check(value)) {
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
                    int npos, int nreq, PyObject **out, PyObject **rest) {
    Py_ssize_t given = args ? PyTuple_GET_SIZE(args) : 0;
    for (int i = 0; i < n; i++)
        out[i] = NULL;
    *rest = NULL;
    if (given > npos) {
        PyErr_Format(PyExc_TypeError, "%s() takes %d positional arguments but %zd were given", fname, npos, given);
        return -1;
    }
    *rest = kwargs ? PyDict_Copy(kwargs) : PyDict_New();
    if (!*rest)
        return -1;
    for (int i = 0; i < n; i++) {
        PyObject *named = PyDict_GetItemString(*rest, names[i]); /* borrowed */
        if (i < given && named) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", fname, names[i]);
            goto fail;
        }
        if (i < given) {
            out[i] = Py_NewRef(PyTuple_GET_ITEM(args, i));
        } else if (named) {
            out[i] = Py_NewRef(named);
            if (PyDict_DelItemString(*rest, names[i]) < 0)
                goto fail;
        } else if (i < nreq) {
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

PyObject *kkpy_exit_calls_close(PyObject *self, PyObject *args) {
    (void)args;
    PyObject *r = PyObject_CallMethod(self, "close", NULL);
    if (!r)
        return NULL;
    Py_DECREF(r);
    Py_RETURN_FALSE;
}
