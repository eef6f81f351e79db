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
    kkpy_head h;             /* h.in_callback: the owner thread runs on_assign/on_revoke */
    kk_group_t *group;       /* NULL before init and once closed */
    PyObject *on_assign;     /* callables, or NULL */
    PyObject *on_revoke;
    PyObject *group_name;    /* str */
    PyObject *topics;        /* tuple of str: the subscription, shared with every FetchedMessage */
    PyObject *client_id;
    PyObject *brokers;
    /* copies taken after each core call (and before each callback), so reading them never
     * races a poll in another thread */
    PyObject *claimed;       /* tuple of TopicPartition */
    PyObject *paused;        /* tuple of TopicPartition */
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
    PyObject *obj = partition ? PyStructSequence_New(self->h.call.st->topic_partition_type) : NULL;
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
typedef size_t (*partition_list_fn)(const kk_group_t *, kk_topic_partition_t *, size_t);

/* A tuple of TopicPartition from kk_group_claimed or kk_group_paused. */
static PyObject *partition_list(kkpy_group *self, partition_list_fn list) {
    size_t n = list(self->group, NULL, 0);
    kk_topic_partition_t *parts = n ? malloc(n * sizeof(*parts)) : NULL;
    if (n && !parts)
        return PyErr_NoMemory();
    n = list(self->group, parts, n);
    PyObject *tuple = topic_partition_tuple(self, parts, n);
    free(parts);
    return tuple;
}

static void take_snapshot(kkpy_group *self) {
    PyObject *pending = kkpy_exc_take(); /* an error the caller is about to raise */
    PyObject *claimed = NULL, *paused = NULL;
    if (self->group) {
        claimed = partition_list(self, kk_group_claimed);
        paused = claimed ? partition_list(self, kk_group_paused) : NULL;
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
        paused = PyTuple_New(0);
        self->generation = -1;
        self->is_leader = false;
    }
    if (claimed)
        Py_XSETREF(self->claimed, claimed);
    if (paused)
        Py_XSETREF(self->paused, paused);
    if (PyErr_Occurred())
        PyErr_WriteUnraisable((PyObject *)self); /* keeps the old copy; only MemoryError gets here */
    if (pending)
        kkpy_exc_restore(pending);
}

static bool in_own_callback(kkpy_group *self) {
    return self->h.in_callback && self->h.owner == PyThread_get_thread_ident();
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
            self->h.in_callback = true;
            result = PyObject_CallOneArg(cb, list);
            self->h.in_callback = false;
            Py_DECREF(list);
        }
        Py_DECREF(cb);
        Py_XDECREF(result);
        if (!result) {
            kkpy_call_keep_exc(&self->h.call);
            /* stop the poll at its next wait so the error surfaces; close() still leaves */
            if (!self->h.closing)
                self->h.call.abort = true;
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

static void take_snapshot(kkpy_group *self);

/* Leaves the group (close(): commits, on_revoke, LeaveGroup; err is NULL in dealloc, which only
 * frees) and frees it. */
static int group_shutdown(kkpy_head *h, kk_error_t *err) {
    kkpy_group *self = (kkpy_group *)h;
    kk_group_t *g = self->group;
    int rc = KK_OK;
    if (g && err) {
        kk_client_clear_interrupt(kk_group_client(g)); /* the leave must get through */
        KKPY_CALL(h, rc, kk_group_close(g, err));
    }
    self->group = NULL;
    kk_fetch_batch_free(self->pending);
    self->pending = NULL;
    /* Freeing joins the heartbeat thread, which never needs the GIL. */
    Py_BEGIN_ALLOW_THREADS
    kk_group_free(g);
    Py_END_ALLOW_THREADS
    if (err)
        take_snapshot(self);
    return rc;
}

static PyObject *group_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    (void)args;
    (void)kwargs;
    kkpy_state *st = kkpy_state_of_type(type);
    kkpy_group *self = st ? (kkpy_group *)type->tp_alloc(type, 0) : NULL;
    if (!self)
        return NULL;
    self->generation = -1;
    self->claimed = PyTuple_New(0);
    self->paused = PyTuple_New(0);
    self->member_id = PyUnicode_FromString("");
    if (!self->claimed || !self->paused || !self->member_id ||
        kkpy_head_init(&self->h, st, st->ConsumerClosedError, "group", group_shutdown) < 0)
        Py_CLEAR(self);
    return (PyObject *)self;
}

static int group_traverse(kkpy_group *self, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->on_assign);
    Py_VISIT(self->on_revoke);
    return kkpy_call_traverse(&self->h.call, visit, arg);
}

static int group_clear(kkpy_group *self) {
    Py_CLEAR(self->on_assign);
    Py_CLEAR(self->on_revoke);
    Py_CLEAR(self->h.call.oauth_provider);
    return 0;
}

static void group_dealloc(kkpy_group *self) {
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    /* No LeaveGroup and no callbacks here: the coordinator drops the member after the session
     * timeout. */
    group_shutdown(&self->h, NULL);
    kkpy_head_free(&self->h);
    Py_CLEAR(self->on_assign);
    Py_CLEAR(self->on_revoke);
    Py_CLEAR(self->group_name);
    Py_CLEAR(self->topics);
    Py_CLEAR(self->client_id);
    Py_CLEAR(self->brokers);
    Py_CLEAR(self->claimed);
    Py_CLEAR(self->paused);
    Py_CLEAR(self->member_id);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

static int take_callback(void *p, const char *name, PyObject *value) {
    kkpy_group *self = p;
    PyObject **slot = strcmp(name, "on_assign") == 0 ? &self->on_assign
                      : strcmp(name, "on_revoke") == 0 ? &self->on_revoke
                                                       : NULL;
    if (!slot)
        return 1;
    Py_XSETREF(*slot, value ? Py_NewRef(value) : NULL);
    return 0;
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

/* Ends a call: snapshot, then kkpy_leave (unlock, log, raise). 0 when rc is KK_OK and no
 * callback raised. */
static int finish_call(kkpy_group *self, int rc, const kk_error_t *err) {
    take_snapshot(self);
    return kkpy_leave(&self->h, rc, err);
}

static int group_init(kkpy_group *self, PyObject *args, PyObject *kwargs) {
    static const char *const names[] = {"group_name", "brokers", "topics"};
    kkpy_state *st = self->h.call.st;
    if (self->group || self->group_name) {
        PyErr_SetString(PyExc_RuntimeError, OWNER " is already initialised");
        return -1;
    }
    PyObject *p[3], *options;
    if (kkpy_split_args(OWNER, args, kwargs, names, 3, 3, 3, p, &options) < 0)
        return -1;
    int rc = -1;
    const char **topic_names = NULL;
    PyObject *topics = NULL;
    kk_config_t *cfg = NULL;
    kk_error_t err;
    const char *group_id = kkpy_str_arg(p[0], OWNER, "group_name", true);
    if (!group_id || !(topics = topics_tuple(p[2])) || !(cfg = kkpy_config_new(KK_CONFIG_GROUP, &self->h.call)) ||
        kkpy_option_set(st, cfg, "bootstrap_servers", p[1], NULL, NULL) < 0 ||
        kkpy_options_apply(st, cfg, options, take_callback, self) < 0)
        goto done;
    Py_ssize_t n = PyTuple_GET_SIZE(topics);
    if (!(topic_names = PyMem_Calloc((size_t)n + 1, sizeof(*topic_names)))) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        topic_names[i] = PyUnicode_AsUTF8(PyTuple_GET_ITEM(topics, i));
    kk_group_config_t *typed = kk_config_group(cfg);
    typed->group_id = group_id;
    typed->topics = topic_names;
    typed->topic_count = (size_t)n;
    typed->on_assign = cb_assign;
    typed->on_revoke = cb_revoke;
    typed->rebalance_opaque = self;
    if (!(self->group = kk_group_new(typed, &err))) {
        kkpy_raise(st, &err);
        goto done;
    }
    self->h.client = kk_group_client(self->group);
    self->group_name = Py_NewRef(p[0]);
    self->topics = Py_NewRef(topics);
    self->client_id = kkpy_config_str(cfg, "client_id");
    self->brokers = kkpy_config_str(cfg, "bootstrap_servers");
    if (!self->client_id || !self->brokers || kkpy_enter(&self->h, OWNER) < 0)
        goto done;
    /* Join now, so that a missing topic fails here and `claimed` is filled at once. */
    KKPY_CALL(&self->h, rc, kk_group_join(self->group, typed->rebalance_timeout_ms, &err));
    if (rc != KK_OK || self->h.call.exc) {
        /* leave cleanly if we got as far as joining; on_revoke may run, but must not abort */
        kk_error_t close_err;
        self->h.client = NULL;
        self->h.closing = self->h.closed = true;
        self->h.call.abort = false; /* a Ctrl-C that stopped the join must not stop the leave */
        Py_BEGIN_ALLOW_THREADS
        kk_group_close(self->group, &close_err);
        Py_END_ALLOW_THREADS
        group_shutdown(&self->h, NULL);
    }
    rc = finish_call(self, rc, &err);
done:
    if (rc != 0 && self->group) {
        self->h.client = NULL;
        group_shutdown(&self->h, NULL);
    }
    kk_config_free(cfg);
    PyMem_Free(topic_names);
    Py_XDECREF(topics);
    for (int i = 0; i < 3; i++)
        Py_XDECREF(p[i]);
    Py_DECREF(options);
    return rc;
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
        PyObject *m = kkpy_fetched_new(self->h.call.st, topic, partition, &batch->messages[i]);
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
    return obj && obj != Py_None ? kkpy_int_arg(obj, fname, "timeout_ms", 0, INT32_MAX, out) : 0;
}

static PyObject *group_poll(kkpy_group *self, PyObject *args, PyObject *kwargs) {
    long long timeout_ms;
    if (timeout_arg(args, kwargs, "poll", 1000, &timeout_ms) < 0)
        return NULL;
    if (kkpy_enter(&self->h, "poll") < 0)
        return NULL;
    kk_fetch_batch_t *batch = self->pending;
    kk_topic_partition_t tp = self->pending_tp;
    kk_error_t err;
    kk_error_clear(&err);
    int rc = KK_OK;
    if (batch) {
        self->pending = NULL;
    } else {
        KKPY_CALL(&self->h, rc, kk_group_poll(self->group, (int)timeout_ms, &batch, &tp, &err));
        if (batch && self->h.call.exc) {
            /* the exception goes first; the records wait for the next poll */
            self->pending = batch;
            self->pending_tp = tp;
            batch = NULL;
        }
    }
    PyObject *result = rc == KK_OK && batch ? batch_result(self, batch, &tp) : NULL;
    kk_fetch_batch_free(batch);
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
            kkpy_int_arg(partition_obj, "commit", "partition", 0, INT32_MAX, &partition) < 0 ||
            kkpy_int_arg(offset_obj, "commit", "offset", 0, INT64_MAX, &offset) < 0)
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
            kkpy_raise(self->h.call.st, &err);
            return NULL;
        }
        Py_RETURN_NONE;
    }
    if (kkpy_enter(&self->h, "commit") < 0)
        return NULL;
    KKPY_CALL(&self->h, rc,
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
    if (!topic || kkpy_int_arg(partition_obj, "committed", "partition", 0, INT32_MAX, &partition) < 0)
        return NULL;
    if (kkpy_enter(&self->h, "committed") < 0)
        return NULL;
    kk_error_t err;
    int64_t offset = -1;
    int rc;
    KKPY_CALL(&self->h, rc, kk_group_committed(self->group, topic, (int32_t)partition, &offset, &err));
    if (finish_call(self, rc, &err) < 0)
        return NULL;
    if (offset < 0)
        Py_RETURN_NONE;
    return PyLong_FromLongLong(offset);
}

/* ---- pause, resume, seek ------------------------------------------------------------------ */

typedef enum { OP_PAUSE, OP_RESUME, OP_SEEK } partition_op_t;

static int partition_op_call(kk_group_t *g, partition_op_t op, const char *topic, int32_t partition,
                             int64_t offset, kk_error_t *err) {
    switch (op) {
    case OP_PAUSE:
        return kk_group_pause(g, topic, partition, err);
    case OP_RESUME:
        return kk_group_resume(g, topic, partition, err);
    default:
        return kk_group_seek(g, topic, partition, offset, err);
    }
}

static PyObject *partition_op(kkpy_group *self, PyObject *args, PyObject *kwargs, partition_op_t op) {
    static char *seek_kwlist[] = {"topic", "partition", "offset", NULL};
    static char *kwlist[] = {"topic", "partition", NULL};
    const char *name = op == OP_PAUSE ? "pause" : op == OP_RESUME ? "resume" : "seek";
    PyObject *topic_obj, *partition_obj, *offset_obj = NULL;
    if (op == OP_SEEK ? !PyArg_ParseTupleAndKeywords(args, kwargs, "OOO:seek", seek_kwlist, &topic_obj,
                                                     &partition_obj, &offset_obj)
        : op == OP_PAUSE ? !PyArg_ParseTupleAndKeywords(args, kwargs, "OO:pause", kwlist, &topic_obj, &partition_obj)
                         : !PyArg_ParseTupleAndKeywords(args, kwargs, "OO:resume", kwlist, &topic_obj, &partition_obj))
        return NULL;
    long long partition, offset = 0;
    const char *topic = kkpy_str_arg(topic_obj, name, "topic", false);
    if (!topic || kkpy_int_arg(partition_obj, name, "partition", 0, INT32_MAX, &partition) < 0 ||
        (offset_obj && kkpy_int_arg(offset_obj, name, "offset", 0, INT64_MAX, &offset) < 0))
        return NULL;
    kk_error_t err;
    int rc;
    if (in_own_callback(self)) { /* as commit(): the outer call holds the lock */
        rc = partition_op_call(self->group, op, topic, (int32_t)partition, offset, &err);
        take_snapshot(self);
        if (rc != KK_OK) {
            kkpy_raise(self->h.call.st, &err);
            return NULL;
        }
        Py_RETURN_NONE;
    }
    if (kkpy_enter(&self->h, name) < 0)
        return NULL;
    KKPY_CALL(&self->h, rc, partition_op_call(self->group, op, topic, (int32_t)partition, offset, &err));
    if (finish_call(self, rc, &err) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *group_pause(kkpy_group *self, PyObject *args, PyObject *kwargs) {
    return partition_op(self, args, kwargs, OP_PAUSE);
}
static PyObject *group_resume(kkpy_group *self, PyObject *args, PyObject *kwargs) {
    return partition_op(self, args, kwargs, OP_RESUME);
}
static PyObject *group_seek(kkpy_group *self, PyObject *args, PyObject *kwargs) {
    return partition_op(self, args, kwargs, OP_SEEK);
}

/* ---- closing -------------------------------------------------------------------------------- */

static PyObject *group_close(kkpy_group *self, PyObject *unused) {
    (void)unused;
    return kkpy_close(&self->h);
}

static PyObject *group_enter(kkpy_group *self, PyObject *unused) {
    (void)unused;
    return self->h.client ? Py_NewRef(self) : kkpy_closed_error(&self->h, "__enter__");
}

/* ---- attributes ----------------------------------------------------------------------------- */

static PyObject *get_claimed(kkpy_group *self, void *c) {
    (void)c;
    return PySequence_List(self->claimed);
}
static PyObject *get_paused(kkpy_group *self, void *c) {
    (void)c;
    return PySequence_List(self->paused);
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
static PyObject *group_repr(kkpy_group *self) {
    if (!self->group_name)
        return PyUnicode_FromString("<kafkette.ConsumerGroup (not initialised)>");
    PyObject *topics = PySequence_List(self->topics);
    if (!topics)
        return NULL;
    PyObject *r = PyUnicode_FromFormat("<kafkette.ConsumerGroup %R topics=%R generation=%d claimed=%zd%s>",
                                       self->group_name, topics, (int)self->generation,
                                       PyTuple_GET_SIZE(self->claimed), self->h.client ? "" : " closed");
    Py_DECREF(topics);
    return r;
}

static void group_fill_stats(kkpy_head *h, kk_stats_t *out) { kk_group_stats(((kkpy_group *)h)->group, out); }

static PyObject *group_stats(kkpy_group *self, PyObject *unused) {
    (void)unused;
    return kkpy_stats(&self->h, group_fill_stats);
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
    {"pause", (PyCFunction)(void (*)(void))group_pause, METH_VARARGS | METH_KEYWORDS,
     "pause($self, /, topic, partition)\n--\n\n"
     "Stop fetching a claimed partition (the member keeps it) until resume(). Raises NotAssignedError for a "
     "partition this member does not own. A partition the member keeps through a rebalance stays paused "
     "(see docs/BINDINGS.md). May be called from on_assign/on_revoke."},
    {"resume", (PyCFunction)(void (*)(void))group_resume, METH_VARARGS | METH_KEYWORDS,
     "resume($self, /, topic, partition)\n--\n\n"
     "Fetch a paused partition again."},
    {"seek", (PyCFunction)(void (*)(void))group_seek, METH_VARARGS | METH_KEYWORDS,
     "seek($self, /, topic, partition, offset)\n--\n\n"
     "Make the next fetch of a claimed partition start at `offset` (nothing is committed). Kept through a "
     "rebalance that leaves the partition with this member, until a batch from there was returned."},
    {"stats", (PyCFunction)group_stats, METH_NOARGS, KKPY_STATS_DOC},
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
    {"paused", (getter)get_paused, NULL,
     "The claimed partitions that pause() stopped, as a sorted list of TopicPartition; as of the last call.",
     NULL},
    {"generation", (getter)get_generation, NULL, "The group generation the claims belong to; None when not a member.",
     NULL},
    {"member_id", (getter)get_member_id, NULL, "The member id the coordinator gave this member (\"\" before joining).",
     NULL},
    {"is_leader", (getter)get_is_leader, NULL, "True when this member computed the group's current assignment.", NULL},
    {"closed", (getter)kkpy_get_closed, NULL, "True after close().", NULL},
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
     "Options are the ConsumerGroup's in docs/CONFIGURATION.md (assignor, session_timeout_ms, "
     "auto_commit_interval_ms (0: commit() yourself), trail / offset_reset, client_id, ...), plus on_assign "
     "and on_revoke: callables receiving a list of TopicPartition, called on the polling thread; on_revoke "
     "runs while the partitions are still owned and may call commit(). A bad or unknown option raises "
     "InvalidArgumentError.\n\n"
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
