# frozen_string_literal: true

# Kafkette::Admin against the real broker: the same checks as tests/python/test_admin.py (topics,
# partitions, records, offsets for times, configs, groups with members and lag, errors, close).
require_relative "test_helper"

class TestAdmin < Minitest::Test
  include KafketteTest

  def setup
    @admin = Kafkette::Admin.new(BROKERS, "rb-test-admin")
  end

  def teardown
    @admin.close
  end

  def fill(topic, partition, count)
    producer = Kafkette::Producer.new(BROKERS, "rb-test-admin-producer")
    producer.send_messages(Array.new(count) { |i| Kafkette::MessageToSend.new(topic, "v#{i}", nil, partition: partition) })
  ensure
    producer&.close
  end

  def test_topics_round_trip
    name = unique_topic("admin")
    @admin.create_topic(name, partitions: 2, configs: { "retention.ms" => 3_600_000 })
    @admin.create_topic(name, partitions: 2, exist_ok: true)
    assert_raises(Kafkette::Errors::TopicAlreadyExists) { @admin.create_topic(name, partitions: 2) }
    assert_includes @admin.list_topics, name
    refute_includes @admin.list_topics, "__consumer_offsets"
    assert_equal({ name => 2 }, @admin.partition_counts([name]))
    desc, = @admin.describe_topics([name])
    assert_kind_of Kafkette::TopicDescription, desc
    assert_equal [name, false], [desc.name, desc.internal]
    assert_equal [0, 1], desc.partitions.map(&:partition)
    assert(desc.partitions.all? { |p| p.isr.include?(p.leader) && p.high_watermark.zero? })

    @admin.create_partitions(name, 3)
    assert_equal 3, @admin.partition_count(name)
    assert_raises(Kafkette::Errors::InvalidPartitions) { @admin.create_partitions(name, 3) }

    wait_until_led(name, 3)
    fill(name, 1, 10)
    assert_equal Kafkette::Watermarks.new(0, 10), @admin.watermarks(name, 1)
    assert_equal 4, @admin.delete_records(name, 1, 4)
    assert_equal 4, @admin.watermarks(name, 1).low

    @admin.delete_topic(name)
    @admin.delete_topic(name, missing_ok: true)
    assert_raises(Kafkette::Errors::UnknownTopicOrPartition) { @admin.delete_topic(name) }
  end

  def test_missing_topic_raises
    missing = unique_topic("missing")
    assert_raises(Kafkette::Errors::UnknownTopicOrPartition) { @admin.describe_topics([missing]) }
    assert_raises(Kafkette::Errors::UnknownTopicOrPartition) { @admin.partition_count(missing) }
  end

  def test_offsets_for_times
    name = create_topic("times", partitions: 2)
    before = (Time.now.to_f * 1000).to_i - 1000
    fill(name, 0, 3)
    found = @admin.offsets_for_times(name, before)
    assert_equal [0, 1], found.keys
    assert_equal 0, found[0].offset
    assert_operator found[0].timestamp, :>=, before
    assert_equal Kafkette::OffsetAndTimestamp.new(nil, nil), found[1]
    later = (Time.now.to_f * 1000).to_i + 60_000
    assert_nil @admin.offsets_for_times(name, later, partitions: [0])[0].offset
  end

  # A topic config change reaches every broker a moment after the call returns.
  def eventually(timeout = 10)
    deadline = now + timeout
    sleep 0.1 until yield || now > deadline
    assert yield
  end

  def test_configs
    name = create_topic("configs")
    @admin.alter_configs(name, { "retention.ms" => 1_234_567, "cleanup.policy" => "compact" })
    eventually { @admin.describe_configs(name)["retention.ms"].value == "1234567" }
    entry = @admin.describe_configs(name)["retention.ms"]
    assert_kind_of Kafkette::ConfigEntry, entry
    assert_equal ["1234567", "DYNAMIC_TOPIC_CONFIG", false], [entry.value, entry.source, entry.is_default]
    @admin.alter_configs(name, { "retention.ms" => nil })
    eventually { @admin.describe_configs(name)["retention.ms"].is_default }
    assert_equal "compact", @admin.describe_configs(name)["cleanup.policy"].value
    @admin.alter_configs(name, { "retention.ms" => 1 }, validate_only: true)
    assert @admin.describe_configs(name)["retention.ms"].is_default
    assert_raises(ArgumentError) { @admin.describe_configs(name, resource: :cluster) }
    broker = @admin.describe_topics([name])[0].partitions[0].leader
    assert_includes @admin.describe_configs(broker, resource: :broker), "log.retention.hours"
  end

  def test_groups_describe_and_lag
    name = create_topic("groups", partitions: 2)
    fill(name, 0, 5)
    fill(name, 1, 2)
    group_id = "rb-admin-group-#{SecureRandom.hex(4)}"
    group = Kafkette::ConsumerGroup.new(group_id, BROKERS, name, auto_commit_interval_ms: 0, max_wait_ms: 100)
    seen = 0
    deadline = now + 20
    while seen < 7 && now < deadline
      group.fetch(commit: false) do |partition, messages|
        seen += messages.size
        group.commit(partition, messages.first.offset + 1) unless messages.empty? # leaves lag behind
      end
    end
    assert_equal 7, seen
    desc = @admin.describe_group(group_id)
    assert_equal [group_id, "Stable", "consumer", "range"], [desc.group_id, desc.state, desc.protocol_type, desc.protocol]
    assert_equal 1, desc.members.size
    member = desc.members.first
    assert member.client_id && member.client_host
    assert_equal [[name, 0], [name, 1]], member.assignment.map(&:to_a).sort
    assert_includes @admin.list_groups.map(&:group_id), group_id
    assert_equal member.member_id, @admin.describe_groups([group_id]).first.members.first.member_id
    group.close
    lags = @admin.group_lag(group_id).map { |l| [l.topic, l.partition, l.committed, l.end, l.lag] }
    assert_equal [[name, 0, 1, 5, 4], [name, 1, 1, 2, 1]], lags
    assert_equal "Empty", @admin.describe_group(group_id).state
    assert_equal "Dead", @admin.describe_group("rb-no-such-group-#{SecureRandom.hex(8)}").state
  end

  def test_options_errors_block_and_close
    assert_raises(Kafkette::Errors::InvalidArgumentError) { Kafkette::Admin.new(BROKERS, request_timeout_ms: -5) }
    assert_raises(Kafkette::Errors::InvalidArgumentError) { Kafkette::Admin.new(BROKERS, no_such_option: 1) }
    kept = nil
    count = Kafkette::Admin.new(BROKERS) do |admin|
      kept = admin
      assert_equal "kafkette", admin.client_id
      admin.list_topics.size
    end
    assert_kind_of Integer, count
    assert kept.closed?
    assert_raises(Kafkette::Errors::ClosedError) { kept.list_topics }
    kept.close
    assert_raises(Kafkette::Errors::ConnectionFailedError) do
      Kafkette::Admin.new(["127.0.0.1:1"], connect_timeout_ms: 500, &:list_topics)
    end
  end
end
