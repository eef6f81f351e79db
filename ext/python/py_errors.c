/*
 * The exception tree, built at import from the core's taxonomy (kk_error_class_list for the
 * named classes, one class per broker code, Poseidon's aliases), so that a code raises the
 * same class in Python and Ruby. The binding adds only Python's own bases.
 */
#include "kkpy.h"

#include <string.h>

/* Python's builtin exceptions a class also derives from, and a note for its docstring. */
static const struct {
    const char *name;
    PyObject **bases[2];
    const char *note;
} python_extras[] = {
    {"InvalidArgumentError", {&PyExc_ValueError, &PyExc_TypeError}, NULL},
    {"OutOfMemoryError", {&PyExc_MemoryError, NULL}, NULL},
    {"ConnectionFailedError", {&PyExc_ConnectionError, NULL}, NULL},
    {"TimedOutError", {&PyExc_TimeoutError, NULL}, NULL},
    {"FailedToSendMessages", {NULL, NULL},
     " `failures` lists the undelivered messages as SendFailure tuples (index, topic, partition, "
     "error, message); `__cause__` is the first failure's error."},
};

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

static int module_add(PyObject *module, const char *name, PyObject *obj) {
    Py_INCREF(obj);
    if (PyModule_AddObject(module, name, obj) < 0) {
        Py_DECREF(obj);
        return -1;
    }
    return 0;
}

/* A new class kafkette.<name>, added to the module and to st->error_classes. */
static PyObject *add_class(PyObject *module, kkpy_state *st, const char *name, const char *parent,
                           const char *doc, PyObject *dict) {
    PyObject *base = parent ? PyDict_GetItemString(st->error_classes, parent) : PyExc_Exception;
    if (!base)
        return PyErr_Format(PyExc_SystemError, "kafkette: error class %s before its parent %s", name, parent);
    if (PyDict_GetItemString(st->error_classes, name))
        return PyErr_Format(PyExc_SystemError, "kafkette: error class name %s is taken twice", name);
    PyObject *bases = PyList_New(0);
    if (!bases || PyList_Append(bases, base) < 0)
        goto fail;
    char text[1024];
    snprintf(text, sizeof(text), "%s", doc);
    for (size_t i = 0; i < sizeof(python_extras) / sizeof(python_extras[0]); i++) {
        if (strcmp(python_extras[i].name, name) != 0)
            continue;
        for (int j = 0; j < 2 && python_extras[i].bases[j]; j++)
            if (PyList_Append(bases, *python_extras[i].bases[j]) < 0)
                goto fail;
        if (python_extras[i].note)
            snprintf(text, sizeof(text), "%s.%s", doc, python_extras[i].note);
    }
    PyObject *tuple = PyList_AsTuple(bases);
    Py_CLEAR(bases);
    char full[160];
    snprintf(full, sizeof(full), "kafkette.%s", name);
    PyObject *cls = tuple ? PyErr_NewExceptionWithDoc(full, text, tuple, dict) : NULL;
    Py_XDECREF(tuple);
    if (cls && (PyDict_SetItemString(st->error_classes, name, cls) < 0 || module_add(module, name, cls) < 0))
        Py_CLEAR(cls);
    return cls;
fail:
    Py_XDECREF(bases);
    return NULL;
}

static int add_alias(PyObject *module, kkpy_state *st, const char *alias, PyObject *cls) {
    if (!alias)
        return 0;
    if (PyDict_GetItemString(st->error_classes, alias)) {
        PyErr_Format(PyExc_SystemError, "kafkette: error alias %s is taken twice", alias);
        return -1;
    }
    if (PyDict_SetItemString(st->error_classes, alias, cls) < 0)
        return -1;
    return module_add(module, alias, cls);
}

int kkpy_errors_init(PyObject *module, kkpy_state *st) {
    st->error_classes = PyDict_New();
    if (!st->error_classes)
        return -1;
    const kk_error_class_t *classes;
    size_t n = kk_error_class_list(&classes);
    for (size_t i = 0; i < n; i++) {
        PyObject *dict = Py_BuildValue("{s:O,s:O}", "code", Py_None, "retriable", Py_False);
        PyObject *cls = dict ? add_class(module, st, classes[i].name, classes[i].parent, classes[i].doc, dict) : NULL;
        Py_XDECREF(dict);
        int rc = cls ? add_alias(module, st, classes[i].alias, cls) : -1;
        Py_XDECREF(cls);
        if (rc < 0)
            return -1;
    }
    const int16_t *codes;
    n = kk_err_broker_code_list(&codes);
    for (size_t i = 0; i < n; i++) {
        int code = codes[i];
        char name[128], doc[512];
        kk_err_class_name(code, name, sizeof(name));
        snprintf(doc, sizeof(doc), "Kafka error %s (%d): %s", kk_err_name(code), code, kk_err_description(code));
        PyObject *dict = Py_BuildValue("{s:i,s:s,s:O}", "code", code, "name", kk_err_name(code), "retriable",
                                       kk_err_is_retriable(code) ? Py_True : Py_False);
        PyObject *cls = dict ? add_class(module, st, name, kk_err_class_parent(code), doc, dict) : NULL;
        Py_XDECREF(dict);
        int rc = cls ? add_alias(module, st, kk_err_poseidon_alias(code), cls) : -1;
        Py_XDECREF(cls);
        if (rc < 0)
            return -1;
    }
    PyObject **named[] = {&st->Error, &st->ProducerShutdownError, &st->ConsumerClosedError,
                          &st->FailedToSendMessages, &st->closed_error};
    const char *names[] = {"Error", "ProducerShutdownError", "ConsumerClosedError", "FailedToSendMessages",
                           "ClosedError"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        PyObject *cls = PyDict_GetItemString(st->error_classes, names[i]);
        if (!cls) {
            PyErr_Format(PyExc_SystemError, "kafkette: the core has no error class %s", names[i]);
            return -1;
        }
        *named[i] = Py_NewRef(cls);
    }
    return 0;
}

PyObject *kkpy_error_class(kkpy_state *st, int code) {
    char name[128];
    kk_err_class_name(code, name, sizeof(name));
    PyObject *cls = PyDict_GetItemString(st->error_classes, name);
    return cls ? cls : st->Error;
}

PyObject *kkpy_error_new(kkpy_state *st, int code, const char *message) {
    PyObject *text = PyUnicode_DecodeUTF8(message, (Py_ssize_t)strlen(message), "replace");
    PyObject *exc = text ? PyObject_CallOneArg(kkpy_error_class(st, code), text) : NULL;
    Py_XDECREF(text);
    PyObject *code_obj = exc ? PyLong_FromLong(code) : NULL;
    if (!code_obj || PyObject_SetAttr(exc, st->str_code, code_obj) < 0 ||
        PyObject_SetAttr(exc, st->str_retriable, kk_err_is_retriable(code) ? Py_True : Py_False) < 0)
        Py_CLEAR(exc);
    Py_XDECREF(code_obj);
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

/* ---- module functions ------------------------------------------------------------------------ */

static int code_arg(PyObject *arg, int *code) {
    long long v;
    if (kkpy_int_arg(arg, "error_class", "code", INT32_MIN, INT32_MAX, &v) < 0)
        return -1;
    *code = (int)v;
    return 0;
}

static PyObject *error_class_for(PyObject *module, PyObject *arg) {
    int code;
    if (code_arg(arg, &code) < 0)
        return NULL;
    return Py_NewRef(kkpy_error_class(kkpy_state_of_module(module), code));
}

/* What the core says about a code: (class name, parent or None, alias or None, category,
 * retriable). */
static PyObject *error_code_info(PyObject *module, PyObject *arg) {
    (void)module;
    int code;
    if (code_arg(arg, &code) < 0)
        return NULL;
    char name[128];
    kk_err_class_name(code, name, sizeof(name));
    return Py_BuildValue("(szzsO)", name, kk_err_class_parent(code), kk_err_poseidon_alias(code),
                         kk_err_category_name(kk_err_category(code)), kk_err_is_retriable(code) ? Py_True : Py_False);
}

/* {"classes": [(name, parent, category, alias, doc)], "broker_codes": [...], "client_codes": [...]} */
static PyObject *error_taxonomy(PyObject *module, PyObject *unused) {
    (void)module;
    (void)unused;
    const kk_error_class_t *classes;
    const int16_t *broker;
    const int *client;
    size_t nclasses = kk_error_class_list(&classes), nbroker = kk_err_broker_code_list(&broker),
           nclient = kk_err_client_code_list(&client);
    PyObject *c = PyList_New((Py_ssize_t)nclasses), *b = PyList_New((Py_ssize_t)nbroker),
             *k = PyList_New((Py_ssize_t)nclient), *result = NULL;
    if (!c || !b || !k)
        goto done;
    for (size_t i = 0; i < nclasses; i++) {
        PyObject *t = Py_BuildValue("(szszs)", classes[i].name, classes[i].parent,
                                    kk_err_category_name(classes[i].category), classes[i].alias, classes[i].doc);
        if (!t)
            goto done;
        PyList_SET_ITEM(c, (Py_ssize_t)i, t);
    }
    for (size_t i = 0; i < nbroker + nclient; i++) {
        PyObject *v = PyLong_FromLong(i < nbroker ? broker[i] : client[i - nbroker]);
        if (!v)
            goto done;
        PyList_SET_ITEM(i < nbroker ? b : k, (Py_ssize_t)(i < nbroker ? i : i - nbroker), v);
    }
    result = Py_BuildValue("{s:O,s:O,s:O}", "classes", c, "broker_codes", b, "client_codes", k);
done:
    Py_XDECREF(c);
    Py_XDECREF(b);
    Py_XDECREF(k);
    return result;
}

PyMethodDef kkpy_error_methods[] = {
    {"error_class", error_class_for, METH_O,
     "error_class(code)\n--\n\n"
     "The exception class kafkette raises for a Kafka error code (or a client-side code)."},
    {"_error_code_info", error_code_info, METH_O,
     "_error_code_info(code)\n--\n\n"
     "What the C core says about a code: (class name, parent class name or None, Poseidon alias or None, "
     "category, retriable). For tests."},
    {"_error_taxonomy", error_taxonomy, METH_NOARGS,
     "_error_taxonomy()\n--\n\n"
     "The C core's error taxonomy: {'classes': [(name, parent, category, alias, doc), ...], "
     "'broker_codes': [...], 'client_codes': [...]}. For tests."},
    {NULL, NULL, 0, NULL},
};
