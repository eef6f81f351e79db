# frozen_string_literal: true

module Kafkette
  # The field names are Python's (kafkette.Admin's results), so #partition and #members are the
  # fields here, not Enumerable#partition / Struct#members (to_h, to_a and == are unaffected).
  # rubocop:disable Lint/StructNewOverride

  # One partition of a topic: its leader (nil when it has none), replicas, in-sync replicas and
  # offsets (nil when the leader could not say).
  PartitionDescription = Struct.new(:partition, :leader, :replicas, :isr, :offline_replicas,
                                    :log_start_offset, :high_watermark)
  # A topic and its partitions (sorted by id).
  TopicDescription = Struct.new(:name, :internal, :partitions)
  # A partition's log start offset (low) and high watermark (high).
  Watermarks = Struct.new(:low, :high)
  # The first record at or after a time (both nil when no record is that recent).
  OffsetAndTimestamp = Struct.new(:offset, :timestamp)
  # A group as ListGroups reports it.
  GroupListing = Struct.new(:group_id, :protocol_type, :state, :type, :coordinator)
  # A member of a group and the partitions assigned to it ([TopicPartition]).
  MemberDescription = Struct.new(:member_id, :group_instance_id, :client_id, :client_host, :assignment)
  # A group: state ("Stable", "Empty", "Dead" for one that does not exist), protocol type, the
  # assignor chosen, its coordinator's node id and its members.
  GroupDescription = Struct.new(:group_id, :state, :protocol_type, :protocol, :coordinator, :members)
  # A group's position in one partition (committed, end and lag are nil when unknown; error is 0
  # or the code of why end is unknown).
  PartitionLag = Struct.new(:topic, :partition, :committed, :end, :lag, :error)
  # One config of a topic or broker; value is nil for a sensitive one.
  ConfigEntry = Struct.new(:name, :value, :source, :read_only, :is_default, :is_sensitive)
  # A (topic, partition) pair, as Admin#describe_group lists a member's assignment.
  TopicPartition = Struct.new(:topic, :partition)
  # rubocop:enable Lint/StructNewOverride

  # One connection to the cluster for administrative calls: topics (list, describe, create,
  # delete, grow, delete records, configs), offsets (watermarks, offsets for times) and consumer
  # groups (list, describe, lag without joining). The same calls, names and results as Python's
  # kafkette.Admin (docs/BINDINGS.md).
  #
  #     Kafkette::Admin.new(["localhost:9092"]) do |admin|
  #       admin.create_topic("events", partitions: 6)
  #       admin.group_lag("page_counter").sum(&:lag)
  #     end
  #
  # Options: the "Every object" table of docs/CONFIGURATION.md, checked by the core.
  class Admin < Client
    RESOURCES = { topic: 2, broker: 4 }.freeze
    ALTER_SET = 0
    ALTER_DELETE = 1
    private_constant :RESOURCES, :ALTER_SET, :ALTER_DELETE

    # With a block: yields the client and closes it afterwards, returning the block's value.
    def self.new(brokers, client_id = "kafkette", **options)
      admin = super(brokers, client_id, options)
      return admin unless block_given?

      begin
        yield admin
      ensure
        admin.close
      end
    end

    # Creates a topic and waits until every partition has a leader (-1: the broker's default).
    # Raises Errors::TopicAlreadyExists unless exist_ok.
    def create_topic(name, partitions: -1, replication_factor: -1, configs: {}, timeout_ms: 30_000, exist_ok: false)
      super(name, partitions: partitions, replication_factor: replication_factor, configs: configs,
                  timeout_ms: timeout_ms)
    rescue Errors::TopicAlreadyExists
      raise unless exist_ok
    end

    # Deletes a topic. Raises Errors::UnknownTopicOrPartition when there is none, unless missing_ok.
    def delete_topic(name, timeout_ms: 30_000, missing_ok: false)
      super(name, timeout_ms: timeout_ms)
    rescue Errors::UnknownTopicOrPartition
      raise unless missing_ok
    end

    # The cluster's topic names, sorted (internal ones only with include_internal).
    def list_topics(include_internal: false)
      _list_topics(include_internal)
    end

    # [TopicDescription] for the topics named (all non-internal topics when nil); a topic that
    # does not exist raises Errors::UnknownTopicOrPartition.
    def describe_topics(topics = nil)
      names = topics.nil? ? nil : Array(topics)
      _describe_topics(names).map do |name, code, internal, partitions|
        raise Errors.build(code, "topic #{name}: #{Native.error_name(code)}") unless code.zero?

        TopicDescription.new(name, internal, partitions.map do |p, leader, replicas, isr, offline, low, high|
          PartitionDescription.new(p, opt(leader), replicas, isr, offline, opt(low), opt(high))
        end)
      end
    end

    # Grows a topic to total_count partitions and waits until each has a leader.
    def create_partitions(topic, total_count, timeout_ms: 30_000)
      _create_partitions(topic, total_count, timeout_ms)
      nil
    end

    # A partition's log start offset and high watermark.
    def watermarks(topic, partition)
      Watermarks.new(*_watermarks(topic, partition))
    end

    # { partition => OffsetAndTimestamp } of the first record at or after timestamp_ms, for the
    # partitions given (all of the topic's when nil).
    def offsets_for_times(topic, timestamp_ms, partitions: nil)
      parts = partitions.nil? ? (0...partition_count(topic)).to_a : Array(partitions)
      parts.to_h do |p|
        offset, ts = _offset_for_time(topic, p, timestamp_ms)
        [p, offset.negative? ? OffsetAndTimestamp.new(nil, nil) : OffsetAndTimestamp.new(offset, opt(ts))]
      end
    end

    # [GroupListing] of every group of the cluster, sorted by id.
    def list_groups
      _list_groups.map { |row| GroupListing.new(*row) }
    end

    # A GroupDescription: state, protocol and members with their assignments (state "Dead" and no
    # members for a group that does not exist).
    def describe_group(group_id)
      id, state, type, protocol, coordinator, members = _describe_group(group_id)
      GroupDescription.new(id, state, type, protocol, coordinator, members.map do |mid, iid, cid, host, assigned|
        MemberDescription.new(mid, iid, cid, host, assigned.map { |t, p| TopicPartition.new(t, p) })
      end)
    end

    # describe_group for each id, in order.
    def describe_groups(group_ids)
      Array(group_ids).map { |id| describe_group(id) }
    end

    # [PartitionLag]: the group's committed offset, the high watermark and the lag of every
    # partition it has committed for, without joining the group.
    def group_lag(group_id)
      _group_lag(group_id).map { |t, p, c, e, lag, err| PartitionLag.new(t, p, opt(c), opt(e), opt(lag), err) }
    end

    # { config name => ConfigEntry } of a topic (or of a broker: resource: :broker, name its node id).
    def describe_configs(name, resource: :topic)
      _describe_configs(resource_type(resource), name.to_s).to_h { |row| [row[0], ConfigEntry.new(*row)] }
    end

    # Sets configs of a topic or broker (a nil value returns it to its default), leaving the
    # others alone. validate_only: check without changing anything.
    def alter_configs(name, configs, resource: :topic, validate_only: false)
      changes = configs.map do |k, v|
        v.nil? ? [k.to_s, ALTER_DELETE, nil] : [k.to_s, ALTER_SET, v.to_s]
      end
      _alter_configs(resource_type(resource), name.to_s, changes, validate_only)
      nil
    end

    private

    def opt(value)
      value.negative? ? nil : value
    end

    def resource_type(resource)
      RESOURCES.fetch(resource.to_sym) do
        raise ArgumentError, "resource must be :topic or :broker, not #{resource.inspect}"
      end
    end
  end
end
