"""Parity with the C core: the exception tree and the option messages are the core's, so the
Python and Ruby bindings raise the same class with the same message for the same failure."""

import pytest

import kafkette
from kafkette import _kafkette

TAXONOMY = _kafkette._error_taxonomy()
UNKNOWN_CODES = [0, 137, 999, 9999, 32767, -2, -99, -150, -999, -9999]
ALL_CODES = TAXONOMY["broker_codes"] + TAXONOMY["client_codes"] + UNKNOWN_CODES

# The only bases the Python binding adds to the core's tree.
PYTHON_EXTRAS = {
    "InvalidArgumentError": (ValueError, TypeError),
    "OutOfMemoryError": (MemoryError,),
    "ConnectionFailedError": (ConnectionError,),
    "TimedOutError": (TimeoutError,),
}


def parent_of(cls):
    return cls.__bases__[0]


def test_the_core_knows_every_code_the_tests_walk():
    assert -1 in TAXONOMY["broker_codes"] and 6 in TAXONOMY["broker_codes"]
    assert -100 in TAXONOMY["client_codes"] and -120 in TAXONOMY["client_codes"]
    assert not set(UNKNOWN_CODES) & set(TAXONOMY["broker_codes"] + TAXONOMY["client_codes"])


@pytest.mark.parametrize("name, parent, category, alias, doc", TAXONOMY["classes"])
def test_every_named_class_has_the_cores_name_parent_and_alias(name, parent, category, alias, doc):
    cls = getattr(kafkette, name)
    assert cls.__name__ == name and cls.__module__ == "kafkette"
    assert cls is getattr(_kafkette, name)
    if parent is None:
        assert cls.__bases__ == (Exception,)
    else:
        assert parent_of(cls) is getattr(kafkette, parent)
        assert cls.__bases__[1:] == PYTHON_EXTRAS.get(name, ())
    if alias:
        assert getattr(kafkette, alias) is cls
    assert doc in cls.__doc__
    assert name in kafkette.__all__


@pytest.mark.parametrize("code", ALL_CODES)
def test_every_code_raises_the_cores_class(code):
    name, parent, alias, category, retriable = _kafkette._error_code_info(code)
    cls = kafkette.error_class(code)
    assert cls.__name__ == name and getattr(kafkette, name) is cls
    if parent is None:
        assert cls is kafkette.Error
    else:
        assert parent_of(cls) is getattr(kafkette, parent)
    if alias:
        assert getattr(kafkette, alias) is cls and alias in kafkette.__all__
    if code in TAXONOMY["broker_codes"]:
        assert cls.code == code and cls.retriable is retriable and cls.__doc__


def test_codes_share_a_class_exactly_when_the_core_names_the_same_class():
    by_name = {}
    for code in ALL_CODES:
        by_name.setdefault(_kafkette._error_code_info(code)[0], set()).add(code)
    for code in ALL_CODES:
        same = {c for c in ALL_CODES if kafkette.error_class(c) is kafkette.error_class(code)}
        assert same == by_name[_kafkette._error_code_info(code)[0]], code


def test_every_exception_class_of_the_extension_is_in_the_taxonomy():
    names = {c[0] for c in TAXONOMY["classes"]} | {c[3] for c in TAXONOMY["classes"] if c[3]}
    for code in ALL_CODES:
        name, _, alias, _, _ = _kafkette._error_code_info(code)
        names |= {name} | ({alias} if alias else set())
    made = {n for n in dir(_kafkette) if isinstance(getattr(_kafkette, n), type) and
            issubclass(getattr(_kafkette, n), BaseException)}
    assert made == names


def test_a_raised_error_carries_code_and_retriable_from_the_core():
    with pytest.raises(kafkette.ConnectionFailedError) as info:
        kafkette.PartitionConsumer("c", "127.0.0.1", 1, "t", 0, 0, connect_timeout_ms=1000)
    err = info.value
    assert type(err) is kafkette.error_class(err.code)
    assert err.retriable is _kafkette._error_code_info(err.code)[4]


def test_python_bases_keep_old_except_clauses_working():
    assert issubclass(kafkette.InvalidArgumentError, ValueError)
    assert issubclass(kafkette.InvalidArgumentError, TypeError)
    assert issubclass(kafkette.OutOfMemoryError, MemoryError)
    assert issubclass(kafkette.TimedOutError, TimeoutError)
    assert issubclass(kafkette.ConnectionFailedError, ConnectionError)


# ---- options: the core's messages ---------------------------------------------------------------

BROKERS = ["127.0.0.1:1"]  # never contacted: constructors do not connect


@pytest.mark.parametrize(
    "options, message",
    [
        ({"compression_codec": "brotli"},
         "option 'compression_codec' takes one of 'none', 'gzip', 'snappy', 'lz4', 'zstd', not 'brotli'"),
        ({"compresion_codec": "gzip"}, "unknown option 'compresion_codec' for a producer (did you mean "
                                       "'compression_codec'?)"),
        ({"max_bytes": 1}, "unknown option 'max_bytes' for a producer"),
        ({"required_acks": 2}, "option 'required_acks' takes an integer from -1 to 1 or 'all', not 2"),
        ({"max_send_retries": 1.5}, "option 'max_send_retries' takes an integer from 0 to 2147483647, not a float"),
        ({"compressed_topics": ["t", 2]},
         "option 'compressed_topics' takes a list of strings of 1 to 249 bytes, not a list holding int"),
        ({"type": "fast"}, "option 'type' takes one of 'sync', 'async', not 'fast'"),
        ({"partitioner": 5}, "option 'partitioner' takes one of 'murmur2', 'crc32', not an integer (5)"),
    ],
)
def test_producer_options_fail_with_the_cores_message(options, message):
    with pytest.raises(kafkette.InvalidArgumentError) as info:
        kafkette.Producer(BROKERS, "c", **options)
    assert str(info.value) == message
    assert info.value.code == -110 and info.value.retriable is False
    assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"max_bytes": 1.5}, "option 'max_bytes' takes an integer from 1 to 2147483647, not a float"),
        ({"max_bytes": 0}, "option 'max_bytes' takes an integer from 1 to 2147483647, not 0"),
        ({"offset_reset": "smallest"},
         "option 'offset_reset' takes one of 'earliest', 'latest', 'error', not 'smallest'"),
        ({"read_committed": "maybe"}, "option 'read_committed' takes true or false, not 'maybe'"),
        ({"max_wiat_ms": 5}, "unknown option 'max_wiat_ms' for a consumer (did you mean 'max_wait_ms'?)"),
    ],
)
def test_consumer_options_fail_with_the_cores_message(options, message):
    with pytest.raises(kafkette.InvalidArgumentError) as info:
        kafkette.PartitionConsumer("c", "127.0.0.1", 1, "t", 0, 0, **options)
    assert str(info.value) == message


@pytest.mark.parametrize(
    "options, message",
    [
        ({"assignor": "sticky"}, "option 'assignor' takes one of 'range', 'roundrobin', not 'sticky'"),
        ({"on_assign": 5}, "option 'on_assign' takes a callable, not an int"),
        ({"session_timeout_ms": [1]}, "option 'session_timeout_ms' takes an integer from 1 to 2147483647, "
                                      "not a list"),
        ({"offset_reset": "error"}, "option 'offset_reset' takes one of 'earliest', 'latest', not 'error'"),
    ],
)
def test_group_options_fail_with_the_cores_message(options, message):
    with pytest.raises(kafkette.InvalidArgumentError) as info:
        kafkette.ConsumerGroup("g", BROKERS, ["t"], **options)
    assert str(info.value) == message


def test_values_take_the_documented_paths():
    # None is the default, a str is parsed by the core, a tuple or set is a list
    p = kafkette.Producer("127.0.0.1:1, 127.0.0.1:2", "c", required_acks="all", compression_codec=None,
                          compressed_topics=("a", "b"), max_api_versions={0: 3}, retry_backoff_ms="50")
    assert p.brokers == "127.0.0.1:1,127.0.0.1:2" and p.client_id == "c"
    p.close()
    with pytest.raises(kafkette.InvalidArgumentError, match="option 'bootstrap_servers' takes a list of strings"):
        kafkette.Producer([], "c")
    with pytest.raises(kafkette.InvalidArgumentError, match="not an int"):
        kafkette.Producer(["127.0.0.1:1"], 5)


def test_fetch_options_are_checked_by_the_core():
    c = kafkette.PartitionConsumer.__new__(kafkette.PartitionConsumer)
    with pytest.raises(kafkette.InvalidArgumentError) as info:
        c.fetch(max_bytes=1.5)
    assert str(info.value) == "option 'max_bytes' takes an integer from 1 to 2147483647, not a float"
    with pytest.raises(kafkette.InvalidArgumentError, match="option 'max_wait_ms' takes an integer from 0"):
        c.fetch(max_wait_ms=-1)
    with pytest.raises(TypeError, match="only max_bytes, min_bytes and max_wait_ms"):
        c.fetch(read_committed=True)
    with pytest.raises(kafkette.ConsumerClosedError, match="not initialised"):
        c.fetch(max_bytes=10)


def test_admin_functions_take_client_options():
    with pytest.raises(kafkette.InvalidArgumentError, match="unknown option 'compression_codec' for a client"):
        kafkette.create_topic(BROKERS, "t", 1, compression_codec="gzip")
    with pytest.raises(kafkette.InvalidArgumentError, match="option 'connect_timeout_ms' takes an integer"):
        kafkette.delete_topic(BROKERS, "t", connect_timeout_ms=0)
