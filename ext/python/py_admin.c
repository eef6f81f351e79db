/*
 * Topic administration: create_topic and delete_topic, each on a client of its own whose
 * options (the broker list, client_id and any other client option) go through a kk_config_t.
 */
#include "kkpy.h"

#include <string.h>

typedef struct admin_job {
    kk_client_t *client;
    kkpy_call call;
    kk_error_t err;
    int rc;
} admin_job_t;

/* A client for brokers, client_id (None: "kafkette-admin") and the other client options. */
static int admin_open(admin_job_t *job, kkpy_state *st, PyObject *brokers, PyObject *client_id,
                      PyObject *options) {
    memset(job, 0, sizeof(*job));
    kkpy_call_init(&job->call, st);
    kk_config_t *cfg = kkpy_config_new(KK_CONFIG_CLIENT, &job->call);
    if (!cfg)
        return -1;
    int rc = kk_config_set(cfg, "client_id", "kafkette-admin", &job->err) == KK_OK &&
                     kkpy_option_set(st, cfg, "bootstrap_servers", brokers, NULL, NULL) == 0 &&
                     (!client_id || kkpy_option_set(st, cfg, "client_id", client_id, NULL, NULL) == 0) &&
                     kkpy_options_apply(st, cfg, options, NULL, NULL) == 0
                 ? 0
                 : -1;
    if (rc == 0 && !(job->client = kk_client_new(kk_config_client(cfg), &job->err))) {
        kkpy_raise(st, &job->err);
        rc = -1;
    }
    kk_config_free(cfg);
    return rc;
}

/* Runs job->rc = expr with the GIL released, then frees the client, logs, and raises what
 * failed (unless it is tolerated); 0 when the job succeeded. */
#define ADMIN_RUN(job, st, expr, tolerated_code)                                                   \
    do {                                                                                           \
        kkpy_call_begin(&(job).call);                                                              \
        Py_BEGIN_ALLOW_THREADS                                                                     \
        (job).rc = (expr);                                                                         \
        Py_END_ALLOW_THREADS                                                                       \
        failed = admin_close(&(job), st, tolerated_code);                                          \
    } while (0)

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

/* configs: a dict of str -> str (ints and bools are written out). A list of (name, value) str
 * pairs in *items and the core's array in *out (PyMem); -1 with an exception. */
static int topic_configs(PyObject *configs, PyObject **items, kk_topic_config_t **out) {
    if (!configs || configs == Py_None)
        return 0;
    if (!PyDict_Check(configs)) {
        PyErr_Format(PyExc_TypeError, "create_topic: configs must be a dict, not %.100s", Py_TYPE(configs)->tp_name);
        return -1;
    }
    if (!(*items = PyList_New(0)))
        return -1;
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (PyDict_Next(configs, &pos, &k, &v)) {
        PyObject *value = PyBool_Check(v)                          ? PyUnicode_FromString(v == Py_True ? "true" : "false")
                          : (PyLong_Check(v) || PyUnicode_Check(v)) ? PyObject_Str(v)
                                                                    : NULL;
        if (!value && !PyErr_Occurred())
            PyErr_Format(PyExc_TypeError, "create_topic: config %R must be a str or an int, not %.100s", k,
                         Py_TYPE(v)->tp_name);
        PyObject *pair = value ? PyTuple_Pack(2, k, value) : NULL;
        Py_XDECREF(value);
        int rc = pair ? PyList_Append(*items, pair) : -1;
        Py_XDECREF(pair);
        if (rc < 0)
            return -1;
    }
    Py_ssize_t n = PyList_GET_SIZE(*items);
    if (!(*out = PyMem_Calloc((size_t)n + 1, sizeof(**out)))) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *pair = PyList_GET_ITEM(*items, i);
        (*out)[i].name = kkpy_str_arg(PyTuple_GET_ITEM(pair, 0), "create_topic", "each config name", false);
        (*out)[i].value =
            (*out)[i].name ? kkpy_str_arg(PyTuple_GET_ITEM(pair, 1), "create_topic", "each config value", true) : NULL;
        if (!(*out)[i].value)
            return -1;
    }
    return 0;
}

static PyObject *create_topic(PyObject *module, PyObject *args, PyObject *kwargs) {
    static const char *const names[] = {"brokers", "topic", "partitions", "replication_factor", "configs",
                                        "timeout_ms", "exist_ok", "client_id"};
    kkpy_state *st = kkpy_state_of_module(module);
    PyObject *p[8], *options, *items = NULL;
    if (kkpy_split_args("create_topic", args, kwargs, names, 8, 5, 3, p, &options) < 0)
        return NULL;
    kk_topic_config_t *cfgs = NULL;
    long long partitions, rf = 1, timeout_ms = 30000;
    int exist_ok = p[6] ? PyObject_IsTrue(p[6]) : 0, failed = -1;
    const char *topic = kkpy_str_arg(p[1], "create_topic", "topic", false);
    admin_job_t job;
    if (topic && exist_ok >= 0 && kkpy_int_arg(p[2], "create_topic", "partitions", 1, INT32_MAX, &partitions) == 0 &&
        (!p[3] || kkpy_int_arg(p[3], "create_topic", "replication_factor", 1, INT16_MAX, &rf) == 0) &&
        (!p[5] || kkpy_int_arg(p[5], "create_topic", "timeout_ms", 1, INT32_MAX, &timeout_ms) == 0) &&
        topic_configs(p[4], &items, &cfgs) == 0 && admin_open(&job, st, p[0], p[7], options) == 0)
        ADMIN_RUN(job, st,
                  kk_client_create_topic(job.client, topic, (int32_t)partitions, (int16_t)rf, cfgs,
                                         items ? (size_t)PyList_GET_SIZE(items) : 0, (int)timeout_ms, &job.err),
                  exist_ok ? 36 /* TOPIC_ALREADY_EXISTS */ : KK_OK);
    PyMem_Free(cfgs);
    Py_XDECREF(items);
    for (int i = 0; i < 8; i++)
        Py_XDECREF(p[i]);
    Py_DECREF(options);
    return failed ? NULL : Py_NewRef(Py_None);
}

static PyObject *delete_topic(PyObject *module, PyObject *args, PyObject *kwargs) {
    static const char *const names[] = {"brokers", "topic", "timeout_ms", "missing_ok", "client_id"};
    kkpy_state *st = kkpy_state_of_module(module);
    PyObject *p[5], *options;
    if (kkpy_split_args("delete_topic", args, kwargs, names, 5, 2, 2, p, &options) < 0)
        return NULL;
    long long timeout_ms = 30000;
    int missing_ok = p[3] ? PyObject_IsTrue(p[3]) : 0, failed = -1;
    const char *topic = kkpy_str_arg(p[1], "delete_topic", "topic", false);
    admin_job_t job;
    if (topic && missing_ok >= 0 &&
        (!p[2] || kkpy_int_arg(p[2], "delete_topic", "timeout_ms", 1, INT32_MAX, &timeout_ms) == 0) &&
        admin_open(&job, st, p[0], p[4], options) == 0)
        ADMIN_RUN(job, st, kk_client_delete_topic(job.client, topic, (int)timeout_ms, &job.err),
                  missing_ok ? 3 /* UNKNOWN_TOPIC_OR_PARTITION */ : KK_OK);
    for (int i = 0; i < 5; i++)
        Py_XDECREF(p[i]);
    Py_DECREF(options);
    return failed ? NULL : Py_NewRef(Py_None);
}

PyMethodDef kkpy_admin_methods[] = {
    {"create_topic", (PyCFunction)(void (*)(void))create_topic, METH_VARARGS | METH_KEYWORDS,
     "create_topic(brokers, topic, partitions, replication_factor=1, configs=None, *, timeout_ms=30000, "
     "exist_ok=False, client_id='kafkette-admin', **options)\n--\n\n"
     "Create a topic and wait until every partition has a leader. configs maps topic config names to "
     "values (str or int). Raises TopicAlreadyExists unless exist_ok is true. options are client options "
     "(docs/CONFIGURATION.md: connect_timeout_ms, request_timeout_ms, ...)."},
    {"delete_topic", (PyCFunction)(void (*)(void))delete_topic, METH_VARARGS | METH_KEYWORDS,
     "delete_topic(brokers, topic, *, timeout_ms=30000, missing_ok=False, client_id='kafkette-admin', "
     "**options)\n--\n\n"
     "Delete a topic. Raises UnknownTopicOrPartition when there is none, unless missing_ok is true. "
     "options are client options."},
    {NULL, NULL, 0, NULL},
};
