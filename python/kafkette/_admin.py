"""kafkette.Admin: one connection to the cluster kept open for administrative calls.

The native half (kafkette._kafkette.Admin) maps each call to one function of the C core's
administration API and returns plain tuples; this class names the results.
"""

from typing import Dict as _Dict
from typing import Iterable as _Iterable
from typing import List as _List
from typing import NamedTuple as _NamedTuple
from typing import Optional as _Optional
from typing import Tuple as _Tuple
from typing import Union as _Union

from . import _kafkette
from ._kafkette import TopicPartition, error_class

_RESOURCES = {"topic": 2, "broker": 4}
_ALTER_SET, _ALTER_DELETE = 0, 1
_TOPIC_ALREADY_EXISTS, _UNKNOWN_TOPIC = 36, 3


def _opt(value: int) -> _Optional[int]:
    return None if value < 0 else value


class PartitionDescription(_NamedTuple):
    """One partition of a topic: its leader (None when it has none), replicas, in-sync replicas,
    and its offsets (None when the leader could not say)."""

    partition: int
    leader: _Optional[int]
    replicas: _Tuple[int, ...]
    isr: _Tuple[int, ...]
    offline_replicas: _Tuple[int, ...]
    log_start_offset: _Optional[int]
    high_watermark: _Optional[int]


class TopicDescription(_NamedTuple):
    """A topic and its partitions (sorted by id)."""

    name: str
    internal: bool
    partitions: _List[PartitionDescription]


class Watermarks(_NamedTuple):
    """A partition's log start offset (low) and high watermark (high)."""

    low: int
    high: int


class OffsetAndTimestamp(_NamedTuple):
    """The first record at or after a time: its offset and timestamp (both None when no record
    is that recent)."""

    offset: _Optional[int]
    timestamp: _Optional[int]


class GroupListing(_NamedTuple):
    """A group as ListGroups reports it."""

    group_id: str
    protocol_type: str
    state: _Optional[str]
    type: _Optional[str]
    coordinator: int


class MemberDescription(_NamedTuple):
    """A member of a group and the partitions assigned to it."""

    member_id: str
    group_instance_id: _Optional[str]
    client_id: str
    client_host: str
    assignment: _List[TopicPartition]


class GroupDescription(_NamedTuple):
    """A group: state ("Stable", "Empty", "Dead" for one that does not exist, ...), protocol type,
    the assignor chosen, its coordinator's node id and its members."""

    group_id: str
    state: str
    protocol_type: str
    protocol: str
    coordinator: int
    members: _List[MemberDescription]


class PartitionLag(_NamedTuple):
    """A group's position in one partition: committed offset, high watermark (end) and the
    difference (each None when unknown); error is 0 or the code of why end is unknown."""

    topic: str
    partition: int
    committed: _Optional[int]
    end: _Optional[int]
    lag: _Optional[int]
    error: int


class ConfigEntry(_NamedTuple):
    """One config of a topic or broker; value is None for a sensitive one."""

    name: str
    value: _Optional[str]
    source: str
    read_only: bool
    is_default: bool
    is_sensitive: bool


def _raise_for(code: int, what: str) -> None:
    if code:
        cls = error_class(code)
        exc = cls(f"{what}: {cls.__name__}")
        exc.code = code
        raise exc


def _resource(resource: str, name: _Union[str, int]) -> _Tuple[int, str]:
    if resource not in _RESOURCES:
        raise ValueError(f"resource must be 'topic' or 'broker', not {resource!r}")
    return _RESOURCES[resource], str(name)


def _config_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, str)):
        return str(value)
    raise TypeError(f"config values must be str, int or bool, not {type(value).__name__}")


class Admin(_kafkette.Admin):
    """Admin(brokers, client_id="kafkette", **options)

    One connection to the cluster for administrative calls: topics (list, describe, create,
    delete, grow, delete records, configs), offsets (watermarks, offsets for times) and
    consumer groups (list, describe, lag without joining). Options are the client options of
    docs/CONFIGURATION.md. Every call waits with the GIL released and stops on Ctrl-C; errors
    are kafkette.Error subclasses. Use it as a context manager, or call close()."""

    def __enter__(self) -> "Admin":
        """Return the client; leaving the block closes it."""
        super().__enter__()
        return self

    # ---- topics ------------------------------------------------------------------------
    def list_topics(self, include_internal: bool = False) -> _List[str]:
        """The cluster's topic names, sorted (internal ones only with include_internal)."""
        return self._list_topics(bool(include_internal))

    def describe_topics(self, topics: _Optional[_Iterable[str]] = None) -> _List[TopicDescription]:
        """Every partition's leader, replicas, ISR and offsets, for the topics named (all
        non-internal topics when None). A topic that does not exist raises
        UnknownTopicOrPartition."""
        names = None if topics is None else ([topics] if isinstance(topics, str) else list(topics))
        _, _, _, described = self._describe_topics(names)
        result = []
        for name, code, internal, partitions in described:
            _raise_for(code, f"topic {name}")
            result.append(
                TopicDescription(
                    name,
                    internal,
                    [
                        PartitionDescription(p, _opt(leader), rep, isr, off, _opt(low), _opt(high))
                        for p, leader, rep, isr, off, _epoch, _err, low, high, _werr in partitions
                    ],
                )
            )
        return result

    def partition_counts(self, topics: _Iterable[str]) -> _Dict[str, int]:
        """{topic: partition count}; raises UnknownTopicOrPartition for a topic that does not exist."""
        counts = self._partition_counts([topics] if isinstance(topics, str) else list(topics))
        for topic, (code, _) in counts.items():
            _raise_for(code, f"topic {topic}")
        return {topic: count for topic, (_, count) in counts.items()}

    def partition_count(self, topic: str) -> int:
        """The number of partitions of a topic."""
        return self.partition_counts([topic])[topic]

    def create_topic(self, topic: str, partitions: int = -1, replication_factor: int = -1,
                     configs: _Optional[_Dict[str, object]] = None, *, timeout_ms: int = 30000,
                     exist_ok: bool = False) -> None:
        """Create a topic and wait until every partition has a leader (-1: the broker's
        default). Raises TopicAlreadyExists unless exist_ok."""
        try:
            self._create_topic(topic, partitions, replication_factor, configs, timeout_ms)
        except _kafkette.Error as e:
            if not (exist_ok and getattr(e, "code", None) == _TOPIC_ALREADY_EXISTS):
                raise

    def delete_topic(self, topic: str, *, timeout_ms: int = 30000, missing_ok: bool = False) -> None:
        """Delete a topic. Raises UnknownTopicOrPartition when there is none, unless missing_ok."""
        try:
            self._delete_topic(topic, timeout_ms)
        except _kafkette.Error as e:
            if not (missing_ok and getattr(e, "code", None) == _UNKNOWN_TOPIC):
                raise

    def create_partitions(self, topic: str, total_count: int, *, timeout_ms: int = 30000) -> None:
        """Grow a topic to total_count partitions and wait until each has a leader."""
        self._create_partitions(topic, total_count, timeout_ms)

    def delete_records(self, topic: str, partition: int, before_offset: int, *, timeout_ms: int = 30000) -> int:
        """Delete a partition's records before before_offset (-1: all); returns the new log start."""
        return self._delete_records(topic, partition, before_offset, timeout_ms)

    # ---- offsets -----------------------------------------------------------------------
    def watermarks(self, topic: str, partition: int) -> Watermarks:
        """A partition's log start offset and high watermark."""
        return Watermarks(*self._watermarks(topic, partition))

    def offsets_for_times(self, topic: str, timestamp_ms: int,
                          partitions: _Optional[_Iterable[int]] = None) -> _Dict[int, OffsetAndTimestamp]:
        """{partition: the first record at or after timestamp_ms (ms since the epoch)}, for the
        partitions given (all of the topic's when None)."""
        parts = range(self.partition_count(topic)) if partitions is None else list(partitions)
        result = {}
        for p in parts:
            offset, ts = self._offset_for_time(topic, p, timestamp_ms)
            result[p] = OffsetAndTimestamp(_opt(offset), _opt(ts) if offset >= 0 else None)
        return result

    # ---- groups ------------------------------------------------------------------------
    def list_groups(self) -> _List[GroupListing]:
        """Every group of the cluster, sorted by id."""
        return [GroupListing(*g) for g in self._list_groups()]

    def describe_group(self, group_id: str) -> GroupDescription:
        """A group's state, protocol and members with their assignments (state "Dead" and no
        members for a group that does not exist)."""
        gid, state, ptype, protocol, coordinator, members = self._describe_group(group_id)
        return GroupDescription(
            gid, state, ptype, protocol, coordinator,
            [
                MemberDescription(mid, iid, cid, host, [TopicPartition(tp) for tp in assigned])
                for mid, iid, cid, host, assigned, _err in members
            ],
        )

    def describe_groups(self, group_ids: _Iterable[str]) -> _List[GroupDescription]:
        """describe_group for each id, in order."""
        return [self.describe_group(g) for g in ([group_ids] if isinstance(group_ids, str) else group_ids)]

    def group_lag(self, group_id: str) -> _List[PartitionLag]:
        """The group's committed offset, the high watermark and the lag of every partition it
        has committed for, without joining the group."""
        rows = self._group_lag(group_id)
        return [PartitionLag(t, p, _opt(c), _opt(e), _opt(lag), err) for t, p, c, e, lag, err in rows]

    # ---- configs -----------------------------------------------------------------------
    def describe_configs(self, name: _Union[str, int], resource: str = "topic") -> _Dict[str, ConfigEntry]:
        """{config name: ConfigEntry} of a topic (or of a broker: resource="broker", name its node id)."""
        return {e[0]: ConfigEntry(*e) for e in self._describe_configs(*_resource(resource, name))}

    def alter_configs(self, name: _Union[str, int], configs: _Dict[str, object], resource: str = "topic",
                      *, validate_only: bool = False) -> None:
        """Set configs of a topic or broker (a value of None returns it to its default), leaving
        the others alone. validate_only: check without changing anything."""
        changes = [
            (k, _ALTER_DELETE, None) if v is None else (k, _ALTER_SET, _config_text(v)) for k, v in configs.items()
        ]
        self._alter_configs(*_resource(resource, name), changes, bool(validate_only))
