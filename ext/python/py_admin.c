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

/* ---- kafkette.Admin: one client kept open for many administrative calls ----------------------
 * Each private method below maps one core function and returns plain tuples; the Python class
 * in kafkette/_admin.py gives them their names and types (docs/BINDINGS.md, "Admin"). */

typedef struct {
    kkpy_head h;
    kk_client_t *core; /* owned here; h.client is the same object while open (close() clears
                          h.client before the shutdown runs) */
    PyObject *brokers;   /* str, "host:port,..." */
    PyObject *client_id; /* str */
    PyThreadState *saved; /* while a call runs without the GIL */
} kkpy_admin;

static int admin_shutdown(kkpy_head *h, kk_error_t *err) {
    (void)err;
    kkpy_admin *self = (kkpy_admin *)h;
    kk_client_free(self->core); /* closes sockets, never waits */
    self->core = NULL;
    return KK_OK;
}

static PyObject *admin_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    (void)args;
    (void)kwargs;
    kkpy_state *st = kkpy_state_of_type(type);
    kkpy_admin *self = st ? (kkpy_admin *)type->tp_alloc(type, 0) : NULL;
    if (self && kkpy_head_init(&self->h, st, st->closed_error, "admin client", admin_shutdown) < 0)
        Py_CLEAR(self);
    return (PyObject *)self;
}

static void admin_dealloc(kkpy_admin *self) {
    PyTypeObject *type = Py_TYPE(self);
    kk_client_free(self->core);
    self->core = self->h.client = NULL;
    kkpy_head_free(&self->h);
    Py_CLEAR(self->brokers);
    Py_CLEAR(self->client_id);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

static int admin_init(kkpy_admin *self, PyObject *args, PyObject *kwargs) {
    static const char *const names[] = {"brokers", "client_id"};
    kkpy_state *st = self->h.call.st;
    if (self->brokers) {
        PyErr_SetString(PyExc_RuntimeError, "Admin is already initialised");
        return -1;
    }
    PyObject *p[2], *options;
    if (kkpy_split_args("Admin", args, kwargs, names, 2, 2, 1, p, &options) < 0)
        return -1;
    kk_config_t *cfg = kkpy_config_new(KK_CONFIG_CLIENT, &self->h.call);
    int rc = -1;
    kk_error_t err;
    if (cfg && kk_config_set(cfg, "client_id", "kafkette", &err) == KK_OK &&
        kkpy_option_set(st, cfg, "bootstrap_servers", p[0], NULL, NULL) == 0 &&
        (!p[1] || kkpy_option_set(st, cfg, "client_id", p[1], NULL, NULL) == 0) &&
        kkpy_options_apply(st, cfg, options, NULL, NULL) == 0) {
        self->h.client = self->core = kk_client_new(kk_config_client(cfg), &err);
        if (!self->h.client)
            kkpy_raise(st, &err);
        else if ((self->brokers = kkpy_config_str(cfg, "bootstrap_servers")) != NULL &&
                 (self->client_id = kkpy_config_str(cfg, "client_id")) != NULL)
            rc = 0;
    }
    kk_config_free(cfg);
    for (int i = 0; i < 2; i++)
        Py_XDECREF(p[i]);
    Py_DECREF(options);
    return rc;
}

/* A str list (or None: n = 0) as a PyMem array of UTF-8 views into the returned tuple. */
static PyObject *str_array(PyObject *value, const char *fname, const char ***out, size_t *n) {
    *out = NULL;
    *n = 0;
    if (value == Py_None)
        return PyTuple_New(0);
    PyObject *items = PySequence_Tuple(value);
    if (!items)
        return NULL;
    Py_ssize_t count = PyTuple_GET_SIZE(items);
    if (!(*out = PyMem_Calloc((size_t)count + 1, sizeof(**out)))) {
        Py_DECREF(items);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < count; i++)
        if (!((*out)[i] = kkpy_str_arg(PyTuple_GET_ITEM(items, i), fname, "each topic", false))) {
            PyMem_Free(*out);
            *out = NULL;
            Py_DECREF(items);
            return NULL;
        }
    *n = (size_t)count;
    return items;
}

/* KKPY_CALL as an expression: the thread state is kept in the object, whose lock is held. */
static void gil_release(kkpy_admin *self) {
    kkpy_call_begin(&self->h.call);
    self->saved = PyEval_SaveThread();
}

static void gil_take(kkpy_admin *self) {
    PyEval_RestoreThread(self->saved);
    self->saved = NULL;
}

/* Runs expr with the GIL released under the object's lock; 0 when it succeeded (else raised). */
#define ADMIN_CALL(self, fname, rc, err, expr)                                                     \
    (kkpy_enter(&(self)->h, fname) < 0                                                             \
         ? -1                                                                                      \
         : (gil_release(self), (rc) = (expr), gil_take(self), kkpy_leave(&(self)->h, (rc), &(err))))

static PyObject *int_tuple(const int32_t *v, size_t n) {
    PyObject *t = PyTuple_New((Py_ssize_t)n);
    for (size_t i = 0; t && i < n; i++) {
        PyObject *x = PyLong_FromLong(v[i]);
        if (!x)
            Py_CLEAR(t);
        else
            PyTuple_SET_ITEM(t, (Py_ssize_t)i, x);
    }
    return t;
}

static PyObject *str_or_none(const char *s) { return s ? PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "replace") : Py_NewRef(Py_None); }

/* Appends a new reference to list and drops it; -1 on failure (item NULL included). */
static int append_new(PyObject *list, PyObject *item) {
    int rc = item ? PyList_Append(list, item) : -1;
    Py_XDECREF(item);
    return rc;
}

static PyObject *a_list_topics(kkpy_admin *self, PyObject *args) {
    int internal = 0;
    if (!PyArg_ParseTuple(args, "p:_list_topics", &internal))
        return NULL;
    char **names = NULL;
    size_t count = 0;
    kk_error_t err;
    int rc;
    if (ADMIN_CALL(self, "list_topics", rc, err, kk_client_list_topics(self->h.client, internal, &names, &count, &err)) < 0)
        return NULL;
    PyObject *list = PyList_New(0);
    for (size_t i = 0; list && i < count; i++)
        if (append_new(list, str_or_none(names[i])) < 0)
            Py_CLEAR(list);
    kk_strings_free(names, count);
    return list;
}

static PyObject *partition_tuple(const kk_partition_info_t *p, const kk_partition_watermarks_t *w) {
    return Py_BuildValue("(iiNNNiiLLi)", (int)p->partition, (int)p->leader, int_tuple(p->replicas, p->replica_count),
                         int_tuple(p->isr, p->isr_count), int_tuple(p->offline_replicas, p->offline_replica_count),
                         (int)p->leader_epoch, (int)p->error_code, (long long)w->log_start_offset,
                         (long long)w->high_watermark, w->error);
}

/* -> (cluster_id, controller, [(node, host, port, rack)], [(name, error, internal, [partition])]) */
static PyObject *a_describe_topics(kkpy_admin *self, PyObject *args) {
    PyObject *topics_obj;
    if (!PyArg_ParseTuple(args, "O:_describe_topics", &topics_obj))
        return NULL;
    const char **topics;
    size_t n;
    PyObject *keep = str_array(topics_obj, "describe_topics", &topics, &n);
    if (!keep)
        return NULL;
    kk_topic_descriptions_t *d = NULL;
    kk_error_t err;
    int rc;
    int failed = ADMIN_CALL(self, "describe_topics", rc, err, kk_client_describe_topics(self->h.client, topics, n, &d, &err));
    PyMem_Free(topics);
    Py_DECREF(keep);
    if (failed < 0)
        return NULL;
    const kk_metadata_t *md = d->metadata;
    PyObject *brokers = PyList_New(0), *list = PyList_New(0), *result = NULL;
    for (size_t i = 0; brokers && i < md->broker_count; i++) {
        const kk_broker_info_t *b = &md->brokers[i];
        if (append_new(brokers, Py_BuildValue("(isiN)", (int)b->node_id, b->host, (int)b->port, str_or_none(b->rack))) < 0)
            Py_CLEAR(brokers);
    }
    for (size_t t = 0; list && t < md->topic_count; t++) {
        const kk_topic_info_t *ti = &md->topics[t];
        PyObject *parts = PyList_New(0);
        for (size_t p = 0; parts && p < ti->partition_count; p++)
            if (append_new(parts, partition_tuple(&ti->partitions[p], &d->watermarks[t][p])) < 0)
                Py_CLEAR(parts);
        if (!parts || append_new(list, Py_BuildValue("(siON)", ti->name, (int)ti->error_code,
                                                     ti->is_internal ? Py_True : Py_False, parts)) < 0)
            Py_CLEAR(list);
    }
    if (brokers && list)
        result = Py_BuildValue("(NiNN)", str_or_none(md->cluster_id), (int)md->controller_id, brokers, list);
    else {
        Py_XDECREF(brokers);
        Py_XDECREF(list);
    }
    kk_topic_descriptions_free(d);
    return result;
}

/* -> {topic: (error_code, partition_count)} */
static PyObject *a_partition_counts(kkpy_admin *self, PyObject *args) {
    PyObject *topics_obj;
    if (!PyArg_ParseTuple(args, "O:_partition_counts", &topics_obj))
        return NULL;
    const char **topics;
    size_t n;
    PyObject *keep = str_array(topics_obj, "partition_counts", &topics, &n);
    if (!keep)
        return NULL;
    kk_metadata_t *md = NULL;
    kk_error_t err;
    int rc;
    PyObject *result = NULL;
    if (n == 0)
        result = PyDict_New();
    else if (ADMIN_CALL(self, "partition_counts", rc, err, kk_client_metadata(self->h.client, topics, n, &md, &err)) == 0) {
        result = PyDict_New();
        for (size_t i = 0; result && i < n; i++) {
            const kk_topic_info_t *t = kk_metadata_topic(md, topics[i]);
            PyObject *v = Py_BuildValue("(in)", t ? (int)t->error_code : 3, t ? (Py_ssize_t)t->partition_count : 0);
            if (!v || PyDict_SetItem(result, PyTuple_GET_ITEM(keep, (Py_ssize_t)i), v) < 0)
                Py_CLEAR(result);
            Py_XDECREF(v);
        }
        kk_metadata_free(md);
    }
    PyMem_Free(topics);
    Py_DECREF(keep);
    return result;
}

static PyObject *a_create_topic(kkpy_admin *self, PyObject *args) {
    const char *topic;
    int partitions, rf, timeout_ms;
    PyObject *configs, *items = NULL;
    if (!PyArg_ParseTuple(args, "siiOi:_create_topic", &topic, &partitions, &rf, &configs, &timeout_ms))
        return NULL;
    kk_topic_config_t *cfgs = NULL;
    kk_error_t err;
    int rc, failed = topic_configs(configs, &items, &cfgs);
    if (failed == 0)
        failed = ADMIN_CALL(self, "create_topic", rc, err,
                            kk_client_create_topic(self->h.client, topic, partitions, (int16_t)rf, cfgs,
                                                   items ? (size_t)PyList_GET_SIZE(items) : 0, timeout_ms, &err));
    PyMem_Free(cfgs);
    Py_XDECREF(items);
    return failed ? NULL : Py_NewRef(Py_None);
}

static PyObject *a_delete_topic(kkpy_admin *self, PyObject *args) {
    const char *topic;
    int timeout_ms, rc;
    kk_error_t err;
    if (!PyArg_ParseTuple(args, "si:_delete_topic", &topic, &timeout_ms) ||
        ADMIN_CALL(self, "delete_topic", rc, err, kk_client_delete_topic(self->h.client, topic, timeout_ms, &err)) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *a_create_partitions(kkpy_admin *self, PyObject *args) {
    const char *topic;
    int total, timeout_ms, rc;
    kk_error_t err;
    if (!PyArg_ParseTuple(args, "sii:_create_partitions", &topic, &total, &timeout_ms) ||
        ADMIN_CALL(self, "create_partitions", rc, err,
                   kk_client_create_partitions(self->h.client, topic, total, timeout_ms, &err)) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *a_delete_records(kkpy_admin *self, PyObject *args) {
    const char *topic;
    int partition, timeout_ms, rc;
    long long offset;
    int64_t low = -1;
    kk_error_t err;
    if (!PyArg_ParseTuple(args, "siLi:_delete_records", &topic, &partition, &offset, &timeout_ms) ||
        ADMIN_CALL(self, "delete_records", rc, err,
                   kk_client_delete_records(self->h.client, topic, partition, offset, timeout_ms, &low, &err)) < 0)
        return NULL;
    return PyLong_FromLongLong(low);
}

static PyObject *a_watermarks(kkpy_admin *self, PyObject *args) {
    const char *topic;
    int partition, rc;
    int64_t low = -1, high = -1;
    kk_error_t err;
    if (!PyArg_ParseTuple(args, "si:_watermarks", &topic, &partition) ||
        ADMIN_CALL(self, "watermarks", rc, err, kk_client_watermarks(self->h.client, topic, partition, &low, &high, &err)) < 0)
        return NULL;
    return Py_BuildValue("(LL)", (long long)low, (long long)high);
}

static PyObject *a_offset_for_time(kkpy_admin *self, PyObject *args) {
    const char *topic;
    int partition, rc;
    long long ts;
    int64_t offset = -1, found = -1;
    kk_error_t err;
    if (!PyArg_ParseTuple(args, "siL:_offset_for_time", &topic, &partition, &ts) ||
        ADMIN_CALL(self, "offsets_for_times", rc, err,
                   kk_client_offset_for_time(self->h.client, topic, partition, ts, &offset, &found, &err)) < 0)
        return NULL;
    return Py_BuildValue("(LL)", (long long)offset, (long long)found);
}

static PyObject *a_list_groups(kkpy_admin *self, PyObject *unused) {
    (void)unused;
    kk_group_listing_t *groups = NULL;
    size_t count = 0;
    kk_error_t err;
    int rc;
    if (ADMIN_CALL(self, "list_groups", rc, err, kk_client_list_groups(self->h.client, &groups, &count, &err)) < 0)
        return NULL;
    PyObject *list = PyList_New(0);
    for (size_t i = 0; list && i < count; i++) {
        const kk_group_listing_t *g = &groups[i];
        if (append_new(list, Py_BuildValue("(NNNNi)", str_or_none(g->group_id), str_or_none(g->protocol_type),
                                           str_or_none(g->state), str_or_none(g->type), (int)g->coordinator)) < 0)
            Py_CLEAR(list);
    }
    kk_group_listings_free(groups, count);
    return list;
}

/* -> (group_id, state, protocol_type, protocol, coordinator,
 *     [(member_id, instance_id, client_id, client_host, [(topic, partition)], assignment_error)]) */
static PyObject *a_describe_group(kkpy_admin *self, PyObject *args) {
    const char *group_id;
    kk_group_description_t *d = NULL;
    kk_error_t err;
    int rc;
    if (!PyArg_ParseTuple(args, "s:_describe_group", &group_id) ||
        ADMIN_CALL(self, "describe_group", rc, err, kk_client_describe_group(self->h.client, group_id, &d, &err)) < 0)
        return NULL;
    PyObject *members = PyList_New(0), *result = NULL;
    for (size_t i = 0; members && i < d->member_count; i++) {
        const kk_group_member_description_t *m = &d->members[i];
        PyObject *assigned = PyList_New(0);
        for (size_t j = 0; assigned && j < m->assignment_count; j++)
            if (append_new(assigned, Py_BuildValue("(si)", m->assignment[j].topic, (int)m->assignment[j].partition)) < 0)
                Py_CLEAR(assigned);
        if (!assigned || append_new(members, Py_BuildValue("(NNNNNi)", str_or_none(m->member_id),
                                                           str_or_none(m->group_instance_id), str_or_none(m->client_id),
                                                           str_or_none(m->client_host), assigned,
                                                           m->assignment_error)) < 0)
            Py_CLEAR(members);
    }
    if (members)
        result = Py_BuildValue("(NNNNiN)", str_or_none(d->group_id), str_or_none(d->state),
                               str_or_none(d->protocol_type), str_or_none(d->protocol), (int)d->coordinator, members);
    kk_group_description_free(d);
    return result;
}

/* -> [(topic, partition, committed, end, lag, error)] */
static PyObject *a_group_lag(kkpy_admin *self, PyObject *args) {
    const char *group_id;
    kk_partition_lag_t *lags = NULL;
    size_t count = 0;
    kk_error_t err;
    int rc;
    if (!PyArg_ParseTuple(args, "s:_group_lag", &group_id) ||
        ADMIN_CALL(self, "group_lag", rc, err, kk_client_group_lag(self->h.client, group_id, &lags, &count, &err)) < 0)
        return NULL;
    PyObject *list = PyList_New(0);
    for (size_t i = 0; list && i < count; i++) {
        const kk_partition_lag_t *l = &lags[i];
        if (append_new(list, Py_BuildValue("(siLLLi)", l->topic, (int)l->partition, (long long)l->committed,
                                           (long long)l->end, (long long)l->lag, l->error)) < 0)
            Py_CLEAR(list);
    }
    kk_partition_lags_free(lags, count);
    return list;
}

/* -> [(name, value, source name, read_only, is_default, is_sensitive)] */
static PyObject *a_describe_configs(kkpy_admin *self, PyObject *args) {
    int type, rc;
    const char *name;
    kk_resource_configs_t *c = NULL;
    kk_error_t err;
    if (!PyArg_ParseTuple(args, "is:_describe_configs", &type, &name) ||
        ADMIN_CALL(self, "describe_configs", rc, err,
                   kk_client_describe_configs(self->h.client, (kk_resource_type_t)type, name, &c, &err)) < 0)
        return NULL;
    PyObject *list = PyList_New(0);
    for (size_t i = 0; list && i < c->count; i++) {
        const kk_resource_config_t *e = &c->entries[i];
        if (append_new(list, Py_BuildValue("(NNsOOO)", str_or_none(e->name), str_or_none(e->value),
                                           kk_config_source_name(e->source), e->read_only ? Py_True : Py_False,
                                           e->is_default ? Py_True : Py_False,
                                           e->is_sensitive ? Py_True : Py_False)) < 0)
            Py_CLEAR(list);
    }
    kk_resource_configs_free(c);
    return list;
}

/* _alter_configs(type, name, [(config, op, value or None)], validate_only) */
static PyObject *a_alter_configs(kkpy_admin *self, PyObject *args) {
    int type, validate_only, rc;
    const char *name;
    PyObject *list;
    if (!PyArg_ParseTuple(args, "isO!p:_alter_configs", &type, &name, &PyList_Type, &list, &validate_only))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(list);
    kk_config_alteration_t *alts = PyMem_Calloc((size_t)n + 1, sizeof(*alts));
    if (!alts)
        return PyErr_NoMemory();
    Py_INCREF(list); /* keeps the strings alive while the GIL is released */
    int failed = 0;
    for (Py_ssize_t i = 0; !failed && i < n; i++) {
        int op;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(list, i), "siz:alter_configs", &alts[i].name, &op, &alts[i].value))
            failed = -1;
        alts[i].op = (kk_alter_op_t)op;
    }
    kk_error_t err;
    if (!failed)
        failed = ADMIN_CALL(self, "alter_configs", rc, err,
                            kk_client_alter_configs(self->h.client, (kk_resource_type_t)type, name, alts, (size_t)n,
                                                    validate_only, &err));
    PyMem_Free(alts);
    Py_DECREF(list);
    return failed ? NULL : Py_NewRef(Py_None);
}

static PyObject *admin_obj_close(kkpy_admin *self, PyObject *unused) {
    (void)unused;
    return kkpy_close(&self->h);
}

static PyObject *admin_enter(kkpy_admin *self, PyObject *unused) {
    (void)unused;
    return self->h.client ? Py_NewRef(self) : kkpy_closed_error(&self->h, "__enter__");
}

static PyObject *admin_repr(kkpy_admin *self) {
    if (!self->brokers)
        return PyUnicode_FromString("<kafkette.Admin (not initialised)>");
    return PyUnicode_FromFormat("<kafkette.Admin brokers=%R client_id=%R%s>", self->brokers, self->client_id,
                                self->h.client ? "" : " closed");
}

#define A_METHOD(name, flags, doc) {#name, (PyCFunction)(void (*)(void))a##name, flags, doc}
static PyMethodDef admin_methods[] = {
    A_METHOD(_list_topics, METH_VARARGS, "_list_topics(include_internal) -> [name]"),
    A_METHOD(_describe_topics, METH_VARARGS, "_describe_topics(topics or None) -> (cluster, controller, brokers, topics)"),
    A_METHOD(_partition_counts, METH_VARARGS, "_partition_counts(topics) -> {topic: (error_code, count)}"),
    A_METHOD(_create_topic, METH_VARARGS, "_create_topic(topic, partitions, replication_factor, configs, timeout_ms)"),
    A_METHOD(_delete_topic, METH_VARARGS, "_delete_topic(topic, timeout_ms)"),
    A_METHOD(_create_partitions, METH_VARARGS, "_create_partitions(topic, total_count, timeout_ms)"),
    A_METHOD(_delete_records, METH_VARARGS, "_delete_records(topic, partition, before_offset, timeout_ms) -> low"),
    A_METHOD(_watermarks, METH_VARARGS, "_watermarks(topic, partition) -> (low, high)"),
    A_METHOD(_offset_for_time, METH_VARARGS, "_offset_for_time(topic, partition, ms) -> (offset, timestamp)"),
    A_METHOD(_list_groups, METH_NOARGS, "_list_groups() -> [(id, protocol_type, state, type, coordinator)]"),
    A_METHOD(_describe_group, METH_VARARGS, "_describe_group(group_id) -> tuple"),
    A_METHOD(_group_lag, METH_VARARGS, "_group_lag(group_id) -> [(topic, partition, committed, end, lag, error)]"),
    A_METHOD(_describe_configs, METH_VARARGS, "_describe_configs(type, name) -> [tuple]"),
    A_METHOD(_alter_configs, METH_VARARGS, "_alter_configs(type, name, [(config, op, value)], validate_only)"),
    {"close", (PyCFunction)admin_obj_close, METH_NOARGS,
     "close($self, /)\n--\n\nClose the connections; a call waiting in another thread raises ClosedError. Idempotent."},
    {"__enter__", (PyCFunction)admin_enter, METH_NOARGS, "Return the client."},
    {"__exit__", (PyCFunction)kkpy_exit_calls_close, METH_VARARGS, "Close the client."},
    {NULL, NULL, 0, NULL},
};
#undef A_METHOD

static PyMemberDef admin_members[] = {
    {"brokers", T_OBJECT, offsetof(kkpy_admin, brokers), READONLY, "The seed brokers, \"host:port,...\"."},
    {"client_id", T_OBJECT, offsetof(kkpy_admin, client_id), READONLY, "The client id sent to the brokers."},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef admin_getset[] = {
    {"closed", (getter)kkpy_get_closed, NULL, "True after close().", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot admin_slots[] = {
    {Py_tp_new, admin_new},
    {Py_tp_init, admin_init},
    {Py_tp_dealloc, admin_dealloc},
    {Py_tp_repr, admin_repr},
    {Py_tp_methods, admin_methods},
    {Py_tp_members, admin_members},
    {Py_tp_getset, admin_getset},
    {Py_tp_doc, "Admin(brokers, client_id='kafkette', **options)\n--\n\n"
                "The native half of kafkette.Admin: one client kept open for administrative calls."},
    {0, NULL},
};

PyType_Spec kkpy_admin_spec = {
    .name = "kafkette.Admin",
    .basicsize = sizeof(kkpy_admin),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .slots = admin_slots,
};
