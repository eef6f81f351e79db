/*
 * kafkette.ConsumerGroup over kk_group_*: joins in the constructor, polls one partition's batch
 * at a time with the GIL released (interruptible by Ctrl-C or by close() from another thread),
 * and runs the rebalance callbacks on the polling thread.
 *
 * Callbacks: the core calls on_assign/on_revoke from inside kk_group_poll/close, on our
 * thread, while we hold the object's lock and have released the GIL. The C callback takes the
 * GIL back and calls the Python callable there and then, because on_revoke is the last moment
 * the claims still exist to be committed. A commit() from inside the callback (same thread,
 * lock already held) calls the core directly instead of locking again.
 */
#include "kkpy.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    PyObject_HEAD
    kk_group_t *group;       /* NULL before init and once closed */
    PyThread_type_lock lock; /* serialises core calls; taken with the GIL released */
    unsigned long owner;     /* thread holding lock, 0 = none */
    kkpy_call call;
    bool closing;            /* close() was called: an interrupted poll ends quietly */
    bool in_callback;        /* the owner thread is running on_assign/on_revoke */
    PyObject *on_assign;     /* callables, or NULL */
    PyObject *on_revoke;
    PyObject *group_name;    /* str */
    PyObject *topics;        /* tuple of str: the subscription, shared with every FetchedMessage */
    PyObject *client_id;
    PyObject *brokers;
    /* copies taken after each core call (and before each callback), so reading them never
     * races a poll in another thread */
    PyObject *claimed;       /* tuple of TopicPartition */
    PyObject *member_id;     /* str */
    int32_t generation;
    bool is_leader;
    /* A batch the core returned while an exception (Ctrl-C, a callback's error) was being
     * raised: the next poll returns it first, so that no record is skipped. */
    kk_fetch_batch_t *pending;
    kk_topic_partition_t pending_tp;
} kkpy_group;

#define OWNER "ConsumerGroup"

/* ---- helpers ------------------------------------------------------------------------------ */

/* The subscription's str object for a topic name from the core (borrowed; new when unknown). */
static PyObject *topic_object(kkpy_group *self, const char *name, bool *owned) {
    *owned = false;
    for (Py_ssize_t i = 0; self->topics && i < PyTuple_GET_SIZE(self->topics); i++) {
        PyObject *t = PyTuple_GET_ITEM(self->topics, i);
        const char *s = PyUnicode_AsUTF8(t);
        if (s && strcmp(s, name) == 0)
            return t;
    }
    *owned = true;
    return PyUnicode_FromString(name);
}

static PyObject *topic_partition_new(kkpy_group *self, const kk_topic_partition_t *tp) {
    bool owned;
    PyObject *topic = topic_object(self, tp->topic, &owned);
    if (!topic)
        return NULL;
    PyObject *partition = PyLong_FromLong(tp->partition);
    PyObject *obj = partition ? PyStructSequence_New(self->call.st->topic_partition_type) : NULL;
    if (!obj) {
        if (owned)
            Py_DECREF(topic);
        Py_XDECREF(partition);
        return NULL;
    }
    PyStructSequence_SET_ITEM(obj, 0, owned ? topic : Py_NewRef(topic));
    PyStructSequence_SET_ITEM(obj, 1, partition);
    return obj;
}

static PyObject *topic_partition_tuple(kkpy_group *self, const kk_topic_partition_t *parts, size_t n) {
    PyObject *tuple = PyTuple_New((Py_ssize_t)n);
    for (size_t i = 0; tuple && i < n; i++) {
        PyObject *tp = topic_partition_new(self, &parts[i]);
        if (!tp)
            Py_CLEAR(tuple);
        else
            PyTuple_SET_ITEM(tuple, (Py_ssize_t)i, tp);
    }
    return tuple;
}

/* Refreshes the copies above from the core. Needs the GIL and the lock (or the callback). */
static void take_snapshot(kkpy_group *self) {
    PyObject *pending = kkpy_exc_take(); /* an error the caller is about to raise */
    PyObject *claimed = NULL;
    if (self->group) {
        size_t n = kk_group_claimed(self->group, NULL, 0);
        kk_topic_partition_t *parts = n ? malloc(n * sizeof(*parts)) : NULL;
        if (n && !parts) {
            PyErr_NoMemory();
        } else {
            n = kk_group_claimed(self->group, parts, n);
            claimed = topic_partition_tuple(self, parts, n);
        }
        free(parts);
        self->generation = kk_group_generation(self->group);
        self->is_leader = kk_group_is_leader(self->group);
        const char *id = kk_group_member_id(self->group);
        const char *old = self->member_id ? PyUnicode_AsUTF8(self->member_id) : NULL;
        if (!old || strcmp(old, id) != 0) {
            PyObject *s = PyUnicode_DecodeUTF8(id, (Py_ssize_t)strlen(id), "replace");
            if (s)
                Py_XSETREF(self->member_id, s);
        }
    } else {
        claimed = PyTuple_New(0);
        self->generation = -1;
        self->is_leader = false;
    }
    if (claimed)
        Py_XSETREF(self->claimed, claimed);
    if (PyErr_Occurred())
        PyErr_WriteUnraisable((PyObject *)self); /* keeps the old copy; only MemoryError gets here */
    if (pending)
        kkpy_exc_restore(pending);
}

static PyObject *closed_error(kkpy_group *self, const char *text) {
    PyErr_SetString(self->call.st->ConsumerClosedError, text);
    return NULL;
}

static bool in_own_callback(kkpy_group *self) {
    return self->in_callback && self->owner == PyThread_get_thread_ident();
}

static PyObject *not_in_callback(const char *what) {
    PyErr_Format(PyExc_RuntimeError,
                 "%s is not allowed inside an on_assign/on_revoke callback (only commit() is)", what);
    return NULL;
}

/* ---- rebalance callbacks (called by the core with the GIL released) ------------------- */

static void run_callback(kkpy_group *self, PyObject *callable, const kk_topic_partition_t *parts,
                         size_t n) {
    PyGILState_STATE gil = PyGILState_Ensure();
    take_snapshot(self);
    if (callable) {
        PyObject *cb = Py_NewRef(callable); /* close() may clear the attribute meanwhile */
        PyObject *tuple = topic_partition_tuple(self, parts, n);
        PyObject *list = tuple ? PySequence_List(tuple) : NULL;
        Py_XDECREF(tuple);
        PyObject *result = NULL;
        if (list) {
            self->in_callback = true;
            result = PyObject_CallOneArg(cb, list);
            self->in_callback = false;
            Py_DECREF(list);
        }
        Py_DECREF(cb);
        Py_XDECREF(result);
        if (!result) {
            PyObject *exc = kkpy_exc_take();
            if (!self->call.exc)
                self->call.exc = exc;
            else
                Py_XDECREF(exc);
            /* stop the poll at its next wait so the error surfaces; close() still leaves */
            if (!self->closing)
                self->call.abort = true;
        }
    }
    PyGILState_Release(gil);
}

static void cb_assign(void *opaque, const kk_topic_partition_t *parts, size_t n) {
    kkpy_group *self = opaque;
    run_callback(self, self->on_assign, parts, n);
}

static void cb_revoke(void *opaque, const kk_topic_partition_t *parts, size_t n) {
    kkpy_group *self = opaque;
    run_callback(self, self->on_revoke, parts, n);
}

/* ---- construction ------------------------------------------------------------------------ */

static PyObject *group_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    (void)args;
    (void)kwargs;
    kkpy_state *st = kkpy_state_of_type(type);
    if (!st)
        return NULL;
    kkpy_group *self = (kkpy_group *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    kkpy_call_init(&self->call, st);
    self->generation = -1;
    self->claimed = PyTuple_New(0);
    self->member_id = PyUnicode_FromString("");
    self->lock = PyThread_allocate_lock();
    if (!self->lock || !self->claimed || !self->member_id) {
        Py_DECREF(self);
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        return NULL;
    }
    return (PyObject *)self;
}

static int group_traverse(kkpy_group *self, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->on_assign);
    Py_VISIT(self->on_revoke);
    return 0;
}

static int group_clear(kkpy_group *self) {
    Py_CLEAR(self->on_assign);
    Py_CLEAR(self->on_revoke);
    return 0;
}

static void group_dealloc(kkpy_group *self) {
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    kk_fetch_batch_free(self->pending);
    if (self->group) {
        /* No LeaveGroup and no callbacks here: the coordinator drops the member after the
         * session timeout. Freeing joins the heartbeat thread, which never needs the GIL. */
        kk_group_t *g = self->group;
        self->group = NULL;
        Py_BEGIN_ALLOW_THREADS
        kk_group_free(g);
        Py_END_ALLOW_THREADS
    }
    if (self->lock)
        PyThread_free_lock(self->lock);
    kkpy_call_clear(&self->call);
    Py_CLEAR(self->on_assign);
    Py_CLEAR(self->on_revoke);
    Py_CLEAR(self->group_name);
    Py_CLEAR(self->topics);
    Py_CLEAR(self->client_id);
    Py_CLEAR(self->brokers);
    Py_CLEAR(self->claimed);
    Py_CLEAR(self->member_id);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

/* Constructor options that are not config fields (or need a second look once all are read). */
typedef struct {
    int trail;       /* -1 unset, else 0/1 */
    int reset;       /* -1 unset, else KK_RESET_* */
    bool heartbeat_set;
    const char *client_id;
} group_extra_t;

static int callable_option(PyObject *value, const char *name, PyObject **slot) {
    if (value == Py_None) {
        Py_CLEAR(*slot);
        return 0;
    }
    if (!PyCallable_Check(value)) {
        PyErr_Format(PyExc_TypeError, OWNER ": %s must be a callable taking a list of (topic, partition), not %.100s",
                     name, Py_TYPE(value)->tp_name);
        return -1;
    }
    Py_XSETREF(*slot, Py_NewRef(value));
    return 0;
}

static int apply_option(kkpy_group *self, kk_group_config_t *cfg, group_extra_t *extra, const char *name,
                        PyObject *value) {
    long long v;
#define INT_OPTION(opt, lo, hi, field) KKPY_INT_OPTION(OWNER, opt, lo, hi, field)
    INT_OPTION("session_timeout_ms", 1, INT32_MAX, cfg->session_timeout_ms)
    INT_OPTION("rebalance_timeout_ms", 1, INT32_MAX, cfg->rebalance_timeout_ms)
    INT_OPTION("auto_commit_interval_ms", 0, INT32_MAX, cfg->auto_commit_interval_ms)
    INT_OPTION("max_bytes", 1, INT32_MAX, cfg->max_bytes)
    INT_OPTION("max_wait_ms", 0, INT32_MAX, cfg->max_wait_ms)
    INT_OPTION("metadata_refresh_interval_ms", 1, INT32_MAX, cfg->metadata_refresh_interval_ms)
    INT_OPTION("retry_backoff_ms", 0, INT32_MAX, cfg->retry_backoff_ms)
    INT_OPTION("socket_timeout_ms", 1, INT32_MAX, cfg->client.request_timeout_ms)
    INT_OPTION("connect_timeout_ms", 1, INT32_MAX, cfg->client.connect_timeout_ms)
#undef INT_OPTION
    if (strcmp(name, "heartbeat_interval_ms") == 0) {
        if (kkpy_int_option(value, OWNER, name, 1, INT32_MAX, &v) < 0)
            return -1;
        cfg->heartbeat_interval_ms = (int)v;
        extra->heartbeat_set = true;
        return 0;
    }
    if (strcmp(name, "assignor") == 0) {
        /* validated by the core, which knows the assignors */
        return (cfg->assignor = kkpy_str_arg(value, OWNER, "assignor", true)) ? 0 : -1;
    }
    if (strcmp(name, "client_id") == 0)
        return (extra->client_id = kkpy_str_arg(value, OWNER, "client_id", false)) ? 0 : -1;
    if (strcmp(name, "trail") == 0) {
        int b = PyObject_IsTrue(value);
        if (b < 0)
            return -1;
        extra->trail = b;
        return 0;
    }
    if (strcmp(name, "offset_reset") == 0) {
        const char *s = kkpy_str_arg(value, OWNER, "offset_reset", false);
        if (!s)
            return -1;
        if (strcmp(s, "earliest") == 0)
            extra->reset = KK_RESET_EARLIEST;
        else if (strcmp(s, "latest") == 0)
            extra->reset = KK_RESET_LATEST;
        else {
            PyErr_Format(PyExc_ValueError, OWNER ": offset_reset must be 'earliest' or 'latest', got %R", value);
            return -1;
        }
        return 0;
    }
    if (strcmp(name, "on_assign") == 0)
        return callable_option(value, name, &self->on_assign);
    if (strcmp(name, "on_revoke") == 0)
        return callable_option(value, name, &self->on_revoke);
    PyErr_Format(PyExc_TypeError, OWNER "() got an unexpected option '%s'", name);
    return -1;
}

/* topics: a list/tuple of str, or one str. A new tuple. */
static PyObject *topics_tuple(PyObject *topics) {
    PyObject *tuple;
    if (PyUnicode_Check(topics))
        tuple = PyTuple_Pack(1, topics);
    else if (PyList_Check(topics) || PyTuple_Check(topics))
        tuple = PySequence_Tuple(topics);
    else {
        PyErr_Format(PyExc_TypeError, OWNER ": topics must be a list of str (or one str), not %.100s",
                     Py_TYPE(topics)->tp_name);
        return NULL;
    }
    for (Py_ssize_t i = 0; tuple && i < PyTuple_GET_SIZE(tuple); i++)
        if (!kkpy_str_arg(PyTuple_GET_ITEM(tuple, i), OWNER, "each topic", true))
            Py_CLEAR(tuple);
    return tuple;
}

/* Runs a blocking core call on self->group with the lock held and the GIL released. */
#define GROUP_CALL(self, rc, expr) \
    do { \
        kkpy_call_begin(&(self)->call); \
        Py_BEGIN_ALLOW_THREADS \
        rc = (expr); \
        Py_END_ALLOW_THREADS \
    } while (0)

/* Ends a call: snapshot, unlock, log; then raises what failed. 0 when rc is KK_OK and no
 * callback raised. */
static int finish_call(kkpy_group *self, int rc, const kk_error_t *err) {
    kkpy_log_line *lines = NULL;
    PyObject *exc = kkpy_call_end(&self->call, &lines);
    take_snapshot(self);
    kkpy_unlock(self->lock, &self->owner);
    kkpy_log_emit(self->call.st, lines);
    if (exc) {
        kkpy_exc_restore(exc);
        return -1;
    }
    if (rc != KK_OK) {
        kkpy_raise(self->call.st, err);
        return -1;
    }
    return 0;
}

static int group_init(kkpy_group *self, PyObject *args, PyObject *kwargs) {
    static const char *const names[] = {"group_name", "brokers", "topics"};
    kkpy_state *st = self->call.st;
    if (self->group || self->group_name) {
        PyErr_SetString(PyExc_RuntimeError, OWNER " is already initialised");
        return -1;
    }
    PyObject *p[3], *options;
    if (kkpy_split_args(OWNER, args, kwargs, names, 3, p, &options) < 0)
        return -1;
    int result = -1;
    char *bootstrap = NULL;
    const char **topic_names = NULL;
    PyObject *topics = NULL;
    const char *group_id = kkpy_str_arg(p[0], OWNER, "group_name", true);
    if (!group_id || !(bootstrap = kkpy_brokers_string(p[1], OWNER)) || !(topics = topics_tuple(p[2])))
        goto done;

    kk_group_config_t cfg;
    kk_group_config_init(&cfg);
    cfg.auto_commit_interval_ms = 5000;
    group_extra_t extra = {-1, -1, false, "kafkette"};
    PyObject *name, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(options, &pos, &name, &value)) {
        const char *opt = PyUnicode_AsUTF8(name);
        if (!opt || apply_option(self, &cfg, &extra, opt, value) < 0)
            goto done;
    }
    if (extra.trail >= 0 && extra.reset >= 0 && (extra.trail == 1) != (extra.reset == KK_RESET_LATEST)) {
        PyErr_SetString(PyExc_ValueError, OWNER ": trail and offset_reset disagree (trail=True means 'latest')");
        goto done;
    }
    if (extra.trail == 1 || extra.reset == KK_RESET_LATEST)
        cfg.start_when_no_commit = KK_RESET_LATEST;
    /* short sessions need a shorter heartbeat than the default 3 s */
    if (!extra.heartbeat_set && cfg.heartbeat_interval_ms * 3 > cfg.session_timeout_ms)
        cfg.heartbeat_interval_ms = cfg.session_timeout_ms / 3 > 0 ? cfg.session_timeout_ms / 3 : 1;

    Py_ssize_t n = PyTuple_GET_SIZE(topics);
    topic_names = PyMem_Calloc((size_t)n + 1, sizeof(*topic_names));
    if (!topic_names) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        topic_names[i] = PyUnicode_AsUTF8(PyTuple_GET_ITEM(topics, i));
    cfg.client.bootstrap_servers = bootstrap;
    cfg.client.client_id = extra.client_id;
    cfg.group_id = group_id;
    cfg.topics = topic_names;
    cfg.topic_count = (size_t)n;
    cfg.on_assign = cb_assign;
    cfg.on_revoke = cb_revoke;
    cfg.rebalance_opaque = self;
    kkpy_call_attach(&self->call, &cfg.client);
    kk_error_t err;
    kk_group_t *group = kk_group_new(&cfg, &err);
    if (!group) {
        kkpy_raise(st, &err);
        goto done;
    }
    self->group_name = Py_NewRef(p[0]);
    self->topics = Py_NewRef(topics);
    self->client_id = PyUnicode_FromString(extra.client_id);
    self->brokers = PyUnicode_FromString(bootstrap);
    if (!self->client_id || !self->brokers || kkpy_lock(self->lock, &self->owner) < 0) {
        kk_group_free(group);
        goto done;
    }
    self->group = group;
    /* Join now, so that a missing topic fails here and `claimed` is filled at once. */
    int rc;
    GROUP_CALL(self, rc, kk_group_join(group, cfg.rebalance_timeout_ms, &err));
    if (rc != KK_OK || self->call.exc) {
        /* leave cleanly if we got as far as joining; on_revoke may run, but must not abort */
        kk_error_t close_err;
        self->closing = true;
        self->call.abort = false; /* a Ctrl-C that stopped the join must not stop the leave */
        Py_BEGIN_ALLOW_THREADS
        kk_group_close(group, &close_err);
        kk_group_free(group);
        Py_END_ALLOW_THREADS
        self->group = NULL;
    }
    result = finish_call(self, rc, &err);
done:
    PyMem_Free(topic_names);
    PyMem_Free(bootstrap);
    Py_XDECREF(topics);
    for (int i = 0; i < 3; i++)
        Py_XDECREF(p[i]);
    Py_DECREF(options);
    return result;
}

/* ---- polling ------------------------------------------------------------------------------- */

/* (TopicPartition, [FetchedMessage, ...]) for a batch; frees nothing. */
static PyObject *batch_result(kkpy_group *self, const kk_fetch_batch_t *batch, const kk_topic_partition_t *tp) {
    PyObject *key = topic_partition_new(self, tp);
    if (!key)
        return NULL;
    PyObject *topic = PyStructSequence_GET_ITEM(key, 0), *partition = PyStructSequence_GET_ITEM(key, 1);
    PyObject *list = PyList_New((Py_ssize_t)batch->count);
    for (size_t i = 0; list && i < batch->count; i++) {
        PyObject *m = kkpy_fetched_new(self->call.st, topic, partition, &batch->messages[i]);
        if (!m)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, (Py_ssize_t)i, m);
    }
    PyObject *result = list ? PyTuple_Pack(2, key, list) : NULL;
    Py_DECREF(key);
    Py_XDECREF(list);
    return result;
}

static int timeout_arg(PyObject *args, PyObject *kwargs, const char *fname, long long dflt, long long *out) {
    static char *kwlist[] = {"timeout_ms", NULL};
    PyObject *obj = NULL;
    char fmt[64];
    snprintf(fmt, sizeof(fmt), "|O:%s", fname);
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, fmt, kwlist, &obj))
        return -1;
    *out = dflt;
    return obj && obj != Py_None ? kkpy_int_option(obj, fname, "timeout_ms", 0, INT32_MAX, out) : 0;
}

static PyObject *group_poll(kkpy_group *self, PyObject *args, PyObject *kwargs) {
    long long timeout_ms;
    if (timeout_arg(args, kwargs, "poll", 1000, &timeout_ms) < 0)
        return NULL;
    if (in_own_callback(self))
        return not_in_callback("poll()");
    if (!self->group)
        return closed_error(self, self->group_name ? "poll: the group is closed"
                                                   : "poll: the group is not initialised");
    if (kkpy_lock(self->lock, &self->owner) < 0)
        return NULL;
    if (!self->group) {
        kkpy_unlock(self->lock, &self->owner);
        return closed_error(self, "poll: the group was closed");
    }
    kk_fetch_batch_t *batch = self->pending;
    kk_topic_partition_t tp = self->pending_tp;
    kk_error_t err;
    kk_error_clear(&err);
    int rc = KK_OK;
    if (batch) {
        self->pending = NULL;
    } else {
        GROUP_CALL(self, rc, kk_group_poll(self->group, (int)timeout_ms, &batch, &tp, &err));
        if (batch && self->call.exc) {
            /* the exception goes first; the records wait for the next poll */
            self->pending = batch;
            self->pending_tp = tp;
            batch = NULL;
        }
    }
    bool closing = self->closing;
    PyObject *result = rc == KK_OK && batch ? batch_result(self, batch, &tp) : NULL;
    kk_fetch_batch_free(batch);
    if (rc == KK_ERR_INTERRUPTED && closing && !self->call.exc) {
        kkpy_log_line *lines = NULL;
        Py_XDECREF(kkpy_call_end(&self->call, &lines));
        kkpy_unlock(self->lock, &self->owner);
        kkpy_log_emit(self->call.st, lines);
        return closed_error(self, "poll: the group was closed while polling");
    }
    if (finish_call(self, rc, &err) < 0) {
        Py_XDECREF(result);
        return NULL;
    }
    if (!result && !PyErr_Occurred())
        result = Py_NewRef(Py_None);
    return result;
}

/* ---- commits ------------------------------------------------------------------------------- */

static PyObject *group_commit(kkpy_group *self, PyObject *args, PyObject *kwargs) {
    if (kwargs && PyDict_GET_SIZE(kwargs)) {
        PyErr_SetString(PyExc_TypeError, "commit() takes positional arguments only: commit(), "
                                         "commit((topic, partition), offset) or commit(topic, partition, offset)");
        return NULL;
    }
    Py_ssize_t nargs = PyTuple_GET_SIZE(args);
    PyObject *topic_obj = NULL, *partition_obj = NULL, *offset_obj = NULL;
    if (nargs == 2) {
        PyObject *tp = PyTuple_GET_ITEM(args, 0);
        if (!PyTuple_Check(tp) || PyTuple_GET_SIZE(tp) != 2) {
            PyErr_Format(PyExc_TypeError, "commit: the partition must be a (topic, partition) tuple, not %.100s",
                         Py_TYPE(tp)->tp_name);
            return NULL;
        }
        topic_obj = PyTuple_GET_ITEM(tp, 0);
        partition_obj = PyTuple_GET_ITEM(tp, 1);
        offset_obj = PyTuple_GET_ITEM(args, 1);
    } else if (nargs == 3) {
        topic_obj = PyTuple_GET_ITEM(args, 0);
        partition_obj = PyTuple_GET_ITEM(args, 1);
        offset_obj = PyTuple_GET_ITEM(args, 2);
    } else if (nargs != 0) {
        PyErr_Format(PyExc_TypeError, "commit() takes 0, 2 or 3 arguments (%zd given)", nargs);
        return NULL;
    }
    const char *topic = NULL;
    long long partition = 0, offset = 0;
    if (topic_obj) {
        if (!(topic = kkpy_str_arg(topic_obj, "commit", "topic", false)) ||
            kkpy_int_option(partition_obj, "commit", "partition", 0, INT32_MAX, &partition) < 0 ||
            kkpy_int_option(offset_obj, "commit", "offset", 0, INT64_MAX, &offset) < 0)
            return NULL;
    }
    kk_error_t err;
    int rc;
    if (in_own_callback(self)) {
        /* Inside on_assign/on_revoke on this thread: the outer call holds the lock and owns
         * the call context (its log buffer and stored exception), so call the core directly. */
        kk_group_t *g = self->group;
        Py_BEGIN_ALLOW_THREADS
        rc = topic ? kk_group_commit(g, topic, (int32_t)partition, offset, &err) : kk_group_commit_consumed(g, &err);
        Py_END_ALLOW_THREADS
        if (rc != KK_OK) {
            kkpy_raise(self->call.st, &err);
            return NULL;
        }
        Py_RETURN_NONE;
    }
    if (!self->group)
        return closed_error(self, "commit: the group is closed");
    if (kkpy_lock(self->lock, &self->owner) < 0)
        return NULL;
    if (!self->group) {
        kkpy_unlock(self->lock, &self->owner);
        return closed_error(self, "commit: the group was closed");
    }
    GROUP_CALL(self, rc,
               topic ? kk_group_commit(self->group, topic, (int32_t)partition, offset, &err)
                     : kk_group_commit_consumed(self->group, &err));
    if (finish_call(self, rc, &err) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *group_committed(kkpy_group *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"topic", "partition", NULL};
    PyObject *topic_obj, *partition_obj;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO:committed", kwlist, &topic_obj, &partition_obj))
        return NULL;
    long long partition;
    const char *topic = kkpy_str_arg(topic_obj, "committed", "topic", false);
    if (!topic || kkpy_int_option(partition_obj, "committed", "partition", 0, INT32_MAX, &partition) < 0)
        return NULL;
    if (in_own_callback(self))
        return not_in_callback("committed()");
    if (!self->group)
        return closed_error(self, "committed: the group is closed");
    if (kkpy_lock(self->lock, &self->owner) < 0)
        return NULL;
    if (!self->group) {
        kkpy_unlock(self->lock, &self->owner);
        return closed_error(self, "committed: the group was closed");
    }
    kk_error_t err;
    int64_t offset = -1;
    int rc;
    GROUP_CALL(self, rc, kk_group_committed(self->group, topic, (int32_t)partition, &offset, &err));
    if (finish_call(self, rc, &err) < 0)
        return NULL;
    if (offset < 0)
        Py_RETURN_NONE;
    return PyLong_FromLongLong(offset);
}

/* ---- closing -------------------------------------------------------------------------------- */

static PyObject *group_close(kkpy_group *self, PyObject *unused) {
    (void)unused;
    if (in_own_callback(self))
        return not_in_callback("close()");
    if (!self->group)
        Py_RETURN_NONE;
    /* Wake a poll waiting in another thread, then wait for it to let go. */
    self->closing = true;
    kk_client_interrupt(kk_group_client(self->group));
    if (kkpy_lock(self->lock, &self->owner) < 0)
        return NULL;
    kk_group_t *g = self->group;
    if (!g) {
        kkpy_unlock(self->lock, &self->owner);
        Py_RETURN_NONE;
    }
    kk_client_clear_interrupt(kk_group_client(g)); /* the leave must get through */
    kk_error_t err;
    int rc;
    GROUP_CALL(self, rc, kk_group_close(g, &err));
    self->group = NULL;
    kk_fetch_batch_free(self->pending);
    self->pending = NULL;
    Py_BEGIN_ALLOW_THREADS
    kk_group_free(g);
    Py_END_ALLOW_THREADS
    if (finish_call(self, rc, &err) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *group_enter(kkpy_group *self, PyObject *unused) {
    (void)unused;
    if (!self->group)
        return closed_error(self, "the group is closed");
    return Py_NewRef(self);
}

/* ---- attributes ----------------------------------------------------------------------------- */

static PyObject *get_claimed(kkpy_group *self, void *c) {
    (void)c;
    return PySequence_List(self->claimed);
}
static PyObject *get_generation(kkpy_group *self, void *c) {
    (void)c;
    return self->generation >= 0 ? PyLong_FromLong(self->generation) : Py_NewRef(Py_None);
}
static PyObject *get_member_id(kkpy_group *self, void *c) {
    (void)c;
    return Py_NewRef(self->member_id);
}
static PyObject *get_is_leader(kkpy_group *self, void *c) {
    (void)c;
    return PyBool_FromLong(self->is_leader);
}
static PyObject *get_closed(kkpy_group *self, void *c) {
    (void)c;
    return PyBool_FromLong(self->group == NULL);
}

static PyObject *group_repr(kkpy_group *self) {
    if (!self->group_name)
        return PyUnicode_FromString("<kafkette.ConsumerGroup (not initialised)>");
    PyObject *topics = PySequence_List(self->topics);
    if (!topics)
        return NULL;
    PyObject *r = PyUnicode_FromFormat("<kafkette.ConsumerGroup %R topics=%R generation=%d claimed=%zd%s>",
                                       self->group_name, topics, (int)self->generation,
                                       PyTuple_GET_SIZE(self->claimed), self->group ? "" : " closed");
    Py_DECREF(topics);
    return r;
}

static PyMethodDef group_methods[] = {
    {"poll", (PyCFunction)(void (*)(void))group_poll, METH_VARARGS | METH_KEYWORDS,
     "poll($self, /, timeout_ms=1000)\n--\n\n"
     "Wait up to timeout_ms for records and return (TopicPartition, [FetchedMessage, ...]) for one claimed "
     "partition, or None when nothing arrived. Rejoins first when the group rebalances (calling on_revoke and "
     "on_assign on this thread) and auto-commits when due. The wait releases the GIL; Ctrl-C raises "
     "KeyboardInterrupt within about 100 ms, and close() from another thread makes it raise "
     "ConsumerClosedError."},
    {"commit", (PyCFunction)(void (*)(void))group_commit, METH_VARARGS | METH_KEYWORDS,
     "commit($self, /, *args)\n--\n\n"
     "commit() commits, for every claimed partition, everything poll() has returned so far. "
     "commit(topic, partition, offset) or commit((topic, partition), offset) commits `offset`, the next "
     "offset to read (the last processed + 1), for one claimed partition. Commits never go backwards. "
     "Raises NotAssignedError for a partition this member does not own (or lost in a rebalance). May be "
     "called from on_assign/on_revoke (on_revoke is the last chance to commit before the partitions go)."},
    {"committed", (PyCFunction)(void (*)(void))group_committed, METH_VARARGS | METH_KEYWORDS,
     "committed($self, /, topic, partition)\n--\n\n"
     "The group's committed offset for any partition (claimed or not), asked from the coordinator; None "
     "when nothing is committed."},
    {"close", (PyCFunction)group_close, METH_NOARGS,
     "close($self, /)\n--\n\n"
     "Leave the group cleanly: commit what was consumed (when auto-commit is on), call on_revoke, and send "
     "LeaveGroup so the other members take the partitions over at once. A poll waiting in another thread "
     "is woken and raises ConsumerClosedError (iteration just stops). Raises a failed final commit's error, "
     "but always leaves. Idempotent."},
    {"__enter__", (PyCFunction)group_enter, METH_NOARGS, "Return the group."},
    {"__exit__", (PyCFunction)kkpy_exit_calls_close, METH_VARARGS, "Close the group (leaving it)."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef group_members[] = {
    {"group_name", T_OBJECT, offsetof(kkpy_group, group_name), READONLY, "The group's id."},
    {"topics", T_OBJECT, offsetof(kkpy_group, topics), READONLY, "The subscribed topics (a tuple of str)."},
    {"client_id", T_OBJECT, offsetof(kkpy_group, client_id), READONLY, "The client id sent to the brokers."},
    {"brokers", T_OBJECT, offsetof(kkpy_group, brokers), READONLY, "The seed brokers, \"host:port,...\"."},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef group_getset[] = {
    {"claimed", (getter)get_claimed, NULL,
     "The partitions this member owns, as a sorted list of TopicPartition (topic, partition) tuples; as of "
     "the last call (poll, commit, the constructor's join) or inside a rebalance callback.",
     NULL},
    {"generation", (getter)get_generation, NULL, "The group generation the claims belong to; None when not a member.",
     NULL},
    {"member_id", (getter)get_member_id, NULL, "The member id the coordinator gave this member (\"\" before joining).",
     NULL},
    {"is_leader", (getter)get_is_leader, NULL, "True when this member computed the group's current assignment.", NULL},
    {"closed", (getter)get_closed, NULL, "True after close().", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot group_slots[] = {
    {Py_tp_new, group_new},
    {Py_tp_init, group_init},
    {Py_tp_dealloc, group_dealloc},
    {Py_tp_traverse, group_traverse},
    {Py_tp_clear, group_clear},
    {Py_tp_repr, group_repr},
    {Py_tp_methods, group_methods},
    {Py_tp_members, group_members},
    {Py_tp_getset, group_getset},
    {Py_tp_doc,
     "ConsumerGroup(group_name, brokers, topics, **options)\n--\n\n"
     "A member of a consumer group: co-operating processes share the partitions of `topics` (a list of "
     "str, or one str), each partition read by one member at a time, with progress committed to the group "
     "coordinator so that a replacement starts where the last owner stopped. Speaks Kafka's standard "
     "`consumer` protocol, so Java and librdkafka consumers can share the group. The constructor joins "
     "the group (a subscribed topic that does not exist raises UnknownTopicOrPartition).\n\n"
     "Options: assignor ('range' (default) or 'roundrobin'), session_timeout_ms (10000; the broker's "
     "minimum is usually 6000), rebalance_timeout_ms (30000), heartbeat_interval_ms (3000, or a third "
     "of a shorter session), auto_commit_interval_ms (5000; 0 disables: then commit() yourself), trail "
     "(True: a partition without a commit starts at its end rather than its beginning; also "
     "offset_reset='latest'/'earliest'), max_bytes and max_wait_ms (per fetch), on_assign and on_revoke "
     "(callables receiving a list of TopicPartition, called on the polling thread; on_revoke runs before "
     "partitions are given up and may call commit()), client_id, socket_timeout_ms, connect_timeout_ms, "
     "metadata_refresh_interval_ms, retry_backoff_ms. An unknown option raises TypeError.\n\n"
     "Iterating (`for partition, messages in group:`) polls until close(); Ctrl-C interrupts a waiting "
     "poll. Heartbeats run on a background thread, but a rebalance waits for this member's next poll: "
     "spending longer than rebalance_timeout_ms on one batch loses the partitions. Use it as a context "
     "manager, or call close(), to leave the group at once instead of after the session timeout.\n\n"
     "Thread safety: calls are serialised by an internal lock (waited for with the GIL released)."},
    {0, NULL},
};

PyType_Spec kkpy_group_spec = {
    .name = "kafkette.ConsumerGroup",
    .basicsize = sizeof(kkpy_group),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = group_slots,
};

/* ---- TopicPartition ------------------------------------------------------------------------- */

static PyStructSequence_Field topic_partition_fields[] = {
    {"topic", "the topic's name"},
    {"partition", "the partition number"},
    {NULL, NULL},
};

PyStructSequence_Desc kkpy_topic_partition_desc = {
    "kafkette.TopicPartition",
    "TopicPartition(topic, partition): a (topic, partition) tuple with named fields, as ConsumerGroup "
    "yields, lists in `claimed` and passes to its rebalance callbacks.",
    topic_partition_fields,
    2,
};
