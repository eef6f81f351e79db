"""The exception hierarchy: one class per broker code, Poseidon's aliases, client errors."""
import pytest

import kafkette
from kafkette import _kafkette

POSEIDON_ALIASES = {
    "UnknownError": -1,
    "InvalidMessage": 2,
    "InvalidMessageSize": 4,
    "NotLeaderForPartition": 6,
    "MessageSizeTooLarge": 10,
    "StaleControllerEpochCode": 11,
    "OffsetMetadataTooLargeCode": 12,
}


def camel(name):
    return "".join(part.capitalize() for part in name.split("_"))


def broker_classes():
    return {
        name: cls
        for name, cls in vars(kafkette).items()
        if isinstance(cls, type) and issubclass(cls, kafkette.Error) and cls.code is not None
    }


def test_every_broker_code_has_a_class_named_after_it():
    classes = broker_classes()
    codes = {cls.code for cls in classes.values()}
    assert -1 in codes and 1 in codes and 136 in codes
    assert codes == set([-1] + list(range(1, max(codes) + 1)))  # -1, then 1.. with no gaps
    for name, cls in classes.items():
        if name in POSEIDON_ALIASES:
            continue
        assert name == camel(cls.name), name
        assert cls.__name__ == name and cls.__module__ == "kafkette"
        assert kafkette.error_class(cls.code) is cls
        assert cls.__doc__ and cls.name in cls.__doc__
        assert isinstance(cls.retriable, bool)


def test_known_names():
    assert kafkette.NotLeaderOrFollower.code == 6 and kafkette.NotLeaderOrFollower.retriable
    assert kafkette.OffsetOutOfRange.code == 1 and not kafkette.OffsetOutOfRange.retriable
    assert kafkette.UnknownTopicOrPartition.code == 3
    assert kafkette.TopicAlreadyExists.code == 36
    assert kafkette.UnknownServerError.code == -1


@pytest.mark.parametrize("alias, code", sorted(POSEIDON_ALIASES.items()))
def test_poseidon_aliases_are_the_same_classes(alias, code):
    cls = getattr(kafkette, alias)
    assert cls is kafkette.error_class(code)
    assert cls.code == code


def test_client_side_classes():
    E = kafkette.Error
    assert issubclass(kafkette.ProtocolError, E)
    assert issubclass(kafkette.ConnectionFailedError, E) and issubclass(kafkette.ConnectionFailedError, ConnectionError)
    assert issubclass(kafkette.UnableToFetchMetadata, kafkette.ConnectionFailedError)
    assert issubclass(kafkette.TimedOutError, kafkette.ConnectionFailedError)
    assert issubclass(kafkette.TimedOutError, TimeoutError) and kafkette.KafkaTimeoutError is kafkette.TimedOutError
    for name in ["ChecksumError", "CompressionError", "MalformedResponseError", "UnsupportedVersionError",
                 "InvalidPartitionError", "ProducerShutdownError", "ConsumerClosedError", "FailedToSendMessages"]:
        assert issubclass(getattr(kafkette, name), E), name
    assert kafkette.error_class(-100) is kafkette.TimedOutError
    assert kafkette.error_class(-101) is kafkette.ConnectionFailedError
    assert kafkette.error_class(-112) is kafkette.UnableToFetchMetadata
    assert kafkette.error_class(-114) is kafkette.ChecksumError
    assert kafkette.error_class(-115) is kafkette.CompressionError
    assert kafkette.error_class(-118) is kafkette.InvalidPartitionError
    assert kafkette.error_class(-110) is kafkette.InvalidArgumentError
    assert kafkette.error_class(-109) is kafkette.OutOfMemoryError
    assert issubclass(kafkette.OutOfMemoryError, MemoryError)
    assert kafkette.error_class(-999) is kafkette.Error
    assert kafkette.error_class(9999) is kafkette.UnrecognizedProtocolError
    assert kafkette.error_class(31) is kafkette.ClusterAuthorizationFailed
    assert issubclass(kafkette.ClusterAuthorizationFailed, kafkette.AuthorizationError)
    assert issubclass(kafkette.AuthorizationError, kafkette.ProtocolError)


def test_errors_can_be_raised_and_caught_by_user_code():
    with pytest.raises(kafkette.ProtocolError):
        raise kafkette.NotLeaderForPartition("moved")
    e = kafkette.MessageSizeTooLarge("too big")
    assert e.code == 10 and str(e) == "too big"
    assert kafkette.Error("x").code is None


def test_topic_admin_errors(brokers, topic):
    with pytest.raises(kafkette.TopicAlreadyExists) as info:
        kafkette.create_topic(brokers, topic, 1)
    assert info.value.code == 36
    kafkette.create_topic(brokers, topic, 1, exist_ok=True)
    kafkette.delete_topic(brokers, topic)
    with pytest.raises(kafkette.UnknownTopicOrPartition):
        kafkette.delete_topic(brokers, topic)
    kafkette.delete_topic(brokers, topic, missing_ok=True)
    with pytest.raises(kafkette.InvalidReplicationFactor):
        kafkette.create_topic(brokers, topic + "-rf", 1, replication_factor=3)


def test_extension_module_names_match_the_package():
    for name in dir(_kafkette):
        if not name.startswith("_"):
            assert hasattr(kafkette, name), name
