/*
 * The `kafkette` console command from the Python package: kafkette._cli.main (the console_scripts
 * entry point) calls _cli_main(argv), which runs the C command (kk_cli_main, tools/cli) with the
 * GIL released. For the duration of the call kk_cli_main owns SIGINT (Ctrl-C ends the command
 * with its summary and exit code 130) and then gives Python its handler back.
 */
#include "kkpy.h"

#include <string.h>

#include "kafkette_cli.h"

static PyObject *cli_main(PyObject *module, PyObject *arg) {
    (void)module;
    PyObject *items = PySequence_Tuple(arg);
    if (!items)
        return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(items);
    char **argv = PyMem_Calloc((size_t)n + 1, sizeof(char *));
    int failed = argv ? 0 : (PyErr_NoMemory(), -1);
    for (Py_ssize_t i = 0; !failed && i < n; i++) {
        /* copies: the strings must outlive the GIL */
        const char *text =
            kkpy_str_arg(PyTuple_GET_ITEM(items, i), "_cli_main", "each argument", true);
        if (!text || !(argv[i] = PyMem_RawMalloc(strlen(text) + 1)))
            failed = text ? (PyErr_NoMemory(), -1) : -1;
        else
            memcpy(argv[i], text, strlen(text) + 1);
    }
    int rc = 2;
    if (!failed) {
        Py_BEGIN_ALLOW_THREADS
        rc = kk_cli_main((int)n, argv);
        Py_END_ALLOW_THREADS
    }
    for (Py_ssize_t i = 0; argv && i < n; i++)
        PyMem_RawFree(argv[i]);
    PyMem_Free(argv);
    Py_DECREF(items);
    return failed ? NULL : PyLong_FromLong(rc);
}

PyMethodDef kkpy_cli_methods[] = {
    {"_cli_main", cli_main, METH_O,
     "_cli_main(argv)\n--\n\nRun the kafkette command with argv (argv[0]: the program's name) and "
     "return its exit "
     "code; the GIL is released meanwhile and Ctrl-C stops the command (exit code 130)."},
    {NULL, NULL, 0, NULL},
};
