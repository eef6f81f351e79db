/*
 * kafkette._kafkette: module init and state.
 */
#include "kkpy.h"

#include <string.h>

static struct PyModuleDef kkpy_module_def;

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

/* ---- module setup ---------------------------------------------------------------------------- */

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
    st->str_retriable = PyUnicode_InternFromString("retriable");
    if (!st->empty_tuple || !st->str_code || !st->str_retriable || kkpy_errors_init(module, st) < 0 ||
        PyModule_AddFunctions(module, kkpy_admin_methods) < 0 ||
        PyModule_AddFunctions(module, kkpy_cli_methods) < 0 || PyModule_AddFunctions(module, kkpy_error_methods) < 0)
        return -1;
    if (add_type(module, &kkpy_message_spec, &st->message_type) < 0 ||
        add_type(module, &kkpy_fetched_spec, &st->fetched_type) < 0 ||
        add_type(module, &kkpy_producer_spec, &st->producer_type) < 0 ||
        add_type(module, &kkpy_consumer_spec, &st->consumer_type) < 0 ||
        add_type(module, &kkpy_group_spec, &st->group_type) < 0 ||
        add_type(module, &kkpy_admin_spec, &st->admin_type) < 0 ||
        add_type(module, &kkpy_produced_spec, &st->produced_type) < 0)
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

/* Every object the state holds, for traverse and clear. */
#define KKPY_STATE_OBJECTS(X)                                                                      \
    X(producer_type) X(consumer_type) X(message_type) X(fetched_type) X(failure_type) X(group_type)     \
    X(topic_partition_type) X(admin_type) X(produced_type) X(error_classes) X(Error) X(ProducerShutdownError)            \
    X(ConsumerClosedError) X(FailedToSendMessages) X(closed_error) X(logger) X(empty_tuple) X(str_code) X(str_retriable)

static int kkpy_traverse(PyObject *module, visitproc visit, void *arg) {
    kkpy_state *st = kkpy_state_of_module(module);
#define VISIT(field) Py_VISIT(st->field);
    if (st) {
        KKPY_STATE_OBJECTS(VISIT)
    }
#undef VISIT
    return 0;
}

static int kkpy_clear(PyObject *module) {
    kkpy_state *st = kkpy_state_of_module(module);
#define CLEAR(field) Py_CLEAR(st->field);
    if (st) {
        KKPY_STATE_OBJECTS(CLEAR)
    }
#undef CLEAR
    return 0;
}

static void kkpy_free(void *module) { kkpy_clear((PyObject *)module); }

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
    .m_slots = kkpy_slots,
    .m_traverse = kkpy_traverse,
    .m_clear = kkpy_clear,
    .m_free = kkpy_free,
};

PyMODINIT_FUNC PyInit__kafkette(void) { return PyModuleDef_Init(&kkpy_module_def); }
